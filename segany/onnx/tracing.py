"""Running torch's TorchScript ONNX exporter on a graph module (`dynamo=False`: the dynamo exporter cannot export
SAM's decoder), with autograd on for the plain code paths but nothing saved for a backward pass."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import nn
from torch.jit._trace import TracerWarning

DEFAULT_OPSET = 17
# Prompt length of the decoders' example inputs (points plus the padding point); the exported graphs keep the
# number of points dynamic.
EXAMPLE_POINTS = 3


@contextlib.contextmanager
def tracing_context() -> Iterator[None]:
    """Autograd on, but nothing kept for a backward pass; the exporter's expected warnings silenced.

    The encoder's inference-only attention writes its bias with `torch.add(..., out=)`, which the TorchScript
    exporter cannot translate; while gradients are recorded the model takes its plain path instead. No
    backward pass ever runs, so the tensors autograd would save are dropped at once (saved-tensor hooks), and
    tracing needs no more memory than inference.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=TracerWarning)
        warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export.*")
        warnings.filterwarnings("ignore", message=".*feature will be removed.*", category=DeprecationWarning)
        with torch.enable_grad(), torch.autograd.graph.saved_tensors_hooks(_drop_saved, _never_unpacked):
            yield


def _drop_saved(tensor: torch.Tensor) -> None:
    return None


def _never_unpacked(packed: None) -> torch.Tensor:
    raise RuntimeError("no backward pass runs while exporting")


def torch_export(
    module: nn.Module,
    args: tuple[torch.Tensor, ...],
    path: Path,
    opset: int,
    input_names: tuple[str, ...],
    output_names: tuple[str, ...],
    dynamic_axes: dict[str, dict[int, str]],
) -> None:
    with tracing_context():
        torch.onnx.export(
            module,
            args,
            str(path),
            dynamo=False,
            opset_version=opset,
            input_names=list(input_names),
            output_names=list(output_names),
            dynamic_axes=dynamic_axes,
            do_constant_folding=True,
        )


__all__ = ["DEFAULT_OPSET", "EXAMPLE_POINTS", "torch_export", "tracing_context"]

"""Export of the cached decoder pair: `decoder_prep.onnx` (once per image) and one per-prompt graph, in the exact
low-rank form (`decoder_lowrank.onnx`) or the dense form (`decoder_dense.onnx`); see `segany.onnx.contract`.

`gelu="tanh"` writes the per-prompt graph with the upscaling's two GELUs in their tanh form (max |difference|
from the exact erf form ~2e-4 per activation). It exists for onnxruntime-web: its WebAssembly erf GELU is
scalar and was about a fifth of a vit_b prompt's decode there (benchmarks/MEASUREMENTS.md, "browser GELU").
At opset >= 20 the tanh form is one ONNX `Gelu` node; below it the exporter writes it out in elementary ops.
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch
from torch import nn

from segany.modeling.sam import Sam
from segany.onnx.contract import (
    DECODER_DENSE_FILE,
    DECODER_LOWRANK_FILE,
    DECODER_LOWRANK_PROMPT_INPUTS,
    DECODER_LOWRES_OUTPUTS,
    DECODER_PREP_FILE,
    DECODER_PREP_INPUTS,
    image_term_names,
)
from segany.onnx.dense_decoder import DenseDecoderGraph, DenseDecoderPrepGraph, prefers_dense_decoder
from segany.onnx.tracing import DEFAULT_OPSET, EXAMPLE_POINTS, torch_export
from segany.onnx.wrappers import DecoderPrepGraph, LowRankDecoderGraph

DECODER_FORMS = ("auto", "lowrank", "dense")
GELU_FORMS = ("exact", "tanh")


def export_cached_decoder(
    sam: Sam, out_dir: str | Path, opset: int = DEFAULT_OPSET, form: str = "auto", gelu: str = "exact"
) -> tuple[str, Path, Path]:
    """The cached decoder pair in `out_dir`: `decoder_prep.onnx` and the per-prompt graph in the low-rank form
    (`decoder_lowrank.onnx`) or the dense form (`decoder_dense.onnx`); "auto" takes the form expected to be
    faster for this decoder's width (`prefers_dense_decoder`). `gelu`: "exact" (erf, the model's own) or
    "tanh" (the upscaling's GELUs approximated, see the module docstring). Returns (per-prompt role, prep
    path, path)."""
    if form not in DECODER_FORMS:
        raise ValueError(f"decoder form must be one of {DECODER_FORMS}, got {form!r}")
    if gelu not in GELU_FORMS:
        raise ValueError(f"gelu must be one of {GELU_FORMS}, got {gelu!r}")
    if gelu == "tanh":
        sam = with_tanh_upscaling_gelu(sam)
    out = Path(out_dir)
    if form == "dense" or (form == "auto" and prefers_dense_decoder(sam)):
        prep, graph = export_dense_decoder(sam, out / DECODER_PREP_FILE, out / DECODER_DENSE_FILE, opset)
        return "decoder_dense", prep, graph
    prep, graph = export_low_rank_decoder(sam, out / DECODER_PREP_FILE, out / DECODER_LOWRANK_FILE, opset)
    return "decoder_lowrank", prep, graph


def export_dense_decoder(
    sam: Sam, prep_path: str | Path, decoder_path: str | Path, opset: int = DEFAULT_OPSET
) -> tuple[Path, Path]:
    """`decoder_prep.onnx` (once per image) and `decoder_dense.onnx` (per prompt without mask input)."""
    prep = DenseDecoderPrepGraph(sam)
    return _export_cached_pair(prep, DenseDecoderGraph(sam), sam, Path(prep_path), Path(decoder_path), opset)


def export_low_rank_decoder(
    sam: Sam, prep_path: str | Path, decoder_path: str | Path, opset: int = DEFAULT_OPSET
) -> tuple[Path, Path]:
    """`decoder_prep.onnx` (once per image) and `decoder_lowrank.onnx` (per prompt without mask input)."""
    prep = DecoderPrepGraph(sam)
    return _export_cached_pair(
        prep, LowRankDecoderGraph(sam), sam, Path(prep_path), Path(decoder_path), opset
    )


def with_tanh_upscaling_gelu(sam: Sam) -> Sam:
    """A Sam sharing `sam`'s encoders, with a copy of its mask decoder whose upscaling GELUs use the tanh form.

    A copy, not a switch flipped on `sam`: a server exports in a background thread while the same model
    answers prompts, which must keep the exact GELU.
    """
    decoder = copy.deepcopy(sam.mask_decoder)
    for module in decoder.output_upscaling:
        if isinstance(module, nn.GELU):
            module.approximate = "tanh"
    mean, std = sam.pixel_mean, sam.pixel_std
    assert isinstance(mean, torch.Tensor) and isinstance(std, torch.Tensor)
    return Sam(
        sam.image_encoder, sam.prompt_encoder, decoder, mean.flatten().tolist(), std.flatten().tolist()
    )


def _export_cached_pair(
    prep: nn.Module, graph: nn.Module, sam: Sam, prep_path: Path, decoder_path: Path, opset: int
) -> tuple[Path, Path]:
    grid_h, grid_w = sam.prompt_encoder.image_embedding_size
    generator = torch.Generator().manual_seed(0)
    embedding = torch.randn(1, sam.prompt_encoder.embed_dim, grid_h, grid_w, generator=generator)
    with torch.no_grad():
        terms = prep(embedding)
    names = image_term_names(len(terms))
    torch_export(prep, (embedding,), prep_path, opset, DECODER_PREP_INPUTS, names, {})
    args = (
        torch.rand(1, EXAMPLE_POINTS, 2, generator=generator) * sam.image_size,
        torch.tensor([[1.0, 0.0, -1.0]]),
        *terms,
    )
    dynamic_axes = {"point_coords": {1: "num_points"}, "point_labels": {1: "num_points"}}
    inputs = (*DECODER_LOWRANK_PROMPT_INPUTS, *names)
    torch_export(graph, args, decoder_path, opset, inputs, DECODER_LOWRES_OUTPUTS, dynamic_axes)
    return prep_path, decoder_path


__all__ = [
    "DECODER_FORMS",
    "GELU_FORMS",
    "export_cached_decoder",
    "export_dense_decoder",
    "export_low_rank_decoder",
    "with_tanh_upscaling_gelu",
]

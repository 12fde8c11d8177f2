"""Loading weights into a SAM: official `.pth`, `.safetensors`, Hugging Face `SamModel` files.

Loading is strict by default and says exactly what did not fit. Checkpoints made for another input size
load too: the absolute position embedding and the relative-position tables are resized to the model.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from segany.errors import CheckpointError

StateDict = dict[str, torch.Tensor]

# Wrappers that training scripts put around a state dict.
_NESTED_KEYS = ("model", "state_dict", "module")


class CheckpointMismatchError(ValueError):
    """A state dict does not fit the model; lists missing, unexpected and mis-shaped keys."""

    def __init__(
        self,
        missing: list[str],
        unexpected: list[str],
        mismatched: list[tuple[str, tuple[int, ...], tuple[int, ...]]],
        source: str = "checkpoint",
    ) -> None:
        self.missing = missing
        self.unexpected = unexpected
        self.mismatched = mismatched
        lines = [f"{source} does not match the model (strict loading):"]
        if missing:
            lines.append(f"  missing keys ({len(missing)}): " + _preview(missing))
        if unexpected:
            lines.append(f"  unexpected keys ({len(unexpected)}): " + _preview(unexpected))
        if mismatched:
            shown = [f"{k} checkpoint {tuple(a)} vs model {tuple(b)}" for k, a, b in mismatched]
            lines.append(f"  mis-shaped keys ({len(mismatched)}): " + _preview(shown))
        lines.append(
            "  (is this the right model size? vit_b / vit_l / vit_h checkpoints only fit their own size)"
        )
        super().__init__("\n".join(lines))


def _preview(items: list[str], limit: int = 12) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f", ... (+{len(items) - limit} more)" if len(items) > limit else "")


def read_state_dict(path: str | Path, map_location: str | torch.device = "cpu") -> StateDict:
    """Read tensors from `.pth`/`.pt`/`.bin` (torch, weights only), `.safetensors`, or a Hugging Face folder.

    Hugging Face `SamModel` layouts are converted to the official layout.
    """
    path = Path(path)
    if path.is_dir():
        # A Hugging Face `save_pretrained` folder.
        candidates = [path / name for name in ("model.safetensors", "pytorch_model.bin")]
        found = [candidate for candidate in candidates if candidate.is_file()]
        if not found:
            raise FileNotFoundError(f"{path} is a folder without model.safetensors or pytorch_model.bin")
        path = found[0]
    if not path.is_file():
        raise FileNotFoundError(
            f"checkpoint not found: {path} (download an official one with `segany weights download vit_b`, "
            "or pass the path of a .pth / .safetensors file)"
        )
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            state: Mapping[str, object] = load_file(str(path), device=str(map_location))
        except Exception as error:  # SafetensorError (not a ValueError) for corrupt / truncated files
            raise ValueError(f"could not read checkpoint {path}: {error}") from error
    else:
        try:
            state = torch.load(path, map_location=map_location, weights_only=True)
        except Exception as error:  # torch raises several types for corrupt / non-weights files
            raise ValueError(f"could not read checkpoint {path}: {error}") from error
    state = _unwrap(state, path)
    from segany.hf_checkpoint import convert_hf_state_dict, is_hf_state_dict

    if is_hf_state_dict(state):
        state = convert_hf_state_dict(state)
    return state


def _unwrap(state: Mapping[str, object], path: Path) -> StateDict:
    if not isinstance(state, Mapping):
        raise CheckpointError(f"checkpoint {path} holds a {type(state).__name__}, expected a dict of tensors")
    for key in _NESTED_KEYS:
        inner = state.get(key)
        if isinstance(inner, Mapping) and inner and all(isinstance(v, torch.Tensor) for v in inner.values()):
            state = inner
            break
    tensors = {k: v for k, v in state.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise ValueError(f"checkpoint {path} holds no tensors")
    # DistributedDataParallel prefixes every key with "module.".
    if all(k.startswith("module.") for k in tensors):
        tensors = {k[len("module.") :]: v for k, v in tensors.items()}
    return tensors


def adapt_to_model(state: StateDict, model: nn.Module) -> StateDict:
    """Resize position tables of a checkpoint made for another input size to the model's shapes."""
    target = model.state_dict()
    adapted = dict(state)
    for key, tensor in state.items():
        if key not in target or target[key].shape == tensor.shape:
            continue
        wanted = target[key].shape
        if key.endswith("pos_embed") and tensor.ndim == 4 and tensor.shape[-1] == wanted[-1]:
            # 1 x h x w x C -> 1 x H x W x C
            grid = F.interpolate(tensor.permute(0, 3, 1, 2).float(), size=tuple(wanted[1:3]), mode="bicubic")
            adapted[key] = grid.permute(0, 2, 3, 1).to(tensor.dtype)
        elif key.endswith(("rel_pos_h", "rel_pos_w")) and tensor.shape[1] == wanted[1]:
            # L x C -> L' x C, linear along the offset axis
            table = F.interpolate(tensor.T[None].float(), size=wanted[0], mode="linear")
            adapted[key] = table[0].T.to(tensor.dtype)
    return adapted


def load_state_dict_into(
    model: nn.Module, state: StateDict, strict: bool = True, source: str = "checkpoint"
) -> None:
    """Copy `state` into `model`; strict mode raises CheckpointMismatchError listing every misfit."""
    state = adapt_to_model(state, model)
    target = model.state_dict()
    missing = sorted(k for k in target if k not in state)
    unexpected = sorted(k for k in state if k not in target)
    mismatched = [
        (k, tuple(state[k].shape), tuple(target[k].shape))
        for k in sorted(state)
        if k in target and state[k].shape != target[k].shape
    ]
    if strict and (missing or unexpected or mismatched):
        raise CheckpointMismatchError(missing, unexpected, mismatched, source)
    usable = {k: v for k, v in state.items() if k in target and v.shape == target[k].shape}
    model.load_state_dict(usable, strict=False)


def load_checkpoint(model: nn.Module, path: str | Path, strict: bool = True) -> None:
    """Read a checkpoint file and load it into `model` (strict by default)."""
    state = read_state_dict(path)
    load_state_dict_into(model, state, strict=strict, source=f"checkpoint {path}")

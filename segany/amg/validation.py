"""Argument checks shared by the everything-mode helpers; each raises an error that names the argument."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch


def check_bool_tensor(
    value: object, name: str, *, min_dims: int, max_dims: int | None = None
) -> torch.Tensor:
    """Return ``value`` if it is a bool ``torch.Tensor`` with min_dims..max_dims dimensions, else raise."""
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of dtype bool, got {type(value).__name__}")
    if value.dtype != torch.bool:
        raise TypeError(
            f"{name} must have dtype torch.bool (threshold it first, e.g. logits > 0), got {value.dtype}"
        )
    upper = "any" if max_dims is None else str(max_dims)
    if value.dim() < min_dims or (max_dims is not None and value.dim() > max_dims):
        raise ValueError(
            f"{name} must have {min_dims} to {upper} dimensions (... x H x W), got shape {tuple(value.shape)}"
        )
    return value


def check_bool_array(value: object, name: str) -> np.ndarray:
    """Return ``value`` if it is a 2-D bool ``np.ndarray`` (H x W), else raise."""
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{name} must be an H x W numpy array of dtype bool, got {type(value).__name__}")
    if value.dtype != np.bool_:
        raise TypeError(f"{name} must have dtype bool (threshold it first, e.g. mask > 0), got {value.dtype}")
    if value.ndim != 2:
        raise ValueError(f"{name} must be H x W (2 dimensions), got shape {value.shape}")
    return value


def check_xyxy_box(box: object, name: str) -> tuple[int, int, int, int]:
    """Return an integer XYXY box ``(x0, y0, x1, y1)`` with ``x0 <= x1`` and ``y0 <= y1``, else raise."""
    if isinstance(box, torch.Tensor | np.ndarray):
        box = box.tolist()
    if not isinstance(box, Sequence) or len(box) != 4:
        raise ValueError(f"{name} must be 4 integers XYXY (x0, y0, x1, y1) in pixels, got {box!r}")
    if not all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in box):
        raise TypeError(f"{name} must hold integers XYXY (x0, y0, x1, y1), got {box!r}")
    x0, y0, x1, y1 = (int(v) for v in box)
    if x1 < x0 or y1 < y0:
        raise ValueError(f"{name} must satisfy x0 <= x1 and y0 <= y1 (XYXY), got {box!r}")
    return x0, y0, x1, y1


def check_positive_int(value: object, name: str, *, minimum: int = 1) -> int:
    """Return ``value`` as ``int`` if it is an integer >= ``minimum``, else raise."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be an integer >= {minimum}, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    return int(value)


def check_uncompressed_rle(rle: object, name: str) -> tuple[int, int, np.ndarray]:
    """Return ``(h, w, counts)`` (counts as an int64 array) of an uncompressed RLE, else raise.

    The RLE is ``{"size": [h, w], "counts": [int, ...]}`` with non-negative runs summing to ``h * w``.
    """
    if not isinstance(rle, dict) or "size" not in rle or "counts" not in rle:
        raise TypeError(f"{name} must be a dict with keys 'size' and 'counts', got {type(rle).__name__}")
    size = rle["size"]
    if not isinstance(size, Sequence) or len(size) != 2:
        raise ValueError(f"{name}['size'] must be [h, w], got {size!r}")
    h, w = (check_positive_int(v, f"{name}['size']", minimum=0) for v in size)
    counts = rle["counts"]
    if isinstance(counts, str | bytes):
        raise TypeError(
            f"{name}['counts'] must be a list of run lengths (uncompressed RLE), got compressed "
            f"{type(counts).__name__}; decode COCO compressed RLE with coco_rle_to_mask"
        )
    runs = np.asarray(counts)
    if runs.ndim != 1 or (runs.size > 0 and runs.dtype.kind not in "iu"):
        raise TypeError(f"{name}['counts'] must be a flat list of integer run lengths, got {counts!r:.80}")
    runs = runs.astype(np.int64)
    if (runs < 0).any() or int(runs.sum()) != h * w:
        raise ValueError(
            f"{name}['counts'] must be non-negative run lengths summing to h * w = {h * w}, "
            f"got {runs.size} runs summing to {int(runs.sum())}"
        )
    return h, w, runs


def check_last_dim(value: object, name: str, size: int, form: str) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor of shape ... x {size} ({form}), got {type(value).__name__}"
        )
    if value.dim() == 0 or value.shape[-1] != size:
        raise ValueError(f"{name} must have shape ... x {size} ({form}), got {tuple(value.shape)}")
    return value

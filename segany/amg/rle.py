"""Run-length encoding (RLE) of binary masks in the COCO layout.

An *uncompressed* RLE is ``{"size": [h, w], "counts": [n0, n1, n2, ...]}``: the mask is read in column-major
(Fortran) order, ``n0`` is the length of the first run of zeros (0 when the first pixel is set), then runs
alternate ones, zeros, ... and sum to ``h * w``. A *COCO compressed* RLE has the same ``size`` and ``counts``
as the ASCII string pycocotools writes (``str`` here, so it serialises to JSON).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch
from pycocotools import mask as coco_mask

from segany.amg.validation import check_bool_tensor, check_uncompressed_rle


def masks_to_rle(masks: torch.Tensor) -> list[dict[str, Any]]:
    """Encode a batch of masks as uncompressed RLEs.

    Args:
        masks: B x H x W bool tensor (any device).

    Returns:
        B dicts ``{"size": [H, W], "counts": list[int]}`` (column-major runs, starting with a run of zeros),
        the layout ``pycocotools.mask.frPyObjects`` accepts.
    """
    check_bool_tensor(masks, "masks", min_dims=3, max_dims=3)
    b, h, w = masks.shape
    n_pixels = h * w
    if b == 0:
        return []
    if n_pixels == 0:
        return [{"size": [h, w], "counts": [0]} for _ in range(b)]
    flat = masks.transpose(1, 2).reshape(b, n_pixels)  # B x (W*H), column-major pixel order
    changed = flat[:, 1:] != flat[:, :-1]  # B x (W*H - 1): True where pixel k+1 differs from pixel k
    mask_idx, pixel_idx = changed.nonzero(as_tuple=True)  # sorted by mask, then by pixel
    run_starts = (pixel_idx + 1).cpu().numpy()
    per_mask = np.bincount(mask_idx.cpu().numpy(), minlength=b)
    first_is_one = flat[:, 0].cpu().numpy()

    out: list[dict[str, Any]] = []
    for i, starts in enumerate(np.split(run_starts, np.cumsum(per_mask)[:-1])):
        runs = np.diff(np.concatenate(([0], starts, [n_pixels]))).tolist()
        counts = [0, *runs] if first_is_one[i] else runs
        out.append({"size": [h, w], "counts": counts})
    return out


def rle_to_mask(rle: dict[str, Any]) -> np.ndarray:
    """Decode an uncompressed RLE (see module docstring) into an H x W bool numpy array (C order)."""
    h, w, counts = check_uncompressed_rle(rle, "rle")
    values = (np.arange(counts.size) % 2).astype(bool)  # runs alternate 0, 1, 0, ...
    column_major = np.repeat(values, counts)  # (W*H,)
    return np.ascontiguousarray(column_major.reshape(w, h).T)


def area_from_rle(rle: dict[str, Any]) -> int:
    """Number of set pixels of an uncompressed RLE (the sum of its odd-position runs)."""
    _, _, counts = check_uncompressed_rle(rle, "rle")
    return int(counts[1::2].sum())


def coco_encode_rle(rle: dict[str, Any]) -> dict[str, Any]:
    """Compress an uncompressed RLE into COCO's RLE: ``{"size": [h, w], "counts": str}``.

    The ``counts`` string is byte-identical to ``pycocotools.mask.encode`` of the same mask (as UTF-8 text).
    """
    h, w, counts = check_uncompressed_rle(rle, "rle")
    compressed = coco_mask.frPyObjects({"size": [h, w], "counts": counts.tolist()}, h, w)
    return {"size": [h, w], "counts": compressed["counts"].decode("utf-8")}


def coco_rle_to_mask(rle: dict[str, Any]) -> np.ndarray:
    """Decode a COCO compressed RLE (``counts`` as ``str`` or ``bytes``) into an H x W bool numpy array."""
    if not isinstance(rle, dict) or "size" not in rle or "counts" not in rle:
        raise TypeError(f"rle must be a dict with keys 'size' and 'counts', got {type(rle).__name__}")
    counts = rle["counts"]
    if not isinstance(counts, str | bytes):
        raise TypeError(
            f"rle['counts'] must be a COCO compressed str or bytes, got {type(counts).__name__};"
            " decode uncompressed RLE with rle_to_mask"
        )
    h, w = (int(v) for v in rle["size"])
    encoded = {"size": [h, w], "counts": counts.encode("utf-8") if isinstance(counts, str) else counts}
    with warnings.catch_warnings():
        # pycocotools' Cython decoder trips a NumPy 2 "__array__ ... copy keyword" deprecation on every call.
        warnings.filterwarnings("ignore", message=".*copy keyword", category=DeprecationWarning)
        decoded = coco_mask.decode(encoded)  # H x W uint8, Fortran order
    return np.ascontiguousarray(decoded.astype(bool))

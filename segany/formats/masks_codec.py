"""Convert a mask between the three forms SAM's automatic mask generator emits.

- binary mask: H x W bool numpy array (``output_mode="binary_mask"``).
- uncompressed RLE: ``{"size": [h, w], "counts": [int, ...]}`` (``"uncompressed_rle"``).
- COCO compressed RLE: ``{"size": [h, w], "counts": str}`` (``"coco_rle"``), as pycocotools writes it.

Both RLE forms run over the mask in column-major (Fortran) order, down each column and then to the next column
on the right, and start with a run of zeros (possibly of length 0); the run lengths sum to ``h * w``.
Compressed RLE is encoded with ``pycocotools.mask.encode``. Decoding is done here in numpy after checking the
run lengths, because pycocotools trusts its input and writes past its buffer on malformed strings.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import cv2
import numpy as np
from pycocotools import mask as coco_mask

Segmentation = np.ndarray | Mapping[str, Any]

OUTPUT_MODES: Final = ("binary_mask", "uncompressed_rle", "coco_rle")


class MaskFormatError(ValueError):
    """A segmentation is not one of the three accepted forms, or is malformed."""


def mask_to_coco_rle(mask: np.ndarray) -> dict[str, Any]:
    """H x W bool mask -> COCO compressed RLE ``{"size": [h, w], "counts": str}``."""
    checked = _check_mask(mask, "mask")
    encoded = coco_mask.encode(np.asfortranarray(checked, dtype=np.uint8))
    return {
        "size": [int(encoded["size"][0]), int(encoded["size"][1])],
        "counts": encoded["counts"].decode("ascii"),
    }


def mask_to_uncompressed_rle(mask: np.ndarray) -> dict[str, Any]:
    """H x W bool mask -> uncompressed RLE ``{"size": [h, w], "counts": [int, ...]}`` (column-major runs)."""
    checked = _check_mask(mask, "mask")
    counts = rle_counts(checked)
    return {"size": [int(checked.shape[0]), int(checked.shape[1])], "counts": counts.tolist()}


def rle_counts(mask: np.ndarray) -> np.ndarray:
    """H x W bool mask -> its uncompressed RLE run lengths as a uint32 array (column-major, background first).

    The binary form the web app's hover answer sends (4 bytes per run, no JSON).
    """
    checked = _check_mask(mask, "mask")
    if checked.size:
        # OpenCV's transpose gives the column-major order ~20x faster than numpy's strided copy of a bool
        # array (a 1500 x 2250 mask: ~1 ms against ~20 ms), which matters for the web app's every hover.
        flat = cv2.transpose(np.ascontiguousarray(checked).view(np.uint8)).reshape(-1)
    else:
        flat = checked.ravel(order="F")
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    edges = np.concatenate([[0], change, [flat.size]])
    counts = np.diff(edges).astype(np.uint32)
    if flat.size and flat[0]:
        counts = np.concatenate([np.zeros(1, np.uint32), counts])  # runs start with background
    return counts


def segmentation_to_mask(
    segmentation: Segmentation, shape: tuple[int, int] | None = None, where: str = "segmentation"
) -> np.ndarray:
    """Any of the three forms -> H x W bool mask (a new array, or ``segmentation`` itself if already bool).

    Args:
        segmentation: bool (or integer, nonzero = inside) H x W array, or an RLE dict (either form).
        shape: expected (H, W); a mismatch raises.
        where: how to name the value in error messages, e.g. "records[3]['segmentation']".
    """
    if isinstance(segmentation, np.ndarray):
        mask = _check_mask(segmentation, where)
    elif isinstance(segmentation, Mapping):
        height, width, runs = rle_runs(segmentation, where)
        values = np.zeros(runs.size, dtype=bool)
        values[1::2] = True
        mask = np.repeat(values, runs).reshape((height, width), order="F")
    else:
        raise TypeError(
            f"{where} must be an H x W bool array or an RLE dict {{'size': [h, w], 'counts': ...}}, "
            f"got {type(segmentation).__name__}"
        )
    if shape is not None and tuple(mask.shape) != tuple(shape):
        raise MaskFormatError(
            f"{where} is {mask.shape[0]}x{mask.shape[1]} (HxW) but the image is {shape[0]}x{shape[1]} (HxW)"
        )
    return mask


def segmentation_to_coco_rle(segmentation: Segmentation, where: str = "segmentation") -> dict[str, Any]:
    """Any of the three forms -> COCO compressed RLE with ``counts`` as str (a valid one is passed
    through)."""
    if isinstance(segmentation, Mapping) and isinstance(segmentation.get("counts"), (str, bytes)):
        height, width, _ = rle_runs(segmentation, where)  # validates without building the mask
        counts = segmentation["counts"]
        text = counts.decode("ascii") if isinstance(counts, bytes) else counts
        return {"size": [height, width], "counts": text}
    return mask_to_coco_rle(segmentation_to_mask(segmentation, where=where))


def check_output_mode(output_mode: str) -> None:
    """Raise ValueError unless ``output_mode`` is one of ``OUTPUT_MODES``."""
    if output_mode not in OUTPUT_MODES:
        raise ValueError(f"output_mode must be one of {OUTPUT_MODES}, got {output_mode!r}")


def convert_segmentation(segmentation: Segmentation, output_mode: str, where: str = "segmentation") -> Any:
    """Any of the three forms -> the form named by ``output_mode`` (one of ``OUTPUT_MODES``)."""
    check_output_mode(output_mode)
    if output_mode == "binary_mask":
        return segmentation_to_mask(segmentation, where=where)
    if output_mode == "coco_rle":
        return segmentation_to_coco_rle(segmentation, where=where)
    return mask_to_uncompressed_rle(segmentation_to_mask(segmentation, where=where))


def decode_coco_counts(counts: str | bytes, where: str = "counts") -> np.ndarray:
    """COCO compressed counts string -> run lengths (int64 array; the sum is not checked against a size).

    Each run is a signed little-endian base-32 number, 5 bits per character offset by 48 ('0'); bit 0x20 of a
    character means "more characters follow", bit 0x10 of the last one is the sign. From the fourth run on,
    the stored number is the difference to the run two places before.
    """
    text = counts.decode("ascii") if isinstance(counts, bytes) else counts
    runs: list[int] = []
    value = shift = 0
    for position, char in enumerate(text):
        code = ord(char) - 48
        if not 0 <= code < 64:
            raise MaskFormatError(
                f"{where}: character {char!r} at {position} is not valid in COCO RLE counts"
            )
        value |= (code & 0x1F) << shift
        shift += 5
        if code & 0x20:
            continue
        if code & 0x10:
            value -= 1 << shift  # sign-extend
        if len(runs) > 2:
            value += runs[-2]
        if value < 0:
            raise MaskFormatError(f"{where}: run {len(runs)} decodes to a negative length ({value})")
        runs.append(value)
        value = shift = 0
    if shift:
        raise MaskFormatError(f"{where}: counts string ends in the middle of a number")
    return np.asarray(runs, dtype=np.int64)


def rle_runs(rle: Mapping[str, Any], where: str = "segmentation") -> tuple[int, int, np.ndarray]:
    """Validate an RLE dict (either form) and return (h, w, run lengths) without building the mask."""
    height, width = _rle_size(rle, where)
    runs = _rle_counts(rle, where)
    total = int(runs.sum())
    if total != height * width:
        raise MaskFormatError(
            f"{where}: RLE run lengths sum to {total}, "
            f"expected size h * w = {height} * {width} = {height * width}"
        )
    return height, width, runs


def _check_mask(mask: np.ndarray, where: str) -> np.ndarray:
    if not isinstance(mask, np.ndarray):
        raise TypeError(f"{where} must be an H x W numpy array, got {type(mask).__name__}")
    if mask.ndim != 2:
        raise MaskFormatError(f"{where} must be a 2-D H x W mask, got shape {mask.shape}")
    if mask.dtype == np.bool_:
        return mask
    if np.issubdtype(mask.dtype, np.integer):
        result: np.ndarray = mask != 0
        return result
    raise TypeError(
        f"{where} must be a bool (or integer, nonzero = inside) H x W mask, got dtype {mask.dtype} "
        "(threshold float logits or probabilities first)"
    )


def _rle_size(rle: Mapping[str, Any], where: str) -> tuple[int, int]:
    size = rle.get("size")
    if (
        not isinstance(size, (list, tuple))
        or len(size) != 2
        or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 0 for v in size)
    ):
        raise MaskFormatError(f"{where}['size'] must be [h, w] with non-negative ints, got {size!r}")
    return int(size[0]), int(size[1])


def _rle_counts(rle: Mapping[str, Any], where: str) -> np.ndarray:
    if "counts" not in rle:
        raise MaskFormatError(f"{where} is an RLE dict without 'counts' (keys: {sorted(map(str, rle))})")
    counts = rle["counts"]
    if isinstance(counts, (str, bytes)):
        return decode_coco_counts(counts, f"{where}['counts']")
    if isinstance(counts, (list, tuple, np.ndarray)):
        runs = np.asarray(counts)
        if runs.ndim != 1 or (runs.size and not np.issubdtype(runs.dtype, np.integer)):
            raise MaskFormatError(
                f"{where}['counts'] must be a flat list of ints, got {np.asarray(counts).dtype}"
            )
        if runs.size and runs.min() < 0:
            raise MaskFormatError(f"{where}['counts'] has a negative run length ({int(runs.min())})")
        return runs.astype(np.int64)
    raise TypeError(
        f"{where}['counts'] must be a str (COCO RLE) or a list of ints, got {type(counts).__name__}"
    )

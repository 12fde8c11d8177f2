"""Image geometry of SAM, torch-free: the one implementation both predictors, the model and the exporters use.

Frames: the original image is H x W; the model input is S x S (S = image_size, 1024 for SAM) holding the image
resized so its longest side is S (`input_size` = (h, w), top-left aligned, zero padded); the decoder's
low-res logits cover the whole S x S frame at S / 4.

- `resized_shape` / `resize_longest_side`: PIL bilinear to (int(H * s + 0.5), int(W * s + 0.5)), s = S / max(H, W).
- `scale_coords` / `scale_boxes`: (x, y) points and XYXY boxes, original frame -> resized frame.
- `mask_box_xyxy`: the tight box of a binary mask, SAM's convention (inclusive last column / row).
- `upscale_logits`: 256 x 256 logits -> S x S -> crop to the resized image -> original size, bilinear with
  torch's `align_corners=False` convention. OpenCV does it when installed (the torch predictor's own CPU path);
  otherwise Pillow does the upscaling steps (its bilinear filter equals torch's when enlarging) and an exact
  separable numpy resize the shrinking ones (where Pillow would antialias and torch does not).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import numpy as np
from PIL import Image


def resized_shape(height: int, width: int, long_side: int) -> tuple[int, int]:
    """(h, w) after scaling the longest side to `long_side`, rounding half up (the official rule)."""
    scale = long_side / max(height, width)
    return int(height * scale + 0.5), int(width * scale + 0.5)


def resize_longest_side(image: np.ndarray, long_side: int) -> np.ndarray:
    """H x W x 3 uint8 -> h x w x 3 uint8 with max(h, w) == long_side (PIL bilinear)."""
    height, width = resized_shape(image.shape[0], image.shape[1], long_side)
    if (height, width) == image.shape[:2]:
        return image
    return np.asarray(Image.fromarray(image).resize((width, height), Image.Resampling.BILINEAR))


def scale_coords(coords: np.ndarray, original_size: tuple[int, int], long_side: int) -> np.ndarray:
    """... x 2 (x, y) pixels of the original image -> the same points in the resized frame (float64)."""
    old_h, old_w = original_size
    new_h, new_w = resized_shape(old_h, old_w, long_side)
    scaled = np.array(coords, dtype=np.float64, copy=True)
    scaled[..., 0] *= new_w / old_w
    scaled[..., 1] *= new_h / old_h
    return scaled


def scale_boxes(boxes: np.ndarray, original_size: tuple[int, int], long_side: int) -> np.ndarray:
    """... x 4 XYXY pixel boxes of the original image -> N x 4 XYXY boxes in the resized frame (float64)."""
    corners = scale_coords(np.asarray(boxes).reshape(-1, 2, 2), original_size, long_side)
    return corners.reshape(-1, 4)


def _load_cv2() -> Any | None:
    try:
        import cv2
    except ImportError:
        return None
    return cv2


_CV2 = _load_cv2()


def mask_box_xyxy(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """Inclusive XYXY box ``(x0, y0, x1, y1)`` of the set pixels of an H x W bool / uint8 mask; None if empty.

    SAM's convention: ``x1, y1`` are the last set column / row, so one pixel at (3, 5) gives (3, 5, 3, 5).
    """
    if _CV2 is not None and mask.ndim == 2 and mask.dtype in (np.bool_, np.uint8):
        x, y, w, h = _CV2.boundingRect(np.ascontiguousarray(mask).view(np.uint8))
        return None if w == 0 or h == 0 else (x, y, x + w - 1, y + h - 1)
    columns = np.flatnonzero(np.asarray(mask).any(axis=0))
    if columns.size == 0:
        return None
    rows = np.flatnonzero(np.asarray(mask).any(axis=1))
    return int(columns[0]), int(rows[0]), int(columns[-1]), int(rows[-1])


def _checked_maps(
    low_res: np.ndarray, input_size: tuple[int, int], original_size: tuple[int, int]
) -> tuple[np.ndarray, tuple[int, int], tuple[int, int]]:
    """(M x h x w float32 maps, input_size, original_size as int pairs); ValueError for another shape."""
    low_res = np.ascontiguousarray(low_res, dtype=np.float32)
    if low_res.ndim != 3:
        raise ValueError(f"low_res must be M x h x w, got shape {low_res.shape}")
    return low_res, (int(input_size[0]), int(input_size[1])), (int(original_size[0]), int(original_size[1]))


def upscale_logits(
    low_res: np.ndarray,
    image_size: int,
    input_size: tuple[int, int],
    original_size: tuple[int, int],
    use_cv2: bool | None = None,
) -> np.ndarray:
    """M x h x w float32 logits (padded S x S frame) -> M x H x W float32 logits at the original size.

    Args:
        input_size: (h, w) of the resized image inside the S x S input.
        original_size: (H, W) of the original image.
        use_cv2: force (True) or forbid (False) OpenCV; None uses it when it is installed.
    """
    low_res, input_size, original_size = _checked_maps(low_res, input_size, original_size)
    if use_cv2 is None:
        use_cv2 = _CV2 is not None
    if not use_cv2:
        return _upscale_pillow(low_res, image_size, input_size, original_size)
    if _CV2 is None:
        raise ImportError("use_cv2=True needs OpenCV: pip install opencv-python-headless")
    out = np.empty((low_res.shape[0], *original_size), dtype=np.float32)
    for logits, full in zip(low_res, out):
        _cv2_upscale(logits, image_size, input_size, full)
    return out


def upscale_masks(
    low_res: np.ndarray,
    image_size: int,
    input_size: tuple[int, int],
    original_size: tuple[int, int],
    threshold: float,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """M x h x w logits -> M x H x W bool masks (upscaled logit > threshold), as `upscale_logits(...) > t`.

    With OpenCV, one H x W float buffer is reused for all maps and each comparison writes straight into
    ``out`` (M x H x W bool, allocated when None): the float logits of all masks never exist at once.
    """
    low_res, input_size, original_size = _checked_maps(low_res, input_size, original_size)
    if out is None:
        out = np.empty((low_res.shape[0], *original_size), dtype=np.bool_)
    if _CV2 is None:
        np.greater(_upscale_pillow(low_res, image_size, input_size, original_size), threshold, out=out)
        return out
    for index, full in enumerate(_cv2_maps(low_res, image_size, input_size, original_size)):
        np.greater(full, threshold, out=out[index])
    return out


class _ScratchPool:
    """Float32 scratch buffers lent to one caller at a time and kept for the next call.

    A fresh multi-MiB buffer costs a page fault per page on its first write, about as much as the resize
    itself for a photo-sized map (benchmarks/MEASUREMENTS.md, "scratch buffers"). Buffers come back to the pool after use, so memory grows
    with the number of concurrent calls, not with the number of threads; the pool keeps at most `limit_bytes`
    (the smallest buffers leave first), so a one-off huge image does not pin its memory.
    """

    def __init__(self, limit_bytes: int) -> None:
        self._limit_bytes = limit_bytes
        self._free: list[np.ndarray] = []
        self._lock = threading.Lock()

    @contextmanager
    def borrow(self, shape: tuple[int, int]) -> Iterator[np.ndarray]:
        """An uninitialised float32 array of ``shape``, valid inside the ``with`` block only."""
        count = shape[0] * shape[1]
        flat = self._take(count)
        try:
            yield flat[:count].reshape(shape)
        finally:
            self._give_back(flat)

    def _take(self, count: int) -> np.ndarray:
        with self._lock:
            fitting = [i for i, buffer in enumerate(self._free) if buffer.size >= count]
            if fitting:
                return self._free.pop(min(fitting, key=lambda i: self._free[i].size))
        return np.empty(count, dtype=np.float32)

    def _give_back(self, flat: np.ndarray) -> None:
        if flat.nbytes > self._limit_bytes:
            return
        with self._lock:
            self._free.append(flat)
            while sum(buffer.nbytes for buffer in self._free) > self._limit_bytes:
                self._free.pop(min(range(len(self._free)), key=lambda i: self._free[i].size))


_SCRATCH = _ScratchPool(limit_bytes=96 << 20)


def _cv2_maps(
    low_res: np.ndarray, image_size: int, input_size: tuple[int, int], original_size: tuple[int, int]
) -> Iterator[np.ndarray]:
    """Each map upscaled with OpenCV, yielded in ONE reused H x W float32 buffer (read it before the next).

    One map at a time: cv2 keeps the same half-pixel bilinear kernel for any channel count, but planar maps
    avoid an interleave/de-interleave copy of the large output. The buffer is borrowed from the scratch pool
    until the generator finishes.
    """
    with _SCRATCH.borrow(original_size) as full:
        for logits in low_res:
            _cv2_upscale(logits, image_size, input_size, full)
            yield full


def _cv2_upscale(logits: np.ndarray, image_size: int, input_size: tuple[int, int], full: np.ndarray) -> None:
    """One h x w map -> S x S (a scratch map) -> cropped to input_size -> written into ``full`` (H x W)."""
    cv2 = _CV2
    if cv2 is None:
        raise ImportError("this path needs OpenCV: pip install opencv-python-headless")
    rows, cols = _stage1_source(logits.shape, image_size, input_size)
    factor_y, factor_x = image_size // logits.shape[0], image_size // logits.shape[1]
    with _SCRATCH.borrow((rows * factor_y, cols * factor_x)) as stage1:
        source = logits[:rows, :cols]
        cv2.resize(source, (stage1.shape[1], stage1.shape[0]), dst=stage1, interpolation=cv2.INTER_LINEAR)
        cropped = stage1[: input_size[0], : input_size[1]]
        cv2.resize(cropped, (full.shape[1], full.shape[0]), dst=full, interpolation=cv2.INTER_LINEAR)


def _stage1_source(shape: tuple[int, ...], image_size: int, input_size: tuple[int, int]) -> tuple[int, int]:
    """Rows and columns of the h x w map that the S x S upscaling needs inside the input_size crop.

    With an integer factor f = S / h, output row y reads source rows floor((y + 0.5) / f - 0.5) and the next,
    so rows y < input_h need the first ceil(input_h / f) + 1 rows only; resizing just those by f gives the
    same values there (same scale, no clamping before the crop), for (S - input_h) / S less work on a
    landscape photo. Without an integer factor, the whole map.
    """
    height, width = shape[0], shape[1]
    if image_size % height or image_size % width:
        return height, width
    rows = min(height, -(-input_size[0] * height // image_size) + 1)
    cols = min(width, -(-input_size[1] * width // image_size) + 1)
    return rows, cols


@lru_cache(maxsize=32)
def _bilinear_taps(in_size: int, out_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Source indices and weights of an in -> out bilinear resize.

    torch's rule for `align_corners=False`: src = (dst + 0.5) * in / out - 0.5, clamped at 0; the upper
    neighbour is clamped at the last pixel.
    """
    src = (np.arange(out_size, dtype=np.float64) + 0.5) * (in_size / out_size) - 0.5
    src = np.maximum(src, 0.0)
    lower = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
    upper = np.minimum(lower + 1, in_size - 1)
    weight = (src - lower).astype(np.float32)
    return lower, upper, weight


def _resize_axis(values: np.ndarray, axis: int, out_size: int) -> np.ndarray:
    """Bilinear resize (torch `align_corners=False`, no antialiasing) of one axis of float32 `values`."""
    lower, upper, weight = _bilinear_taps(values.shape[axis], out_size)
    shape = [1] * values.ndim
    shape[axis] = weight.shape[0]
    weight = weight.reshape(shape)
    low = np.take(values, lower, axis=axis)
    high = np.take(values, upper, axis=axis)
    high -= low
    high *= weight
    high += low
    return high


def _upscale_pillow(
    low_res: np.ndarray, image_size: int, input_size: tuple[int, int], original_size: tuple[int, int]
) -> np.ndarray:
    out = np.empty((low_res.shape[0], *original_size), dtype=np.float32)
    enlarge = original_size[0] >= input_size[0] and original_size[1] >= input_size[1]
    for index, logits in enumerate(low_res):
        # Mode "F" images hold float32 logits; a 4x enlargement needs no antialiasing, so PIL equals torch.
        full = Image.fromarray(logits).resize((image_size, image_size), Image.Resampling.BILINEAR)
        cropped = full.crop((0, 0, input_size[1], input_size[0]))
        if enlarge:
            out[index] = np.asarray(
                cropped.resize((original_size[1], original_size[0]), Image.Resampling.BILINEAR)
            )
        else:
            shrunk = _resize_axis(np.asarray(cropped)[None], 1, original_size[0])
            out[index] = _resize_axis(shrunk, 2, original_size[1])[0]
    return out

"""Uncompressed RLE straight from the bounding-box block of a mask.

Everything mode keeps each candidate as an RLE of the whole image while only its bounding box holds set
pixels. Encoding just that block (placed at ``(top, left)`` in an ``height x width`` image) costs time in
proportion to the box, not to the image, and never builds a full-image copy of the mask.

RLE layout (as in :mod:`segany.amg.rle`): column-major runs, alternating zeros / ones, starting with zeros.
"""

from __future__ import annotations

import cv2
import numpy as np

from segany.geometry import mask_box_xyxy


def block_to_rle_counts(block: np.ndarray, top: int, left: int, height: int, width: int) -> np.ndarray:
    """RLE counts of an ``height x width`` image that is zero except for ``block`` at ``(top, left)``.

    Args:
        block: h x w bool array (any strides), the pixels ``[top : top + h, left : left + w]`` of the image.
        top, left: position of the block's first row / column in the image.
        height, width: image size; the block must lie inside it.

    Returns:
        int64 array of run lengths (column-major, first run = zeros) summing to ``height * width``.
    """
    h_b, w_b = block.shape
    if not (0 <= top and top + h_b <= height and 0 <= left and left + w_b <= width):
        raise ValueError(
            f"block {h_b} x {w_b} at (top={top}, left={left}) does not fit a {height} x {width} image"
        )
    n_pixels = height * width
    if h_b == 0 or w_b == 0:
        return np.array([n_pixels], dtype=np.int64)
    # One row per block column, framed by a zero above and below: a change between neighbours of a row is
    # a run start in the image's column-major pixel order (the frames keep columns from touching).
    stride = h_b + 2
    columns = np.zeros((w_b, stride), dtype=np.uint8)
    rows_contiguous = block if block.strides[1] == block.itemsize else np.ascontiguousarray(block)
    columns[:, 1:-1] = cv2.transpose(rows_contiguous.view(np.uint8))
    flat = columns.reshape(-1)
    changed = np.flatnonzero(flat[1:] != flat[:-1]) + 1  # flat positions whose value differs from the last
    col, row = np.divmod(changed, stride)  # row 1 .. h_b + 1 (0 never changes: it follows a zero frame)
    starts = (col + left) * height + (row - 1 + top)  # pixel index where a new run begins
    if top == 0 and h_b == height and starts.size > 1:
        # Full-height block: a column ending set followed by one starting set is one run, not two changes.
        dup = np.flatnonzero(starts[1:] == starts[:-1])
        if dup.size:
            starts = np.delete(starts, np.concatenate([dup, dup + 1]))
    if starts.size and starts[-1] == n_pixels:
        starts = starts[:-1]  # the last pixel is set: the final run ends with the image
    return np.diff(starts, prepend=0, append=n_pixels)


def mask_to_rle_counts(mask: np.ndarray) -> tuple[np.ndarray, tuple[int, int, int, int] | None]:
    """(RLE counts, inclusive XYXY box or None) of an H x W bool mask, encoding only its bounding box."""
    height, width = mask.shape
    box = mask_box_xyxy(mask)
    if box is None:
        return np.array([height * width], dtype=np.int64), None
    x0, y0, x1, y1 = box
    return block_to_rle_counts(mask[y0 : y1 + 1, x0 : x1 + 1], y0, x0, height, width), box

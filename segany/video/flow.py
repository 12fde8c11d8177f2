"""Dense optical flow between consecutive frames (OpenCV DIS or Farneback) and warping along it.

All flows here are *backward* flows: for every pixel (x, y) of the current frame, `flow[y, x] = (dx, dy)` is
where that pixel was in the previous frame, (x + dx, y + dy) in pixels. Warping then samples the previous
frame's mask at those positions, so every current pixel gets a value (no holes, unlike pushing pixels forward).
"""

from __future__ import annotations

import cv2
import numpy as np

FLOW_METHODS = ("dis", "farneback")


class FlowEstimator:
    """Backward flow from gray frames; `scale` < 1 computes it on downscaled frames (faster, coarser)."""

    def __init__(self, method: str = "dis", scale: float = 1.0) -> None:
        if method not in FLOW_METHODS:
            raise ValueError(f"flow method must be one of {', '.join(FLOW_METHODS)}, got {method!r}")
        if not 0.0 < scale <= 1.0:
            raise ValueError(f"flow scale must be in (0, 1], got {scale}")
        self.method = method
        self.scale = scale
        self._dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM) if method == "dis" else None  # type: ignore[attr-defined]

    def backward(self, current: np.ndarray, previous: np.ndarray) -> np.ndarray:
        """H x W x 2 float32 (dx, dy) in pixels, from H x W uint8 gray frames `current` to `previous`."""
        height, width = current.shape
        if self.scale < 1.0:
            size = (max(8, round(width * self.scale)), max(8, round(height * self.scale)))
            current = cv2.resize(current, size, interpolation=cv2.INTER_AREA)
            previous = cv2.resize(previous, size, interpolation=cv2.INTER_AREA)
        if self._dis is not None:
            flow = self._dis.calc(current, previous, None)
        else:
            flow = cv2.calcOpticalFlowFarneback(current, previous, None, 0.5, 4, 21, 3, 5, 1.1, 0)
        if flow.shape[:2] != (height, width):
            factors = np.array([width / flow.shape[1], height / flow.shape[0]], dtype=np.float32)
            flow = cv2.resize(flow, (width, height), interpolation=cv2.INTER_LINEAR) * factors
        return np.ascontiguousarray(flow, dtype=np.float32)


def to_gray(frame: np.ndarray) -> np.ndarray:
    """H x W x 3 uint8 RGB -> H x W uint8."""
    return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)


def _sample(values: np.ndarray, flow: np.ndarray, border: int) -> np.ndarray:
    height, width = flow.shape[:2]
    grid_x, grid_y = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    return cv2.remap(
        values,
        grid_x + flow[..., 0],
        grid_y + flow[..., 1],
        cv2.INTER_LINEAR,
        borderMode=border,
        borderValue=0,
    )


def warp_mask(mask: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """The previous frame's H x W mask (bool or [0, 1] float) carried to the current frame: H x W float32 in
    [0, 1] (bilinear; threshold at 0.5 for a binary mask). Pixels that come from outside the frame get 0."""
    return _sample(np.asarray(mask, dtype=np.float32), flow, cv2.BORDER_CONSTANT)


def warp_low_res(
    logits: np.ndarray, flow: np.ndarray, input_size: tuple[int, int], image_size: int
) -> np.ndarray:
    """SAM low-res logits (S x S, the model input frame: the resized image at the top left of an image_size
    square, zero-padded) carried along a full-resolution backward flow (H x W x 2).

    Only the part of the grid that covers the image moves; the padding part is kept as it is.
    """
    side = logits.shape[-1]
    rows = min(side, int(np.ceil(input_size[0] * side / image_size)))
    cols = min(side, int(np.ceil(input_size[1] * side / image_size)))
    height, _width = flow.shape[:2]
    # Original pixels -> low-res cells: the image is scaled by input/original, the grid by side/image_size.
    factor = np.float32(input_size[0] / height * side / image_size)
    small = cv2.resize(flow, (cols, rows), interpolation=cv2.INTER_AREA) * factor
    out = np.array(logits, dtype=np.float32, copy=True)
    out[:rows, :cols] = _sample(np.ascontiguousarray(out[:rows, :cols]), small, cv2.BORDER_REPLICATE)
    return out


def inconsistent(backward: np.ndarray, forward: np.ndarray) -> np.ndarray:
    """H x W bool: current pixels whose backward flow (to the previous frame) and the forward flow found there
    (previous -> current) do not cancel out, |b + f|^2 > 0.01 (|b|^2 + |f|^2) + 0.5 (Sundaram et al.'s test).
    Such pixels are occluded, uncovered or mis-tracked, so masks carried there are doubtful."""
    returned = np.stack(
        [_sample(np.ascontiguousarray(forward[..., k]), backward, cv2.BORDER_REPLICATE) for k in (0, 1)], -1
    )
    gap = np.sum((backward + returned) ** 2, axis=-1)
    size = np.sum(backward**2, axis=-1) + np.sum(returned**2, axis=-1)
    return np.asarray(gap > 0.01 * size + 0.5)

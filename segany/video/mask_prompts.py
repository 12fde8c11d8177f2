"""Prompts made from a mask: its box (XYXY), its deepest interior points, and low-res logits for `mask_input`."""

from __future__ import annotations

import cv2
import numpy as np

from segany.transforms import resized_shape


def mask_box_xyxy(mask: np.ndarray, margin: float = 0.0) -> np.ndarray | None:
    """XYXY pixel box around an H x W bool mask (x1, y1 one past the last pixel), grown by `margin` x its size
    per side and clipped to the frame; None for an empty mask."""
    columns = np.flatnonzero(mask.any(axis=0))
    rows = np.flatnonzero(mask.any(axis=1))
    if columns.size == 0:
        return None
    x0, x1 = float(columns[0]), float(columns[-1] + 1)
    y0, y1 = float(rows[0]), float(rows[-1] + 1)
    grow_x, grow_y = margin * (x1 - x0), margin * (y1 - y0)
    height, width = mask.shape
    return np.array(
        [max(0.0, x0 - grow_x), max(0.0, y0 - grow_y), min(width, x1 + grow_x), min(height, y1 + grow_y)]
    )


def interior_points(mask: np.ndarray, count: int) -> np.ndarray:
    """Up to `count` (x, y) pixels deep inside the mask: the deepest point of the distance transform, then the
    deepest point at least that depth away from the points already chosen. count x 2 float (fewer if the mask
    is small), empty for an empty mask."""
    if count <= 0 or not mask.any():
        return np.zeros((0, 2))
    distance = cv2.distanceTransform(np.pad(mask, 1).astype(np.uint8), cv2.DIST_L2, 5)[1:-1, 1:-1]
    points = []
    for _ in range(count):
        index = int(np.argmax(distance))
        depth = float(distance.flat[index])
        if depth <= 0:
            break
        y, x = divmod(index, mask.shape[1])
        points.append((float(x), float(y)))
        cv2.circle(distance, (x, y), max(1, round(depth)), 0.0, -1)
    return np.array(points, dtype=np.float64).reshape(-1, 2)


def outside_points(box: np.ndarray, shape: tuple[int, int], gap: float = 0.1) -> np.ndarray:
    """Background (x, y) points just outside an XYXY box: the middles of its 4 sides, pushed out by `gap` x the
    box's size; those that would leave the H x W frame are dropped. P x 2 float, P <= 4."""
    x0, y0, x1, y1 = (float(v) for v in box)
    gap_x, gap_y = gap * (x1 - x0), gap * (y1 - y0)
    middle_x, middle_y = 0.5 * (x0 + x1), 0.5 * (y0 + y1)
    candidates = [
        (x0 - gap_x, middle_y),
        (x1 + gap_x, middle_y),
        (middle_x, y0 - gap_y),
        (middle_x, y1 + gap_y),
    ]
    height, width = shape
    kept = [(x, y) for x, y in candidates if 0 <= x <= width - 1 and 0 <= y <= height - 1]
    return np.array(kept, dtype=np.float64).reshape(-1, 2)


def mask_to_low_res_logits(mask: np.ndarray, image_size: int, low_res: int, magnitude: float) -> np.ndarray:
    """Low-res logits (low_res x low_res, the model input frame) standing for an H x W bool mask: +magnitude
    inside, -magnitude outside (and in the padding), smooth across the edge."""
    height, width = mask.shape
    rows, cols = resized_shape(height, width, image_size)  # the image inside the image_size square
    scale = low_res / image_size
    inner = (max(1, round(rows * scale)), max(1, round(cols * scale)))
    fraction = cv2.resize(mask.astype(np.float32), (inner[1], inner[0]), interpolation=cv2.INTER_AREA)
    logits = np.full((low_res, low_res), -magnitude, dtype=np.float32)
    logits[: inner[0], : inner[1]] = (2.0 * fraction - 1.0) * magnitude
    return logits


def mask_iou(first: np.ndarray, second: np.ndarray) -> float:
    """IoU of two H x W bool masks; 1.0 when both are empty."""
    union = np.count_nonzero(first | second)
    return 1.0 if union == 0 else np.count_nonzero(first & second) / union

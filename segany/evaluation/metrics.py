"""Mask metrics shared by the evaluation code: IoU, mean IoU and the tight XYXY box of a mask."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from segany.geometry import mask_box_xyxy


def as_bool_mask(mask: np.ndarray, name: str) -> np.ndarray:
    """Validate an H x W mask (bool, or numbers where non-zero = foreground) and return it as bool."""
    if not isinstance(mask, np.ndarray):
        raise TypeError(f"{name} must be an H x W numpy array, got {type(mask).__name__}")
    if mask.ndim != 2:
        raise ValueError(f"{name} must be an H x W mask, got shape {mask.shape}")
    return mask if mask.dtype == bool else mask != 0


def mask_iou(pred: np.ndarray, gt: np.ndarray) -> float:
    """Intersection over union of two H x W masks; 1.0 when both are empty."""
    pred, gt = as_bool_mask(pred, "pred"), as_bool_mask(gt, "gt")
    if pred.shape != gt.shape:
        raise ValueError(f"pred and gt must have the same H x W, got {pred.shape} and {gt.shape}")
    union = int(np.count_nonzero(pred | gt))
    if union == 0:
        return 1.0
    return int(np.count_nonzero(pred & gt)) / union


def mean_iou(ious: Iterable[float]) -> float:
    """Mean of per-object IoUs (the paper's mIoU, as a fraction); NaN for no objects."""
    values = np.asarray(list(ious), dtype=np.float64)
    return float(values.mean()) if values.size else float("nan")


def mask_to_box_xyxy(mask: np.ndarray) -> np.ndarray:
    """Tight box of a non-empty H x W mask as float (4,) XYXY pixels [x_min, y_min, x_max, y_max].

    The max corner is the last foreground column/row (inclusive), as SAM's own mask-to-box does.
    """
    box = mask_box_xyxy(as_bool_mask(mask, "mask"))
    if box is None:
        raise ValueError("mask must have at least one foreground pixel to define a box, got an empty mask")
    return np.array(box, dtype=np.float64)

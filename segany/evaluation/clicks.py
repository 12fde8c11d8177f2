"""Click simulation of the SAM paper's point-prompt protocol (paper section 7.1).

First click: the deepest interior point of the ground-truth mask. Next clicks: the deepest point of the
current error. Depth is the Euclidean distance transform (cv2.distanceTransform, DIST_L2, precise mask)
of the region padded by 1 px of background, so the image border counts as boundary.

Error choice (documented decision): the false-negative region (missed GT pixels) and the false-positive
region (spilled predicted pixels) each get their own distance transform; the click goes to the deepest
point of whichever region is deeper (a tie goes to the miss). A click in a miss is positive (label 1),
one in a spill is negative (label 0). Treating the two regions separately keeps a click from being pulled
towards the seam where a miss touches a spill.

Ties between equally deep pixels: the pixel nearest to the mean position of all tied pixels wins (so a
rectangle gets its centre), then the first in row-major order (smallest y, then smallest x).
"""

from __future__ import annotations

from typing import NamedTuple

import cv2
import numpy as np

from segany.evaluation.metrics import as_bool_mask


class Click(NamedTuple):
    """One simulated click: (x, y) pixel coordinates (column, row) and label 1 = positive, 0 = negative."""

    x: int
    y: int
    label: int


def boundary_distance(mask: np.ndarray) -> np.ndarray:
    """H x W float32 Euclidean distance of each foreground pixel to the nearest background pixel or to
    the outside of the image (pixels next to the border get 1); 0 on background."""
    mask = as_bool_mask(mask, "mask")
    padded = np.pad(mask.astype(np.uint8), 1, mode="constant", constant_values=0)
    dist = cv2.distanceTransform(padded, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return dist[1:-1, 1:-1]


def deepest_point(mask: np.ndarray) -> tuple[int, int, float]:
    """(x, y, depth) of the deepest pixel of a non-empty H x W mask (ties as in the module docstring)."""
    dist = boundary_distance(mask)
    depth = float(dist.max())
    if depth <= 0:
        raise ValueError("mask must have at least one foreground pixel, got an empty mask")
    ys, xs = np.nonzero(dist == dist.max())  # row-major order
    if xs.size > 1:
        d2 = (xs - xs.mean()) ** 2 + (ys - ys.mean()) ** 2
        k = int(np.argmin(d2))  # argmin returns the first minimum: row-major among equals
    else:
        k = 0
    return int(xs[k]), int(ys[k]), depth


def first_click(gt_mask: np.ndarray) -> Click:
    """Positive click at the deepest interior point of the (non-empty) H x W ground-truth mask."""
    x, y, _ = deepest_point(gt_mask)
    return Click(x, y, 1)


def error_regions(pred_mask: np.ndarray, gt_mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(false negatives = gt & ~pred, false positives = pred & ~gt) as H x W bool masks."""
    pred, gt = as_bool_mask(pred_mask, "pred_mask"), as_bool_mask(gt_mask, "gt_mask")
    if pred.shape != gt.shape:
        raise ValueError(f"pred_mask and gt_mask must have the same H x W, got {pred.shape} and {gt.shape}")
    return gt & ~pred, pred & ~gt


def next_click(pred_mask: np.ndarray, gt_mask: np.ndarray) -> Click | None:
    """Click at the deepest point of the deeper error region (see module docstring); None if no error."""
    false_neg, false_pos = error_regions(pred_mask, gt_mask)
    best: Click | None = None
    best_depth = 0.0
    for region, label in ((false_neg, 1), (false_pos, 0)):
        if not region.any():
            continue
        x, y, depth = deepest_point(region)
        if depth > best_depth:  # strict: a tie keeps the miss, which is tried first
            best, best_depth = Click(x, y, label), depth
    return best

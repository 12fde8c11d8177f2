"""Format test helpers: realistic generator records from connected components of fixture photos."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def photo_masks(
    name: str, thresholds: tuple[int, ...] = (70, 120, 170), per_threshold: int = 2
) -> list[np.ndarray]:
    """H x W bool masks: the largest 8-connected regions of ``gray > t`` (irregular outlines, real holes)."""
    gray = np.asarray(Image.open(FIXTURES / name).convert("L"))
    masks = []
    for threshold in thresholds:
        count, labels = cv2.connectedComponents((gray > threshold).astype(np.uint8), connectivity=8)
        sizes = np.bincount(labels.ravel(), minlength=count)
        sizes[0] = 0  # background label
        for label in np.argsort(sizes)[::-1][:per_threshold]:
            if sizes[label] >= 50:
                masks.append(labels == label)
    return masks


def independent_bbox_xywh(mask: np.ndarray) -> list[int]:
    """SAM's XYWH box (w = x_max - x_min, inclusive indices), computed with np.nonzero."""
    ys, xs = np.nonzero(mask)
    return [int(xs.min()), int(ys.min()), int(xs.max() - xs.min()), int(ys.max() - ys.min())]


def make_records(masks: list[np.ndarray], seed: int = 0) -> list[dict[str, Any]]:
    """Generator-style records (types as the official generator returns them) for ``masks``."""
    rng = np.random.default_rng(seed)
    height, width = masks[0].shape
    records = []
    for mask in masks:
        ys, xs = np.nonzero(mask)
        pick = int(rng.integers(len(xs)))
        records.append(
            {
                "segmentation": mask,
                "area": int(mask.sum()),
                "bbox": independent_bbox_xywh(mask),
                "predicted_iou": float(rng.uniform(0.88, 1.0)),
                "point_coords": [[float(xs[pick]) + 0.25, float(ys[pick]) + 0.75]],
                "stability_score": float(np.float32(rng.uniform(0.95, 1.0))),
                "crop_box": [0, 0, width, height],
            }
        )
    return records


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0

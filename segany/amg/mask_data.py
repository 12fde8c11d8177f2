"""MaskData: the candidate masks of everything mode, one row per mask, each mask kept as an RLE."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass
class MaskData:
    """Masks of one image as uncompressed RLE counts plus their per-mask fields (all in the image frame).

    Attributes:
        image_size: (H, W) of the image every RLE covers.
        rles: N int64 arrays of column-major run lengths (first run = zeros), see :mod:`segany.amg.rle`.
        boxes: N x 4 int64 XYXY boxes, inclusive ``x1, y1`` (the last set column / row).
        iou_preds: N float32 predicted IoUs.
        stability: N float32 stability scores.
        points: N x 2 float64 ``(x, y)`` point prompts, image pixels.
        crop_boxes: N x 4 int64 XYXY crop boxes, exclusive ``x1, y1``.
    """

    image_size: tuple[int, int]
    rles: list[np.ndarray]
    boxes: np.ndarray
    iou_preds: np.ndarray
    stability: np.ndarray
    points: np.ndarray
    crop_boxes: np.ndarray

    @classmethod
    def empty(cls, image_size: tuple[int, int]) -> MaskData:
        return cls(
            image_size=image_size,
            rles=[],
            boxes=np.zeros((0, 4), dtype=np.int64),
            iou_preds=np.zeros(0, dtype=np.float32),
            stability=np.zeros(0, dtype=np.float32),
            points=np.zeros((0, 2), dtype=np.float64),
            crop_boxes=np.zeros((0, 4), dtype=np.int64),
        )

    def __len__(self) -> int:
        return len(self.rles)

    def areas(self) -> np.ndarray:
        """N int64 pixel counts (sum of the odd-position runs)."""
        return np.array([int(counts[1::2].sum()) for counts in self.rles], dtype=np.int64)

    def select(self, indices: np.ndarray | Sequence[int]) -> MaskData:
        """The rows ``indices`` (int positions, in that order, or a length-N bool mask)."""
        picked = np.asarray(indices)
        if picked.dtype == np.bool_:
            picked = np.flatnonzero(picked)
        picked = picked.astype(np.int64, copy=False)
        return MaskData(
            image_size=self.image_size,
            rles=[self.rles[i] for i in picked.tolist()],
            boxes=self.boxes[picked],
            iou_preds=self.iou_preds[picked],
            stability=self.stability[picked],
            points=self.points[picked],
            crop_boxes=self.crop_boxes[picked],
        )

    @classmethod
    def concat(cls, parts: Sequence[MaskData], image_size: tuple[int, int]) -> MaskData:
        """All rows of ``parts`` in order (an empty MaskData of ``image_size`` when there are none)."""
        if not parts:
            return cls.empty(image_size)
        return cls(
            image_size=image_size,
            rles=[rle for part in parts for rle in part.rles],
            boxes=np.concatenate([part.boxes for part in parts]),
            iou_preds=np.concatenate([part.iou_preds for part in parts]),
            stability=np.concatenate([part.stability for part in parts]),
            points=np.concatenate([part.points for part in parts]),
            crop_boxes=np.concatenate([part.crop_boxes for part in parts]),
        )

"""Full-resolution stage of everything mode: low-res logits -> stability-filtered RLE masks, streamed.

The official generator upsamples every candidate to the image size before any filtering and keeps the whole
batch as float maps. Here the caller filters on predicted IoU first (free), then this stage upsamples the
survivors a few at a time with the exact torch kernel (bit-identical to the official post-processing),
measures each map with exact float comparisons, and keeps only an RLE of the binary mask. At most one group of
full-resolution float maps (bounded by ``max_group_bytes``) is alive at any time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from segany.amg.block_rle import block_to_rle_counts
from segany.amg.boxes import is_box_near_crop_edge
from segany.amg.stability import stability_score_of_map
from segany.geometry import mask_box_xyxy
from segany.modeling.mask_upsampling import upscale_mask_logits

# Full-resolution float maps (plus their model-input-size intermediates) upsampled at once, in bytes.
FULL_RES_GROUP_BYTES = 64 * 2**20


@dataclass(frozen=True)
class CropGeometry:
    """Where a crop's masks live: the crop in the image, and the crop inside the model input.

    Attributes:
        crop_box: XYXY crop in image pixels, exclusive ``x1, y1``.
        image_size: (H, W) of the whole image.
        input_size: (h, w) of the resized crop inside the model input (from the predictor).
        model_input_size: side of the square model input (1024 for SAM).
    """

    crop_box: tuple[int, int, int, int]
    image_size: tuple[int, int]
    input_size: tuple[int, int]
    model_input_size: int

    @property
    def crop_size(self) -> tuple[int, int]:
        x0, y0, x1, y1 = self.crop_box
        return y1 - y0, x1 - x0

    @property
    def is_whole_image(self) -> bool:
        return tuple(self.crop_box) == (0, 0, self.image_size[1], self.image_size[0])


@dataclass(frozen=True)
class MaskRule:
    """How logits become a mask: binarise at ``mask_threshold``; stability with ``offset``; keep when the
    stability score is >= ``min_stability`` (no stability filter when ``min_stability`` is None)."""

    mask_threshold: float
    offset: float
    min_stability: float | None


@dataclass
class FullResMasks:
    """Candidates that passed the stability and crop-edge filters.

    Attributes:
        kept: K int64 positions of the survivors among the input candidates, increasing.
        stability: K float32 stability scores.
        boxes: K x 4 int64 XYXY boxes (inclusive ``x1, y1``) in the crop frame.
        rles: K RLE counts of the masks in the image frame (see :mod:`segany.amg.block_rle`).
    """

    kept: np.ndarray
    stability: np.ndarray
    boxes: np.ndarray
    rles: list[np.ndarray]


def group_size(crop_size: tuple[int, int], model_input_size: int, max_group_bytes: int) -> int:
    """How many candidates to upsample at once so their float maps fit ``max_group_bytes`` (at least 1)."""
    per_map = 4 * (crop_size[0] * crop_size[1] + model_input_size * model_input_size)
    return max(1, max_group_bytes // per_map)


def masks_from_low_res(
    low_res: torch.Tensor,
    geometry: CropGeometry,
    rule: MaskRule,
    max_group_bytes: int = FULL_RES_GROUP_BYTES,
) -> FullResMasks:
    """Upsample, score, filter and RLE-encode candidate masks, a bounded group at a time.

    Args:
        low_res: N x h x w float32 low-res logits of one crop (decoder output frame).
        geometry: the crop (see CropGeometry).
        rule: thresholds (see MaskRule).
        max_group_bytes: memory bound of the float maps alive at once.

    Returns:
        FullResMasks of the candidates that pass the stability filter and do not touch an inner crop edge.
    """
    measure = _Measurer(geometry, rule)
    step = group_size(geometry.crop_size, geometry.model_input_size, max_group_bytes)
    for start in range(0, low_res.shape[0], step):
        group = low_res[start : start + step].unsqueeze(0)  # 1 x G x h x w
        # The G x crop_h x crop_w float maps live only during this call.
        measure.group(
            upscale_mask_logits(
                group, geometry.model_input_size, geometry.input_size, geometry.crop_size, exact=True
            )[0].numpy(),
            start,
        )
    return measure.result()


class _Measurer:
    """Per-candidate work on exact full-resolution logits; accumulates the survivors."""

    def __init__(self, geometry: CropGeometry, rule: MaskRule) -> None:
        self.geometry = geometry
        self.rule = rule
        self.threshold = np.float32(rule.mask_threshold)
        self.min_stability = None if rule.min_stability is None else np.float32(rule.min_stability)
        self.binary = np.empty(geometry.crop_size, dtype=np.bool_)  # reused for every candidate
        self.kept: list[int] = []
        self.scores: list[np.float32] = []
        self.boxes: list[tuple[int, int, int, int]] = []
        self.rles: list[np.ndarray] = []

    def group(self, maps: np.ndarray, start: int) -> None:
        """Measure G x h x w exact logits of candidates ``start .. start + G - 1``."""
        for index in range(maps.shape[0]):
            self.one(maps[index], start + index)

    def one(self, logits: np.ndarray, index: int) -> None:
        binary = self.binary
        stability = stability_score_of_map(logits, self.rule.mask_threshold, self.rule.offset, binary)
        if self.min_stability is not None and not stability >= self.min_stability:
            return
        np.greater(logits, self.threshold, out=binary)
        box = mask_box_xyxy(binary)
        box_xyxy = (0, 0, 0, 0) if box is None else box
        geometry = self.geometry
        image_h, image_w = geometry.image_size
        if not geometry.is_whole_image and bool(
            is_box_near_crop_edge(
                torch.tensor([box_xyxy]), list(geometry.crop_box), [0, 0, image_w, image_h]
            )[0]
        ):
            return
        if box is None:
            counts = np.array([image_h * image_w], dtype=np.int64)
        else:
            x0, y0, x1, y1 = box
            top, left = y0 + geometry.crop_box[1], x0 + geometry.crop_box[0]
            counts = block_to_rle_counts(binary[y0 : y1 + 1, x0 : x1 + 1], top, left, image_h, image_w)
        self.kept.append(index)
        self.scores.append(stability)
        self.boxes.append(box_xyxy)
        self.rles.append(counts)

    def result(self) -> FullResMasks:
        return FullResMasks(
            kept=np.array(self.kept, dtype=np.int64),
            stability=np.array(self.scores, dtype=np.float32),
            boxes=np.array(self.boxes, dtype=np.int64).reshape(-1, 4),
            rles=self.rles,
        )

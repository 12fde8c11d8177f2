"""The model stages as pure work on one image: masks from a model, as engine annotations to add.

- pre-fill (semi-automatic) and automatic: `SamAutomaticMaskGenerator` with the chosen thresholds; the paper's
  fully automatic filters are the defaults (32 x 32 grid, predicted IoU > 0.88, stability >= 0.95, NMS 0.7).
- detector boxes: each XYXY box is a prompt; SAM's single-mask output becomes the mask ("detector + SAM").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from segany.engine.annotating import NewAnnotation
from segany.engine.errors import Invalid
from segany.formats import mask_to_coco_rle
from segany.modeling.sam import Sam

# The fully automatic stage's filters (SA-1B, paper section 4).
PAPER_FILTERS: dict[str, Any] = {
    "points_per_side": 32,
    "pred_iou_thresh": 0.88,
    "stability_score_thresh": 0.95,
    "box_nms_thresh": 0.7,
}
_TUNABLE = (
    "points_per_side",
    "pred_iou_thresh",
    "stability_score_thresh",
    "box_nms_thresh",
    "min_mask_region_area",
)


@dataclass(frozen=True)
class DetectorBox:
    xyxy: tuple[float, float, float, float]  # XYXY pixels of the original image
    label: str | None = None
    score: float | None = None


def generator_params(params: dict[str, Any]) -> dict[str, Any]:
    """The generator settings of a job: the paper's filters, overridden by the job's own values."""
    unknown = sorted(set(params) - set(_TUNABLE) - {"image_ids"})
    if unknown:
        raise Invalid(f"unknown job parameters {unknown}; allowed: {list(_TUNABLE)} and image_ids", "params")
    return {**PAPER_FILTERS, **{key: params[key] for key in _TUNABLE if key in params}}


def generated_masks(
    sam: Sam,
    pixels: np.ndarray,
    settings: dict[str, Any],
    source: str,
    key_prefix: str,
    model_version_id: int | None,
    job_id: str | None,
    progress: Callable[[float], None] | None = None,
) -> list[NewAnnotation]:
    """Everything-mode masks of one H x W x 3 image as proposed annotations (keys `<key_prefix>:<i>`)."""
    from segany.amg import SamAutomaticMaskGenerator

    try:
        generator = SamAutomaticMaskGenerator(sam, output_mode="coco_rle", **settings)
    except (TypeError, ValueError) as exc:
        raise Invalid(f"job parameters: {exc}", "params") from None
    records = generator.generate(pixels, progress=progress)
    return [
        NewAnnotation(
            segmentation=record["segmentation"],
            source=source,
            predicted_iou=float(record["predicted_iou"]),
            stability_score=float(record["stability_score"]),
            model_version_id=model_version_id,
            job_id=job_id,
            idempotency_key=f"{key_prefix}:{index}",
        )
        for index, record in enumerate(records)
    ]


def box_masks(
    sam: Sam,
    pixels: np.ndarray,
    boxes: Sequence[DetectorBox],
    key_prefix: str,
    model_version_id: int | None,
    job_id: str | None,
) -> list[NewAnnotation]:
    """One pre-filled mask per detector box (SAM's single-mask output for a box prompt)."""
    from segany.predictor import SamPredictor

    if not boxes:
        return []
    predictor = SamPredictor(sam)
    predictor.set_image(pixels)
    masks, scores, _ = predictor.predict_boxes(np.asarray([box.xyxy for box in boxes], dtype=np.float32))
    # masks: N x 1 x H x W bool, scores: N x 1 (multimask_output=False)
    return [
        NewAnnotation(
            segmentation=mask_to_coco_rle(np.asarray(masks[index, 0], dtype=bool)),
            source="prefilled",
            label=box.label,
            predicted_iou=float(scores[index, 0]),
            model_version_id=model_version_id,
            job_id=job_id,
            idempotency_key=f"{key_prefix}:{index}",
        )
        for index, box in enumerate(boxes)
    ]

"""SAM re-prompted with a carried mask (as SAM-PT and SAM-PD do), and the re-detection of a lost object.

The predictor must hold the current frame's embedding. Prompts: the carried mask's box (XYXY), a few positive
points deep inside it and the carried low-res logits as `mask_input`. SAM's answer is kept when its predicted
IoU and its IoU with the carried mask pass the settings' thresholds; else the carried mask stays, marked
uncertain.
"""

from __future__ import annotations

import cv2
import numpy as np

from segany.predictor import SamPredictor
from segany.video.mask_prompts import (
    interior_points,
    mask_box_xyxy,
    mask_iou,
    mask_to_low_res_logits,
    outside_points,
)
from segany.video.objects import Candidate
from segany.video.settings import TrackerSettings


def _sigmoid(logits: np.ndarray) -> np.ndarray:
    return (0.5 * (1.0 + np.tanh(0.5 * logits))).astype(np.float32)


def sam_answer(
    predictor: SamPredictor,
    box: np.ndarray | None,
    points: np.ndarray | None,
    labels: np.ndarray | None,
    mask_input: np.ndarray | None,
    closest_to: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, float, np.ndarray]:
    """One SAM output for the prompts: (mask H x W bool, probability H x W, predicted IoU, low-res logits S x S).

    A single point alone is ambiguous: then SAM's 3 candidates are made and the best-scoring one kept. With
    `closest_to` (an H x W bool mask), the 3 candidates and the single output are made, and the one with the
    highest IoU with that mask is kept.
    """
    ambiguous = box is None and mask_input is None and points is not None and len(points) == 1
    full, scores, low_res = predictor.predict(
        point_coords=points,
        point_labels=labels,
        box=box,
        mask_input=None if mask_input is None else mask_input[None],
        multimask_output=ambiguous or closest_to is not None,
        return_logits=True,
    )
    if closest_to is not None:
        single = predictor.predict(
            points,
            labels,
            box,
            None if mask_input is None else mask_input[None],
            multimask_output=False,
            return_logits=True,
        )
        full, scores, low_res = (np.concatenate([a, b]) for a, b in zip((full, scores, low_res), single))
        threshold = predictor.model.mask_threshold
        fits = [mask_iou(candidate > threshold, closest_to) for candidate in full]
        best = int(np.argmax(fits))
    else:
        best = int(np.argmax(scores))
    logits = full[best]
    return logits > predictor.model.mask_threshold, _sigmoid(logits), float(scores[best]), low_res[best]


def reprompt(
    predictor: SamPredictor, carried: Candidate, settings: TrackerSettings, previous: np.ndarray | None = None
) -> Candidate:
    """SAM's answer for a carried mask (fused with it as `settings.fusion` says), or the carried mask itself
    (uncertain) when the answer fails the checks.

    `previous` is the object's mask on the previous frame (H x W bool), for `settings.box_source`.
    """
    box = mask_box_xyxy(carried.mask, settings.box_margin)
    if box is None:
        return carried
    if settings.box_source != "carried" and previous is not None:
        before = mask_box_xyxy(previous, settings.box_margin)
        if before is not None and settings.box_source == "previous":
            box = before
        elif before is not None:  # "union": the box around both, robust to flow errors
            box = np.concatenate([np.minimum(box[:2], before[:2]), np.maximum(box[2:], before[2:])])
    points = interior_points(carried.mask, settings.interior_points)
    labels = np.ones(len(points), dtype=np.int64)
    if settings.negative_points:
        outside = outside_points(box, carried.mask.shape)
        points = np.concatenate([points, outside])
        labels = np.concatenate([labels, np.zeros(len(outside), dtype=np.int64)])
    mask_input = carried.logits if settings.use_mask_input else None
    mask, probability, score, logits = sam_answer(
        predictor,
        box,
        points if len(points) else None,
        labels if len(points) else None,
        mask_input,
        closest_to=carried.mask if settings.multimask else None,
    )
    agreement = mask_iou(mask, carried.mask)
    doubtful = settings.flow_check and carried.doubt >= settings.doubt_level
    needed = settings.doubtful_min_agreement if doubtful else settings.min_agreement
    passed = score >= settings.min_predicted_iou and agreement >= needed
    if passed and settings.min_consistency > 0 and mask_input is not None:
        # The same question without the carried logits: an answer that the box and points alone do not
        # reproduce leans on the carried mask (or on nothing), and is not evidence from this frame.
        second = sam_answer(
            predictor,
            box,
            points if len(points) else None,
            labels if len(points) else None,
            None,
            closest_to=carried.mask if settings.multimask else None,
        )[0]
        passed = mask_iou(mask, second) >= settings.min_consistency
    if not passed:
        return Candidate(
            carried.mask, carried.logits, carried.score, True, carried.probability, "carried", carried.doubt
        )
    if settings.fusion == "band":
        mask, probability, logits = _fuse_band(mask, probability, carried, settings, predictor)
    elif settings.fusion == "average":
        weight = settings.model_weight
        probability = weight * probability + (1.0 - weight) * carried.probability
        logits = weight * logits + (1.0 - weight) * carried.logits
        mask = probability >= 0.5
    return Candidate(mask, logits, score, False, probability, "sam")


def _fuse_band(
    mask: np.ndarray,
    probability: np.ndarray,
    carried: Candidate,
    settings: TrackerSettings,
    predictor: SamPredictor,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """SAM's mask where it lies within r px of the carried mask's edge, the carried mask elsewhere (r = band x
    sqrt(carried area)): SAM can move the edge by at most r per frame. Returns (mask, probability, low-res
    logits); the logits are made from the fused mask (S x S, model input frame)."""
    radius = max(1, round(settings.band * np.sqrt(np.count_nonzero(carried.mask))))
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    carried_u8 = carried.mask.astype(np.uint8)
    inner = cv2.erode(carried_u8, disk, borderType=cv2.BORDER_CONSTANT, borderValue=0).astype(bool)
    outer = cv2.dilate(carried_u8, disk).astype(bool)
    fused = (mask & outer) | inner
    band = outer & ~inner
    fused_probability = np.where(band, probability, carried.mask.astype(np.float32)).astype(np.float32)
    model = predictor.model
    logits = mask_to_low_res_logits(
        fused, model.image_size, model.prompt_encoder.mask_input_size[0], settings.mask_prompt_logit
    )
    return fused, fused_probability, logits


def redetect(
    predictor: SamPredictor, last_box: np.ndarray, last_area: int, settings: TrackerSettings
) -> Candidate | None:
    """Look for a lost object inside its last confident box (grown by half its size per side); None when SAM's
    answer is unsure or its area is far from the last confident area."""
    height, width = predictor.original_size
    x0, y0, x1, y1 = (float(v) for v in last_box)
    grow_x, grow_y = 0.5 * (x1 - x0), 0.5 * (y1 - y0)
    box = np.array(
        [max(0.0, x0 - grow_x), max(0.0, y0 - grow_y), min(width, x1 + grow_x), min(height, y1 + grow_y)]
    )
    mask, probability, score, logits = sam_answer(predictor, box, None, None, None)
    area = int(np.count_nonzero(mask))
    ratio = settings.redetect_area_ratio
    if score < settings.min_predicted_iou or not last_area / ratio <= area <= last_area * ratio:
        return None
    return Candidate(mask, logits, score, False, probability, "redetected")

"""Simulated annotators: the evaluation module's click protocol, working through the engine's store.

An annotator of the assisted-manual stage clicks one object as `segany.evaluation.protocol` does (first click
at the object's deepest point, each next one at the deepest point of the current error), sends one `prompt`
event per click and accepts after the first click whose mask reaches `target_iou` with the human mask; the
engine counts the clicks of the accept from those events (`annotating._measure`). An object the model never
gets to `target_iou` within `max_clicks` is fixed with the brush: the human mask is accepted with `max_clicks`
clicks (NoC's convention).

In the semi-automatic stage the annotator first goes through the pre-filled masks of the image: each human
mask is matched one-to-one to a pre-filled mask (greedy, highest IoU pair first); a match with IoU >= `keep_iou` is kept
(0 clicks), every other pre-filled mask is deleted, and the objects left are clicked as above.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import select

from segany.engine import annotating
from segany.engine.annotating import NewAnnotation
from segany.engine.masks import StoredMask
from segany.engine.models import Annotation, Image
from segany.engine.store import Store
from segany.evaluation.metrics import as_bool_mask
from segany.evaluation.protocol import simulate_clicks_scored
from segany.modeling.sam import Sam


def clicks_to_reach(ious: list[float], threshold: float, max_clicks: int) -> int:
    """NoC: the 1-based number of the first click whose IoU >= threshold, else max_clicks."""
    for index, iou in enumerate(ious[:max_clicks]):
        if iou >= threshold:
            return index + 1
    return max_clicks


@dataclass(frozen=True)
class ClickedMask:
    """One object clicked by a simulated annotator: IoU after each protocol click, clicks recorded, accept."""

    ious: list[float]
    clicks: int  # the clicks the engine recorded for the accept (from its prompt events)
    from_model: bool  # False: the model never reached target_iou, the human mask was accepted (brush fix)
    annotation_id: int


@dataclass(frozen=True)
class KeptMask:
    """One human mask in the semi-automatic stage: the IoU of its best pre-filled match (0 without one)."""

    best_iou: float
    kept: bool


class _RecordingPredictor:
    """A SamPredictor that remembers each call's (masks C x H x W, scores C) so the accepted mask is known."""

    def __init__(self, predictor: Any) -> None:
        self.predictor = predictor
        self.outputs: list[tuple[np.ndarray, np.ndarray]] = []

    def set_image(self, image: np.ndarray) -> None:
        self.predictor.set_image(image)

    def predict(
        self,
        point_coords: np.ndarray | None = None,
        point_labels: np.ndarray | None = None,
        box: np.ndarray | None = None,
        mask_input: np.ndarray | None = None,
        multimask_output: bool = True,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        masks, scores, logits = self.predictor.predict(
            point_coords=point_coords,
            point_labels=point_labels,
            box=box,
            mask_input=mask_input,
            multimask_output=multimask_output,
        )
        self.outputs.append((np.asarray(masks), np.asarray(scores)))
        return masks, scores, logits


class SimulatedAnnotator:
    """One engine user who clicks objects with a model (see the module docstring)."""

    def __init__(
        self,
        store: Store,
        sam: Sam,
        user_id: int,
        model_version_id: int | None,
        target_iou: float = 0.9,
        max_clicks: int = 20,
    ) -> None:
        if not 0.0 < target_iou <= 1.0:
            raise ValueError(f"target_iou must be in (0, 1], got {target_iou!r}")
        if not isinstance(max_clicks, int) or max_clicks < 1:
            raise ValueError(f"max_clicks must be an int >= 1, got {max_clicks!r}")
        from segany.predictor import SamPredictor

        self.store = store
        self.user_id = user_id
        self.model_version_id = model_version_id
        self.target_iou = target_iou
        self.max_clicks = max_clicks
        self.predictor = _RecordingPredictor(SamPredictor(sam))
        self._image_key: int | None = None

    def _set_image(self, image_id: int, pixels: np.ndarray) -> None:
        if self._image_key != image_id:
            self.predictor.set_image(pixels)
            self._image_key = image_id

    def click_objects(
        self, image_id: int, pixels: np.ndarray, gt_masks: list[np.ndarray]
    ) -> list[ClickedMask]:
        """Click every human mask of one H x W x 3 image (an image of the store) and accept the results."""
        self._set_image(image_id, pixels)
        return [self._click_one(image_id, as_bool_mask(gt, "gt_masks")) for gt in gt_masks]

    def _click_one(self, image_id: int, gt: np.ndarray) -> ClickedMask:
        self.predictor.outputs.clear()
        ious, _scores, clicks = simulate_clicks_scored(self.predictor, gt, self.max_clicks)
        used = clicks_to_reach(ious, self.target_iou, self.max_clicks)
        reached = ious[used - 1] >= self.target_iou
        if reached:
            masks, scores = self.predictor.outputs[used - 1]
            accepted = masks[int(np.argmax(scores))]  # the protocol's "most_confident" choice
        else:
            accepted = gt
        with self.store.transaction() as db:
            image = db.get(Image, image_id)
            if image is None:
                raise ValueError(f"image_id must be an image of the store, got {image_id}")
            # The protocol stops early only on a perfect mask; clicks past that repeat the last one.
            for click in (clicks[min(i, len(clicks) - 1)] for i in range(used)):
                annotating.record_event(
                    db,
                    image.project_id,
                    "prompt",
                    self.user_id,
                    image.id,
                    None,
                    {"x": click.x, "y": click.y, "label": click.label, "simulated": True},
                )
        with self.store.transaction() as db:  # the accept: the engine counts the prompts since the last one
            image = db.get(Image, image_id)
            assert image is not None
            row, _ = annotating.create(
                db,
                image,
                NewAnnotation(np.asarray(accepted, dtype=bool), model_version_id=self.model_version_id),
                self.user_id,
            )
            recorded = int(row.clicks or 0)
            annotation_id = row.id
        if recorded != used:
            raise RuntimeError(f"the engine recorded {recorded} clicks for a mask made with {used}")
        return ClickedMask(list(ious), recorded, bool(reached), annotation_id)

    def review_prefilled(
        self, image_id: int, gt_masks: list[np.ndarray], keep_iou: float
    ) -> tuple[list[KeptMask], int]:
        """Keep the pre-filled masks of `image_id` that match a human mask at IoU >= keep_iou, delete the rest.

        Returns (one KeptMask per human mask, in order; the number of pre-filled masks deleted).
        """
        from segany.evaluation.proposals import mask_iou_matrix

        with self.store.transaction() as db:
            proposed = list(
                db.scalars(
                    select(Annotation)
                    .where(
                        Annotation.image_id == image_id,
                        Annotation.source == "prefilled",
                        Annotation.status == "proposed",
                    )
                    .order_by(Annotation.id)
                )
            )
            decoded = [
                StoredMask(row.rle_counts, row.height, row.width, row.area, [0, 0, 0, 0]).decode()
                for row in proposed
            ]
            gts = [as_bool_mask(gt, "gt_masks") for gt in gt_masks]
            ious = mask_iou_matrix(decoded, gts) if decoded and gts else np.zeros((len(decoded), len(gts)))
            # Global greedy matching: the (pre-filled, human) pair of highest IoU first, each used once.
            pairs = sorted(
                ((float(ious[p, g]), p, g) for p in range(len(decoded)) for g in range(len(gts))),
                reverse=True,
            )
            taken: set[int] = set()
            match: dict[int, tuple[float, int]] = {}
            for iou, p, g in pairs:
                if p not in taken and g not in match:
                    match[g] = (iou, p)
                    taken.add(p)
            results = []
            kept_rows: set[int] = set()
            for g in range(len(gts)):
                best_iou, best = match.get(g, (0.0, -1))
                kept = best >= 0 and best_iou >= keep_iou
                if kept:
                    kept_rows.add(best)
                    annotating.decide(db, proposed[best], proposed[best].version, self.user_id, keep=True)
                results.append(KeptMask(best_iou, bool(kept)))
            deleted = 0
            for p, row in enumerate(proposed):
                if p not in kept_rows:
                    annotating.remove(db, row, row.version, self.user_id)
                    deleted += 1
        return results, deleted

"""Simulated annotators (segany.engine.simulate): the click protocol through the store, on both databases."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from engine_client import png_bytes, square, tiny_model

from segany.engine import annotating
from segany.engine.annotating import NewAnnotation
from segany.engine.models import Annotation, AnnotationEvent
from segany.engine.projects import add_image, create_project
from segany.engine.simulate import SimulatedAnnotator, clicks_to_reach
from segany.engine.store import Store


def test_clicks_to_reach() -> None:
    assert clicks_to_reach([0.5, 0.86, 0.91], 0.85, 20) == 2
    assert clicks_to_reach([0.5, 0.86, 0.91], 0.90, 20) == 3
    assert clicks_to_reach([0.95], 0.90, 20) == 1
    assert clicks_to_reach([0.1, 0.2, 0.3], 0.85, 3) == 3  # never reached: the cap (NoC's convention)


def setup(store: Store) -> tuple[int, int, np.ndarray]:
    from segany.engine.accounts import create_user

    with store.transaction() as db:
        user = create_user(db, "sim", "a-long-password", "annotator")
        project = create_project(db, "P")
        image, _ = add_image(db, store.blobs, project, png_bytes(), "p.png")
        ids = user.id, image.id
    return ids[0], ids[1], store.blobs.load(f"{image.sha256}.png")


@pytest.mark.parametrize("target", [0.2, 0.99])
def test_clicked_masks_match_the_protocol_and_the_store(store: Store, target: float) -> None:
    from segany.evaluation.protocol import simulate_clicks
    from segany.predictor import SamPredictor

    sam = tiny_model()
    user_id, image_id, pixels = setup(store)
    gts = [square(48, 64, 16, 12, 48, 36), square(48, 64, 0, 0, 10, 8)]
    annotator = SimulatedAnnotator(store, sam, user_id, None, target_iou=target, max_clicks=4)
    clicked = annotator.click_objects(image_id, pixels, gts)
    predictor = SamPredictor(sam)  # the evaluation module's protocol, run on its own
    predictor.set_image(pixels)
    with store.session() as db:
        for gt, result in zip(gts, clicked):
            ious, _ = simulate_clicks(predictor, gt, 4)
            assert result.ious == pytest.approx(ious, abs=1e-6)
            expected = next((k + 1 for k, iou in enumerate(ious) if iou >= target), 4)
            assert result.clicks == expected
            row = db.get(Annotation, result.annotation_id)
            assert row is not None and (row.source, row.status, row.clicks) == (
                "manual",
                "accepted",
                expected,
            )
            if not result.from_model:  # brush fix: the human mask itself
                assert row.area == int(gt.sum())
        prompts = db.query(AnnotationEvent).filter_by(kind="prompt", image_id=image_id).count()
        assert prompts == sum(result.clicks for result in clicked)


def test_review_keeps_matching_prefilled_masks(store: Store) -> None:
    user_id, image_id, _ = setup(store)
    gts = [square(48, 64, 10, 10, 30, 30), square(48, 64, 40, 5, 60, 20)]
    proposals = [
        square(48, 64, 10, 10, 30, 29),  # IoU 0.95 with gts[0]
        square(48, 64, 40, 5, 60, 12),  # IoU 0.47 with gts[1]
        square(48, 64, 0, 40, 5, 48),  # nothing
    ]
    with store.transaction() as db:
        from segany.engine.models import Image

        image = db.get(Image, image_id)
        assert image is not None
        ids = [
            annotating.create(db, image, NewAnnotation(mask, source="prefilled"), None)[0].id
            for mask in proposals
        ]
    annotator = SimulatedAnnotator(store, tiny_model(), user_id, None)
    kept, deleted = annotator.review_prefilled(image_id, gts, keep_iou=0.85)
    assert [k.kept for k in kept] == [True, False] and deleted == 2
    assert kept[0].best_iou == pytest.approx(380 / 400) and kept[1].best_iou == pytest.approx(140 / 300)
    with store.session() as db:
        statuses = [db.get(Annotation, i).status for i in ids]  # type: ignore[union-attr]
    assert statuses == ["accepted", "rejected", "rejected"]


def test_bad_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="target_iou"):
        SimulatedAnnotator(Any, tiny_model(), 1, None, target_iou=1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_clicks"):
        SimulatedAnnotator(Any, tiny_model(), 1, None, max_clicks=0)  # type: ignore[arg-type]

"""GrabCut baseline: interface, determinism and sane masks on the fixture horses."""

from __future__ import annotations

import numpy as np
import pytest

from segany.data import Sample
from segany.evaluation.clicks import first_click
from segany.evaluation.grabcut import GrabCutPredictor
from segany.evaluation.metrics import mask_iou, mask_to_box_xyxy


@pytest.fixture(scope="module")
def predictor() -> GrabCutPredictor:
    return GrabCutPredictor(iterations=5, max_side=160)  # downscaled for test speed


def test_box_init_segments_horses(predictor: GrabCutPredictor, horses: list[Sample]) -> None:
    for sample in horses:
        gt = sample.masks[0]
        predictor.set_image(sample.image)
        masks, scores, logits = predictor.predict(box=mask_to_box_xyxy(gt), multimask_output=True)
        assert masks.shape == (1,) + gt.shape and masks.dtype == bool
        np.testing.assert_array_equal(scores, [1.0])
        assert logits.shape == (1, 256, 256) and not logits.any()
        box_fill = np.zeros_like(gt)
        x0, y0, x1, y1 = mask_to_box_xyxy(gt).astype(int)
        box_fill[y0 : y1 + 1, x0 : x1 + 1] = True
        assert mask_iou(masks[0], gt) > max(0.55, mask_iou(box_fill, gt))  # better than the box itself
        assert not masks[0][: max(y0 - 3, 0)].any()  # nothing above the box


def test_click_init_segments_horses(predictor: GrabCutPredictor, horses: list[Sample]) -> None:
    for sample in horses:
        gt = sample.masks[0]
        click = first_click(gt)
        predictor.set_image(sample.image)
        masks, _, _ = predictor.predict(
            point_coords=np.array([[click.x, click.y]], np.float32), point_labels=np.array([1])
        )
        assert masks[0][click.y, click.x]
        assert mask_iou(masks[0], gt) > 0.5


def test_deterministic_and_negative_click_respected(
    predictor: GrabCutPredictor, horses: list[Sample]
) -> None:
    sample = horses[1]
    predictor.set_image(sample.image)
    coords = np.array([[first_click(sample.masks[0]).x, first_click(sample.masks[0]).y], [5.0, 5.0]])
    a = predictor.predict(point_coords=coords, point_labels=np.array([1, 0]))[0]
    b = predictor.predict(point_coords=coords, point_labels=np.array([1, 0]))[0]
    np.testing.assert_array_equal(a, b)
    assert not a[0, 5, 5]


def test_user_errors() -> None:
    gc = GrabCutPredictor()
    with pytest.raises(RuntimeError, match="set_image"):
        gc.predict(box=np.array([0, 0, 5, 5]))
    gc.set_image(np.zeros((20, 20, 3), np.uint8))
    with pytest.raises(ValueError, match="N x 2"):
        gc.predict(point_coords=np.array([1.0, 2.0]), point_labels=np.array([1]))
    with pytest.raises(ValueError, match="point_labels"):
        gc.predict(point_coords=np.array([[1.0, 2.0]]))
    with pytest.raises(ValueError, match="XYXY"):
        gc.predict(box=np.array([0, 0, 5]))
    with pytest.raises(ValueError, match="H x W x 3"):
        gc.set_image(np.zeros((20, 20), np.uint8))
    with pytest.raises(ValueError, match="iterations"):
        GrabCutPredictor(iterations=0)

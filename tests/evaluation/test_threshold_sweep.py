"""Threshold sweep: mean IoU per mask-logit threshold, against IoUs counted by hand and the predictor's own masks."""

from __future__ import annotations

import argparse

import numpy as np
import pytest
import torch

from segany.evaluation.threshold_sweep import markdown, parse_thresholds, sweep

SIZE = 40
GT = np.zeros((SIZE, SIZE), dtype=bool)
GT[10:30, 10:30] = True  # 400 pixels


class FieldPredictor:
    """Box: +1 on the GT, -0.5 on a 2-pixel ring around it, -5 elsewhere. Click: three outputs, the most
    confident one +1 on the GT's left half and -0.5 on its right half."""

    def set_image(self, image: np.ndarray) -> None:
        assert image.shape == (SIZE, SIZE, 3)

    def predict(self, point_coords=None, point_labels=None, box=None, mask_input=None, multimask_output=True,
                return_logits=False):  # fmt: skip
        assert return_logits
        if box is not None:
            field = np.full((SIZE, SIZE), -5.0)
            field[8:32, 8:32] = -0.5
            field[GT] = 1.0
            return field[None], np.array([0.5]), np.zeros((1, 8, 8))
        half = np.full((SIZE, SIZE), -5.0)
        half[10:30, 10:20] = 1.0
        half[10:30, 20:30] = -0.5
        fields = np.stack([np.full((SIZE, SIZE), 5.0), half, np.full((SIZE, SIZE), -5.0)])
        return fields, np.array([0.1, 0.9, 0.3]), np.zeros((3, 8, 8))


def test_mean_iou_per_threshold_matches_hand_counts():
    image = np.zeros((SIZE, SIZE, 3), dtype=np.uint8)
    result = sweep(FieldPredictor(), [(image, [GT]), (image, [GT])], thresholds=(-1.0, 0.0, 2.0))
    assert result.objects == 2
    # box: t=-1 takes the ring too (24 x 24 = 576 pixels), t=0 exactly the GT, t=2 nothing.
    assert result.box == pytest.approx((400 / 576, 1.0, 0.0))
    # click (the 0.9 output): t=-1 the whole GT, t=0 its left half, t=2 nothing.
    assert result.click == pytest.approx((1.0, 0.5, 0.0))
    table = markdown({"toy": result})
    assert "| toy | 2 | 69.4 | 100.0 | 0.0 |" in table and "| toy | 2 | 100.0 | 50.0 | 0.0 |" in table


def test_threshold_zero_scores_the_predictors_own_masks():
    from segany.predictor import SamPredictor
    from segany.registry import SamConfig, ViTEncoderConfig, build_sam

    torch.manual_seed(0)
    sam = build_sam(SamConfig(ViTEncoderConfig(32, 2, 2, (1,)), image_size=128, prompt_embed_dim=32)).eval()
    predictor = SamPredictor(sam)
    rng = np.random.default_rng(1)
    image = rng.integers(0, 255, size=(SIZE, SIZE, 3), dtype=np.uint8)
    result = sweep(predictor, [(image, [GT])], thresholds=(0.0,))
    predictor.set_image(image)
    masks, _, _ = predictor.predict(box=np.array([10, 10, 29, 29], dtype=np.float32), multimask_output=False)
    expected = (masks[0] & GT).sum() / (masks[0] | GT).sum()
    assert result.box[0] == pytest.approx(expected)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="thresholds must hold at least one"):
        sweep(FieldPredictor(), [], thresholds=())
    with pytest.raises(ValueError, match="no non-empty GT mask"):
        sweep(FieldPredictor(), [(np.zeros((SIZE, SIZE, 3), dtype=np.uint8), [np.zeros((SIZE, SIZE), bool)])])
    with pytest.raises(argparse.ArgumentTypeError, match="--thresholds must be comma-separated numbers"):
        parse_thresholds("-1,zero")

"""IoU-head calibration: the affine fit, its exact folding into the head's last layer, and pair collection."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from segany.predictor import SamPredictor
from segany.pretrained import load_pretrained
from segany.training.calibrate_iou import (
    AffineMap,
    IouPairs,
    collect_pairs,
    fit_affine,
    fit_token_maps,
    fold_into_model,
    mean_abs_error,
)


def test_fit_affine_recovers_a_known_map_despite_outliers() -> None:
    rng = np.random.default_rng(0)
    predicted = rng.uniform(0.3, 1.0, size=400)
    true = 0.7 * predicted - 0.1 + rng.normal(0.0, 0.01, size=400)
    true[:20] = rng.uniform(0.0, 1.0, size=20)  # 5% gross outliers: a least-squares fit would be pulled
    fitted = fit_affine(predicted, true)
    assert fitted.scale == pytest.approx(0.7, abs=0.03)
    assert fitted.offset == pytest.approx(-0.1, abs=0.03)


def test_fit_affine_constant_predictions_shift_by_the_median_error() -> None:
    fitted = fit_affine(np.full(5, 0.9), np.array([0.1, 0.5, 0.6, 0.7, 0.95]))
    assert (fitted.scale, fitted.offset) == (1.0, pytest.approx(0.6 - 0.9))


def test_fit_affine_never_reverses_the_ranking() -> None:
    predicted = np.linspace(0.2, 1.0, 50)
    true = 1.0 - predicted  # an anti-correlated head: the free fit's slope would be -1
    fitted = fit_affine(predicted, true, min_scale=0.05)
    assert fitted.scale == 0.05
    assert fitted.offset == pytest.approx(float(np.median(true - 0.05 * predicted)))


def test_fit_affine_rejects_mismatched_arrays() -> None:
    with pytest.raises(ValueError, match="equal-length"):
        fit_affine(np.zeros(3), np.zeros(4))


def test_token_maps_lower_the_error_on_the_fitted_pairs() -> None:
    rng = np.random.default_rng(1)
    token = rng.integers(0, 4, size=800)
    true = rng.uniform(0.0, 1.0, size=800)
    predicted = 0.5 + 0.5 * true + 0.1 * token  # optimistic, differently per token
    pairs = IouPairs(token, predicted, true)
    maps = fit_token_maps(pairs)
    assert mean_abs_error(pairs) > 0.2
    assert mean_abs_error(pairs, maps) < 1e-3


def test_folding_applies_each_tokens_map_to_the_head_output() -> None:
    sam = load_pretrained("segany_small")
    decoder = sam.mask_decoder
    torch.manual_seed(0)
    channels = decoder.transformer_dim
    grid = sam.prompt_encoder.image_embedding_size
    embedding = torch.randn(1, channels, *grid)
    pe = sam.prompt_encoder.get_dense_pe()
    sparse = torch.randn(3, 2, channels)
    dense = torch.randn(3, channels, *grid)
    with torch.no_grad():
        masks_before, iou_before = decoder.predict_masks(embedding, pe, sparse, dense)
        maps = [AffineMap(0.5, 0.1), AffineMap(1.2, -0.3), AffineMap(0.8, 0.0), AffineMap(1.0, 0.05)]
        fold_into_model(sam, maps)
        masks_after, iou_after = decoder.predict_masks(embedding, pe, sparse, dense)
    expected = np.stack([m.apply(iou_before[:, k].numpy()) for k, m in enumerate(maps)], axis=1)
    np.testing.assert_allclose(iou_after.numpy(), expected, atol=1e-5)
    assert torch.equal(masks_before, masks_after)  # only the scores move


def test_fold_needs_one_map_per_token() -> None:
    with pytest.raises(ValueError, match="one AffineMap per mask token"):
        fold_into_model(load_pretrained("segany_small"), [AffineMap(1.0, 0.0)])


def test_collect_pairs_scores_every_opening_prompt() -> None:
    image = np.zeros((96, 128, 3), dtype=np.uint8)
    image[20:70, 30:90] = (200, 60, 40)
    square = np.zeros((96, 128), dtype=bool)
    square[20:70, 30:90] = True
    empty = np.zeros_like(square)
    predictor = SamPredictor(load_pretrained("segany_small"))
    pairs = collect_pairs(predictor, [(image, [square, empty])])
    # The empty mask is skipped; the square gives box, box refinement (token 0) and 3 click masks (tokens 1-3).
    assert pairs.token.tolist() == [0, 0, 1, 2, 3]
    predictor.set_image(image)
    masks, scores, _ = predictor.predict(
        box=np.array([30, 20, 89, 69], dtype=np.float32), multimask_output=False
    )
    union = np.logical_or(masks[0], square).sum()
    assert pairs.true[0] == pytest.approx(np.logical_and(masks[0], square).sum() / union)
    assert pairs.predicted[0] == pytest.approx(float(scores[0]))

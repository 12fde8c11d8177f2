"""OnnxPredictor (ONNX Runtime) against SamPredictor (torch) with the same weights, on a real photo.

Contract: low-res logits within 1e-3 (fp32), binary masks agreeing on >= 99.9% of the pixels, for points,
boxes, boxes + points, mask input, single and multi mask output and 1, 2, 5 points.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from onnx_testing import mask_agreement, max_abs_diff

from segany.onnx.runtime import OnnxPredictor
from segany.predictor import SamPredictor

LOW_RES_ATOL = 1e-3
SCORE_ATOL = 1e-4
MIN_AGREEMENT = 0.999

H, W = 534, 800  # the photo
BOX = np.array([120.0, 90.0, 610.0, 480.0])
POINTS = np.array([[400.0, 260.0], [250.0, 200.0], [620.0, 120.0], [90.0, 450.0], [500.0, 400.0]])
LABELS = np.array([1, 0, 1, 0, 1])

PROMPTS: dict[str, dict[str, Any]] = {
    "1_point": {"point_coords": POINTS[:1], "point_labels": LABELS[:1]},
    "2_points": {"point_coords": POINTS[:2], "point_labels": LABELS[:2]},
    "5_points": {"point_coords": POINTS, "point_labels": LABELS},
    "box": {"box": BOX},
    "box_and_points": {"box": BOX, "point_coords": POINTS[1:3], "point_labels": LABELS[1:3]},
    "point_outside_image": {"point_coords": np.array([[-20.0, 600.0]]), "point_labels": np.array([1])},
}


def _previous_logits(predictor: SamPredictor) -> np.ndarray:
    _, scores, logits = predictor.predict(point_coords=POINTS[:1], point_labels=LABELS[:1])
    return logits[int(np.argmax(scores))][None]


def _check(ours: tuple, reference: tuple, what: str) -> dict[str, float]:
    masks, scores, logits = ours
    ref_masks, ref_scores, ref_logits = reference
    assert masks.shape == ref_masks.shape and masks.dtype == ref_masks.dtype, what
    assert scores.shape == ref_scores.shape and logits.shape == ref_logits.shape, what
    stats = {
        "low_res": max_abs_diff(logits, ref_logits),
        "scores": max_abs_diff(scores, ref_scores),
        "agreement": min(mask_agreement(m, r) for m, r in zip(masks, ref_masks)),
    }
    assert stats["low_res"] <= LOW_RES_ATOL, f"{what}: low-res logits differ by {stats['low_res']:.3g}"
    assert stats["scores"] <= SCORE_ATOL, f"{what}: IoU predictions differ by {stats['scores']:.3g}"
    assert stats["agreement"] >= MIN_AGREEMENT, f"{what}: masks agree on only {stats['agreement']:.5f}"
    return stats


@pytest.mark.parametrize("multimask", [True, False], ids=["multi", "single"])
@pytest.mark.parametrize("name", list(PROMPTS))
def test_decoder_matches_torch(
    name: str, multimask: bool, onnx_torch_embedding: OnnxPredictor, torch_predictor: SamPredictor
) -> None:
    prompt = PROMPTS[name]
    reference = torch_predictor.predict(**prompt, multimask_output=multimask)
    ours = onnx_torch_embedding.predict(**prompt, multimask_output=multimask)
    assert ours[0].shape == (3 if multimask else 1, H, W)
    _check(ours, reference, f"{name} multimask={multimask}")


def test_masks_are_not_trivial(onnx_torch_embedding: OnnxPredictor) -> None:
    """The perturbed weights must give masks that are neither empty nor full, or agreement means little."""
    masks, _, _ = onnx_torch_embedding.predict(**PROMPTS["box"], multimask_output=True)
    coverage = masks.mean(axis=(1, 2))
    assert np.any((coverage > 0.01) & (coverage < 0.99)), f"trivial masks, coverage {coverage}"


@pytest.mark.parametrize("multimask", [True, False], ids=["multi", "single"])
def test_mask_input_matches_torch(
    multimask: bool, onnx_torch_embedding: OnnxPredictor, torch_predictor: SamPredictor
) -> None:
    previous = _previous_logits(torch_predictor)
    for prompt in ({"point_coords": POINTS[:2], "point_labels": LABELS[:2]}, {"box": BOX}, {}):
        reference = torch_predictor.predict(**prompt, mask_input=previous, multimask_output=multimask)
        ours = onnx_torch_embedding.predict(**prompt, mask_input=previous, multimask_output=multimask)
        _check(ours, reference, f"mask input + {sorted(prompt)}")


def test_return_logits_matches_torch(
    onnx_torch_embedding: OnnxPredictor, torch_predictor: SamPredictor
) -> None:
    reference = torch_predictor.predict(**PROMPTS["box"], return_logits=True)
    ours = onnx_torch_embedding.predict(**PROMPTS["box"], return_logits=True)
    assert ours[0].dtype == np.float32 and ours[0].shape == (3, H, W)
    assert max_abs_diff(ours[0], reference[0]) <= LOW_RES_ATOL


def test_many_boxes_match_torch(onnx_torch_embedding: OnnxPredictor, torch_predictor: SamPredictor) -> None:
    boxes = np.stack([BOX, np.array([300.0, 50.0, 780.0, 300.0])])
    reference = torch_predictor.predict(box=boxes, multimask_output=False)
    ours = onnx_torch_embedding.predict(box=boxes, multimask_output=False)
    assert ours[0].shape == (2, 1, H, W)
    for index in range(2):
        _check(tuple(o[index] for o in ours), tuple(r[index] for r in reference), f"box {index}")


@pytest.mark.parametrize("name", ["1_point", "box_and_points"])
def test_end_to_end_matches_torch(
    name: str, onnx_end_to_end: OnnxPredictor, torch_predictor: SamPredictor
) -> None:
    """ORT encoder and decoder, from the photo itself."""
    embedding = onnx_end_to_end.get_image_embedding()
    reference_embedding = torch_predictor.get_image_embedding().cpu().numpy()
    assert embedding.shape == reference_embedding.shape == (1, 256, 64, 64)
    assert max_abs_diff(embedding, reference_embedding) <= 1e-4 * max(
        1.0, float(np.abs(reference_embedding).max())
    )
    assert onnx_end_to_end.input_size == torch_predictor.input_size
    assert onnx_end_to_end.original_size == torch_predictor.original_size == (H, W)
    reference = torch_predictor.predict(**PROMPTS[name])
    ours = onnx_end_to_end.predict(**PROMPTS[name])
    stats = _check(ours, reference, f"end to end {name}")
    print(f"end-to-end {name}: {stats}")

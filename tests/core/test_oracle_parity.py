"""Numerical parity with the official segment-anything 1.0 (the oracle), prompt by prompt, on real photos.

Both predictors hold the same perturbed random weights (every parameter, so zero-initialised tables such as
pos_embed and rel_pos_* carry signal). Contract: embeddings and low-res logits within 1e-4 * max(1, scale),
IoU predictions within 1e-5, binary masks identical wherever the oracle's logit magnitude exceeds 1e-3.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch
from core_testing import (
    PHOTOS,
    EncodedPair,
    assert_masks_agree,
    assert_prediction_matches,
    assert_scaled_close,
    image_prompts,
    max_diff,
)

Encoded = Callable[[str], EncodedPair]


@pytest.mark.parametrize("photo", PHOTOS)
def test_image_embedding_matches_oracle(encoded: Encoded, photo: str) -> None:
    pair = encoded(photo)
    assert pair.ours.original_size == tuple(pair.oracle.original_size)
    assert pair.ours.input_size == tuple(pair.oracle.input_size)
    ours, ref = pair.ours.get_image_embedding(), pair.oracle.get_image_embedding()
    assert tuple(ours.shape) == (1, 256, 64, 64)
    assert_scaled_close(ours, ref, f"{photo} image embedding")


def _both(pair: EncodedPair, **prompt: object) -> tuple[tuple, tuple]:
    """(segany predict, oracle predict with return_logits=True) for the same numpy prompt."""
    ours = pair.ours.predict(**prompt)
    ref = pair.oracle.predict(**prompt, return_logits=True)
    return ours, ref


@pytest.mark.parametrize("photo", PHOTOS)
@pytest.mark.parametrize("multimask", [True, False])
def test_one_positive_point(encoded: Encoded, photo: str, multimask: bool) -> None:
    pair = encoded(photo)
    p = image_prompts(pair.height, pair.width)
    ours, ref = _both(
        pair, point_coords=p["positive"], point_labels=np.array([1]), multimask_output=multimask
    )
    assert ours[0].shape == (3 if multimask else 1, pair.height, pair.width)
    assert_prediction_matches(ours, ref, f"{photo} positive point")


@pytest.mark.parametrize("photo", PHOTOS)
def test_positive_and_negative_points(encoded: Encoded, photo: str) -> None:
    pair = encoded(photo)
    p = image_prompts(pair.height, pair.width)
    coords = np.concatenate([p["positive"], p["negative"]])
    ours, ref = _both(pair, point_coords=coords, point_labels=np.array([1, 0]), multimask_output=False)
    assert_prediction_matches(ours, ref, f"{photo} positive+negative points")


@pytest.mark.parametrize("photo", PHOTOS)
def test_box(encoded: Encoded, photo: str) -> None:
    pair = encoded(photo)
    box = image_prompts(pair.height, pair.width)["box"]
    ours, ref = _both(pair, box=box, multimask_output=False)
    assert_prediction_matches(ours, ref, f"{photo} box")
    # return_logits=True gives the full-size logits themselves.
    logits, _, _ = pair.ours.predict(box=box, multimask_output=False, return_logits=True)
    assert logits.dtype == np.float32
    assert_scaled_close(logits, ref[0], f"{photo} box full-size logits")


@pytest.mark.parametrize("photo", PHOTOS)
def test_box_and_points(encoded: Encoded, photo: str) -> None:
    pair = encoded(photo)
    p = image_prompts(pair.height, pair.width)
    coords = np.concatenate([p["positive"], p["negative"]])
    ours, ref = _both(
        pair, point_coords=coords, point_labels=np.array([1, 0]), box=p["box"], multimask_output=True
    )
    assert_prediction_matches(ours, ref, f"{photo} box+points")


@pytest.mark.parametrize("photo", PHOTOS)
def test_mask_input_reprompt(encoded: Encoded, photo: str) -> None:
    """Feed the best low-res logits of a first prediction back as mask_input, with a second point."""
    pair = encoded(photo)
    p = image_prompts(pair.height, pair.width)
    _, first_scores, first_low_res = pair.oracle.predict(p["positive"], np.array([1]), multimask_output=True)
    mask_input = first_low_res[int(np.argmax(first_scores))][None]  # 1 x 256 x 256
    coords = np.concatenate([p["positive"], p["negative"]])
    prompt = {
        "point_coords": coords,
        "point_labels": np.array([1, 0]),
        "mask_input": mask_input,
        "multimask_output": False,
    }
    ours, ref = _both(pair, **prompt)
    assert_prediction_matches(ours, ref, f"{photo} mask re-prompt")
    # The mask prompt must matter: without it the answer differs.
    without, _, _ = pair.oracle.predict(coords, np.array([1, 0]), multimask_output=False, return_logits=True)
    assert max_diff(without, ref[0]) > 1e-2


@pytest.mark.parametrize("photo", PHOTOS)
def test_batched_boxes_predict_torch(encoded: Encoded, photo: str) -> None:
    pair = encoded(photo)
    h, w = pair.height, pair.width
    boxes = torch.tensor(
        [[0.1 * w, 0.1 * h, 0.5 * w, 0.6 * h], [0.4 * w, 0.3 * h, 0.95 * w, 0.9 * h], [0, 0, w - 1, h - 1]],
        dtype=torch.float32,
    )
    ref_boxes = pair.oracle.transform.apply_boxes_torch(boxes, pair.oracle.original_size)
    our_boxes = pair.ours.transform.apply_boxes_torch(boxes, pair.ours.original_size)
    assert max_diff(our_boxes, ref_boxes) <= 1e-4
    ref_logits, ref_scores, ref_low = pair.oracle.predict_torch(
        None, None, boxes=ref_boxes, multimask_output=True, return_logits=True
    )
    masks, scores, low = pair.ours.predict_torch(None, None, boxes=our_boxes, multimask_output=True)
    assert masks.shape == (3, 3, h, w) and masks.dtype == torch.bool
    assert max_diff(scores, ref_scores) <= 1e-5
    assert_scaled_close(low, ref_low, f"{photo} batched boxes low-res logits")
    assert_masks_agree(masks.numpy(), ref_logits.numpy(), f"{photo} batched boxes")
    # The boxes are distinct prompts: their answers must differ.
    assert max_diff(ref_low[0], ref_low[1]) > 1e-2


def test_batched_points_and_boxes_predict_torch(encoded: Encoded) -> None:
    pair = encoded("dog.jpg")
    h, w = pair.height, pair.width
    boxes = torch.tensor([[0.1 * w, 0.1 * h, 0.5 * w, 0.6 * h], [0.4 * w, 0.3 * h, 0.95 * w, 0.9 * h]])
    points = torch.tensor(
        [[[0.3 * w, 0.3 * h], [0.05 * w, 0.9 * h]], [[0.7 * w, 0.6 * h], [0.5 * w, 0.5 * h]]]
    )
    labels = torch.tensor([[1, 0], [1, -1]])
    ref_points = pair.oracle.transform.apply_coords_torch(points, pair.oracle.original_size)
    our_points = pair.ours.transform.apply_coords_torch(points, pair.ours.original_size)
    assert max_diff(our_points, ref_points) <= 1e-4
    ref_boxes = pair.oracle.transform.apply_boxes_torch(boxes, pair.oracle.original_size)
    ref_logits, ref_scores, ref_low = pair.oracle.predict_torch(
        ref_points, labels, boxes=ref_boxes, multimask_output=False, return_logits=True
    )
    masks, scores, low = pair.ours.predict_torch(
        our_points,
        labels,
        boxes=pair.ours.transform.apply_boxes_torch(boxes, pair.ours.original_size),
        multimask_output=False,
    )
    assert max_diff(scores, ref_scores) <= 1e-5
    assert_scaled_close(low, ref_low, "batched points+boxes low-res logits")
    assert_masks_agree(masks.numpy(), ref_logits.numpy(), "batched points+boxes")
    # return_logits=True: full-size logits.
    logits, _, _ = pair.ours.predict_torch(
        our_points,
        labels,
        boxes=pair.ours.transform.apply_boxes_torch(boxes, pair.ours.original_size),
        multimask_output=False,
        return_logits=True,
    )
    assert logits.dtype == torch.float32
    assert_scaled_close(logits, ref_logits, "batched points+boxes full-size logits")

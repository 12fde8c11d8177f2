"""The exact low-rank decoder path (segany.modeling.decoder_lowrank) vs the oracle and vs our reference path.

The shared predictors of the `encoded` fixture take the low-rank path for every prompt without a mask input
(their decoder cache is built on the first prompt). Each test checks that the path was really taken (or
really not taken), then compares with the official segment-anything 1.0 (same perturbed weights) and with
our own reference path (`with reference_paths():`). Contract: low-res logits within
1e-4 * max(1, scale), IoU predictions within 1e-5.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
import torch
from core_testing import (
    IOU_ATOL,
    EncodedPair,
    assert_prediction_matches,
    assert_scaled_close,
    image_prompts,
    load_photo,
    max_diff,
)
from segment_anything import SamPredictor as OraclePredictor

import segany.modeling.decoder_lowrank as lowrank_module
import segany.modeling.mask_decoder as mask_decoder_module
from segany.modeling.decoder_lowrank import build_image_cache, decode_with_cache
from segany.modeling.reference import reference_paths
from segany.predictor import SamPredictor

Encoded = Callable[[str], EncodedPair]


@pytest.fixture
def low_rank_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the batches that went through the low-rank path (the number of prompts of each call)."""
    calls: list[int] = []
    original = lowrank_module.predict_masks_lowrank

    def spy(decoder: Any, cache: Any, sparse: torch.Tensor, *args: Any) -> tuple[torch.Tensor, torch.Tensor]:
        calls.append(int(sparse.shape[0]))
        return original(decoder, cache, sparse, *args)

    monkeypatch.setattr(lowrank_module, "predict_masks_lowrank", spy)
    return calls


def _reference_path(predictor: SamPredictor) -> Iterator[None]:
    with reference_paths():
        yield


def _compare_numpy_prompt(pair: EncodedPair, calls: list[int], **prompt: Any) -> None:
    fast = pair.ours.predict(**prompt)
    assert calls, "the low-rank path was not taken"
    ref = pair.oracle.predict(**prompt, return_logits=True)
    assert_prediction_matches(fast, ref, "low-rank vs oracle")
    for _ in _reference_path(pair.ours):
        slow = pair.ours.predict(**prompt)
    assert len(calls) == 1, "the reference path must not use the low-rank path"
    assert max_diff(fast[1], slow[1]) <= IOU_ATOL
    assert_scaled_close(fast[2], slow[2], "low-rank vs reference path low-res logits")


@pytest.mark.parametrize("multimask", [True, False])
@pytest.mark.parametrize("photo", ["dog.jpg", "rocket_portrait.jpg"])
def test_one_point(encoded: Encoded, low_rank_calls: list[int], photo: str, multimask: bool) -> None:
    pair = encoded(photo)
    point = image_prompts(pair.height, pair.width)["positive"]
    _compare_numpy_prompt(
        pair, low_rank_calls, point_coords=point, point_labels=np.array([1]), multimask_output=multimask
    )


def test_positive_and_negative_points(encoded: Encoded, low_rank_calls: list[int]) -> None:
    pair = encoded("chelsea.jpg")
    p = image_prompts(pair.height, pair.width)
    coords = np.concatenate([p["positive"], p["negative"]])
    _compare_numpy_prompt(pair, low_rank_calls, point_coords=coords, point_labels=np.array([1, 0]))


@pytest.mark.parametrize("multimask", [True, False])
def test_box(encoded: Encoded, low_rank_calls: list[int], multimask: bool) -> None:
    pair = encoded("astronaut.jpg")
    box = image_prompts(pair.height, pair.width)["box"]
    _compare_numpy_prompt(pair, low_rank_calls, box=box, multimask_output=multimask)


def test_box_and_points(encoded: Encoded, low_rank_calls: list[int]) -> None:
    pair = encoded("dog.jpg")
    p = image_prompts(pair.height, pair.width)
    coords = np.concatenate([p["positive"], p["negative"]])
    _compare_numpy_prompt(
        pair, low_rank_calls, point_coords=coords, point_labels=np.array([1, 0]), box=p["box"]
    )


def test_batched_points_and_boxes(encoded: Encoded, low_rank_calls: list[int]) -> None:
    pair = encoded("chelsea.jpg")
    h, w = pair.height, pair.width
    boxes = torch.tensor([[0.1 * w, 0.1 * h, 0.5 * w, 0.6 * h], [0.4 * w, 0.3 * h, 0.95 * w, 0.9 * h]] * 2)
    points = torch.tensor(
        [[[0.3 * w, 0.3 * h], [0.05 * w, 0.9 * h]], [[0.7 * w, 0.6 * h], [0.5 * w, 0.5 * h]]] * 2
    )
    labels = torch.tensor([[1, 0], [1, -1], [0, 1], [1, 1]])
    ref_points = pair.oracle.transform.apply_coords_torch(points, pair.oracle.original_size)
    ref_boxes = pair.oracle.transform.apply_boxes_torch(boxes, pair.oracle.original_size)
    our_points = pair.ours.transform.apply_coords_torch(points, pair.ours.original_size)
    our_boxes = pair.ours.transform.apply_boxes_torch(boxes, pair.ours.original_size)
    for multimask in (True, False):
        _, ref_scores, ref_low = pair.oracle.predict_torch(
            ref_points, labels, boxes=ref_boxes, multimask_output=multimask
        )
        low, scores = pair.ours.predict_low_res_torch(
            our_points, labels, our_boxes, multimask_output=multimask
        )
        assert max_diff(scores, ref_scores) <= IOU_ATOL
        assert_scaled_close(low, ref_low, f"batched points+boxes (multimask={multimask})")
    assert low_rank_calls == [4, 4]


def _compare_point_batch(
    pair: EncodedPair, points: torch.Tensor, labels: torch.Tensor, what: str
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Our `predict_low_res_torch` on a batch of point prompts (multimask) against the oracle's `predict_torch`.

    Returns our low-res logits, scores and the points in the model's input frame.
    """
    ref_points = pair.oracle.transform.apply_coords_torch(points, pair.oracle.original_size)
    _, ref_scores, ref_low = pair.oracle.predict_torch(ref_points, labels, multimask_output=True)
    our_points = pair.ours.transform.apply_coords_torch(points, pair.ours.original_size)
    low, scores = pair.ours.predict_low_res_torch(our_points, labels, multimask_output=True)
    assert max_diff(scores, ref_scores) <= IOU_ATOL
    assert_scaled_close(low, ref_low, what)
    return low, scores, our_points


@pytest.mark.parametrize("chunk_tokens", [64 * 5, 100])
def test_upscaling_in_row_bands_matches_the_oracle(
    encoded: Encoded, low_rank_calls: list[int], monkeypatch: pytest.MonkeyPatch, chunk_tokens: int
) -> None:
    """The whole 64 x 64 grid is one upscaling chunk by default; larger grids go in bands of rows, here forced
    (5 rows per band, the last one shorter; or one row per band) for two prompts."""
    monkeypatch.setattr(mask_decoder_module, "_UPSCALE_CHUNK_TOKENS", chunk_tokens)
    pair = encoded("dog.jpg")
    h, w = pair.height, pair.width
    points = torch.tensor([[[0.3 * w, 0.4 * h]], [[0.6 * w, 0.7 * h]]])
    labels = torch.ones(2, 1, dtype=torch.int64)
    _compare_point_batch(pair, points, labels, f"upscaling in bands of {chunk_tokens} tokens")
    assert low_rank_calls == [2]


def test_amg_style_point_batch(encoded: Encoded, low_rank_calls: list[int]) -> None:
    """A points_per_batch=20 batch of single positive points (split into passes inside the low-rank path)."""
    pair = encoded("rocket_portrait.jpg")
    grid = (np.stack(np.meshgrid(np.arange(5), np.arange(4)), axis=-1).reshape(-1, 2) + 0.5) / np.array(
        [5, 4]
    )
    points = torch.as_tensor(grid * np.array([pair.width, pair.height]), dtype=torch.float32)[:, None, :]
    labels = torch.ones(points.shape[:2], dtype=torch.int64)
    low, scores, our_points = _compare_point_batch(
        pair, points, labels, "AMG-style point batch low-res logits"
    )
    assert low_rank_calls == [20]
    for _ in _reference_path(pair.ours):
        slow, slow_scores = pair.ours.predict_low_res_torch(our_points, labels, multimask_output=True)
    assert max_diff(scores, slow_scores) <= IOU_ATOL
    assert_scaled_close(low, slow, "AMG-style point batch vs reference path")


def test_mask_input_takes_the_reference_path(encoded: Encoded, low_rank_calls: list[int]) -> None:
    pair = encoded("dog.jpg")
    p = image_prompts(pair.height, pair.width)
    _, scores, first = pair.oracle.predict(p["positive"], np.array([1]), multimask_output=True)
    prompt = {
        "point_coords": p["positive"],
        "point_labels": np.array([1]),
        "mask_input": first[int(np.argmax(scores))][None],
        "multimask_output": False,
    }
    ours = pair.ours.predict(**prompt)
    assert low_rank_calls == []
    assert_prediction_matches(ours, pair.oracle.predict(**prompt, return_logits=True), "mask_input")


def test_cache_follows_the_image(reduced_twins: tuple[torch.nn.Module, torch.nn.Module]) -> None:
    """set_image / set_image_embedding / reset_image never leave a cache of the previous image in use."""
    reference, ours = reduced_twins
    predictor, oracle = SamPredictor(ours), OraclePredictor(reference)
    point, label = np.array([[60.5, 40.25]]), np.array([1])
    embeddings = {}
    for photo in ("chelsea.jpg", "astronaut.jpg"):
        image = load_photo(photo)
        predictor.set_image(image)
        oracle.set_image(image)
        embeddings[photo] = (predictor.get_image_embedding(), image.shape[:2])
        ref = oracle.predict(point, label, return_logits=True)
        assert_prediction_matches(predictor.predict(point, label), ref, f"after set_image({photo})")
    # Back to the first image through its embedding: the answer must be the first image's again.
    embedding, size = embeddings["chelsea.jpg"]
    predictor.set_image_embedding(embedding.clone(), original_size=size)
    oracle.set_image(load_photo("chelsea.jpg"))
    ref = oracle.predict(point, label, return_logits=True)
    assert_prediction_matches(predictor.predict(point, label), ref, "after set_image_embedding")
    predictor.reset_image()
    with pytest.raises(ValueError):
        predictor.predict(point, label)


def test_cache_follows_the_weights(encoded: Encoded, low_rank_calls: list[int]) -> None:
    """Weights changed in place after the cache was built: it is rebuilt, never used stale."""
    pair = encoded("astronaut.jpg")
    point = image_prompts(pair.height, pair.width)["positive"]
    decoder = pair.ours.model.mask_decoder
    pair.ours.predict(point, np.array([1]))
    weights = [
        decoder.transformer.layers[1].norm4.weight,
        pair.ours.model.prompt_encoder.no_mask_embed.weight,
    ]
    for weight in weights:
        with torch.no_grad():
            weight.mul_(1.5)
        try:
            fast = pair.ours.predict(point, np.array([1]))
            for _ in _reference_path(pair.ours):
                slow = pair.ours.predict(point, np.array([1]))
        finally:
            with torch.no_grad():
                weight.div_(1.5)
        assert_scaled_close(fast[2], slow[2], "low-rank path after a weight change")
    assert len(low_rank_calls) == 3


def test_stale_cache_given_to_the_decoder_raises(encoded: Encoded) -> None:
    pair = encoded("dog.jpg")
    model = pair.ours.model
    embedding = pair.ours.get_image_embedding()
    with torch.inference_mode():
        cache = build_image_cache(
            model.mask_decoder,
            embedding.clone(),
            model.prompt_encoder.get_dense_pe(),
            model.prompt_encoder.no_mask_embed.weight[0],
        )
        sparse, dense = model.prompt_encoder(
            (torch.tensor([[[500.0, 400.0]]]), torch.tensor([[1]])), None, None
        )
        with pytest.raises(ValueError, match="stale"):
            decode_with_cache(model.mask_decoder, cache, embedding, cache.image_pe, sparse, dense, True)
        # Built for this embedding, but called with another positional encoding.
        cache = build_image_cache(model.mask_decoder, embedding, cache.image_pe, cache.dense)
        with pytest.raises(ValueError, match="stale"):
            decode_with_cache(model.mask_decoder, cache, embedding, cache.image_pe * 2.0, sparse, dense, True)
        decode_with_cache(model.mask_decoder, cache, embedding, cache.image_pe.clone(), sparse, dense, True)


def test_training_uses_the_reference_path_with_gradients(
    encoded: Encoded, low_rank_calls: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    pair = encoded("chelsea.jpg")
    model = pair.ours.model
    decoder, prompt_encoder = model.mask_decoder, model.prompt_encoder
    embedding = pair.ours.get_image_embedding().clone()
    pe, no_mask = prompt_encoder.get_dense_pe(), prompt_encoder.no_mask_embed.weight[0].detach()
    with torch.no_grad():
        cache = build_image_cache(decoder, embedding, pe, no_mask)
    points = (torch.tensor([[[300.0, 200.0]], [[100.0, 500.0]]]), torch.tensor([[1], [1]]))
    sparse, dense = prompt_encoder(points, None, None)
    decoder.zero_grad()
    logits, iou = decode_with_cache(decoder, cache, embedding, pe, sparse, dense, True)
    assert low_rank_calls == []
    (logits.square().mean() + iou.sum()).backward()
    grad = decoder.transformer.layers[0].cross_attn_image_to_token.q_proj.weight.grad
    assert grad is not None and grad.abs().sum() > 0
    decoder.zero_grad()
    # Without gradients the same call takes the low-rank path and gives the same answer.
    with torch.no_grad():
        fast_logits, fast_iou = decode_with_cache(decoder, cache, embedding, pe, sparse, dense, True)
    assert low_rank_calls == [2]
    assert_scaled_close(fast_logits, logits, "no_grad low-rank vs training path")
    assert max_diff(fast_iou, iou) <= IOU_ATOL
    # Tracing (ONNX export) also takes the reference path.
    monkeypatch.setattr(torch.jit, "is_tracing", lambda: True)
    with torch.no_grad():
        decode_with_cache(decoder, cache, embedding, pe, sparse, dense, True)
    assert low_rank_calls == [2]

"""Predictor features beyond the official API, each checked against the oracle used the official way:
many boxes per call, several images per call, embeddings reused across predictors, and image inputs other
than H x W x 3 uint8 RGB (compared with the oracle fed the documented conversion of the same image)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from core_testing import (
    FIXTURES_DIR,
    REDUCED_ENCODER,
    EncodedPair,
    assert_prediction_matches,
    assert_scaled_close,
    image_prompts,
)
from PIL import Image
from segment_anything import SamPredictor as OraclePredictor

from segany.embedding_file import ImageEmbedding
from segany.io.image_convert import as_rgb_uint8
from segany.predictor import SamPredictor
from segany.registry import SamConfig, build_sam

Encoded = Callable[[str], EncodedPair]


def _boxes(pair: EncodedPair) -> np.ndarray:
    h, w = pair.height, pair.width
    return np.array(
        [
            [0.1 * w, 0.1 * h, 0.5 * w, 0.6 * h],
            [0.4 * w, 0.3 * h, 0.95 * w, 0.9 * h],
            [0.2 * w, 0.5 * h, 0.3 * w, 0.7 * h],
        ]
    )


@pytest.mark.parametrize("multimask", [False, True])
def test_predict_with_n_boxes_equals_n_oracle_calls(encoded: Encoded, multimask: bool) -> None:
    pair = encoded("dog.jpg")
    boxes = _boxes(pair)
    masks, scores, low_res = pair.ours.predict(box=boxes, multimask_output=multimask)
    count = 3 if multimask else 1
    assert masks.shape == (len(boxes), count, pair.height, pair.width)
    assert scores.shape == (len(boxes), count) and low_res.shape == (len(boxes), count, 256, 256)
    for i, box in enumerate(boxes):
        ref = pair.oracle.predict(box=box, multimask_output=multimask, return_logits=True)
        assert_prediction_matches((masks[i], scores[i], low_res[i]), ref, f"box {i}")


def test_predict_boxes_with_their_own_points_and_masks(encoded: Encoded) -> None:
    pair = encoded("rocket_portrait.jpg")
    boxes = _boxes(pair)
    h, w = pair.height, pair.width
    # Box 0 has two points; boxes 1 and 2 one point each, padded with label -1 (as the oracle would be given).
    coords = np.array(
        [
            [[0.3 * w, 0.35 * h], [0.2 * w, 0.15 * h]],
            [[0.7 * w, 0.6 * h], [0, 0]],
            [[0.25 * w, 0.6 * h], [0, 0]],
        ]
    )
    labels = np.array([[1, 0], [1, -1], [0, -1]])
    rng = np.random.default_rng(0)
    mask_inputs = rng.normal(0, 4, size=(3, 1, 256, 256)).astype(np.float32)
    for mask_input in (None, mask_inputs):
        masks, scores, low_res = pair.ours.predict_boxes(
            boxes, coords, labels, mask_input=mask_input, multimask_output=False
        )
        assert masks.shape == (3, 1, h, w)
        for i in range(3):
            ref = pair.oracle.predict(
                coords[i],
                labels[i],
                box=boxes[i],
                mask_input=None if mask_input is None else mask_input[i],
                multimask_output=False,
                return_logits=True,
            )
            assert_prediction_matches((masks[i], scores[i], low_res[i]), ref, f"box {i} with points")


def test_set_image_batch_and_predict_batch(encoded: Encoded, reduced_twins: tuple) -> None:
    _, ours_model = reduced_twins
    first, second = encoded("chelsea.jpg"), encoded("rocket_portrait.jpg")
    predictor = SamPredictor(ours_model)
    predictor.set_image_batch([first.image, second.image])
    p1, p2 = image_prompts(first.height, first.width), image_prompts(second.height, second.width)
    prompts = [
        {"point_coords": p1["positive"], "point_labels": np.array([1])},
        {"box": np.stack([p2["box"], _boxes(second)[0]])},  # two boxes -> a leading box axis
    ]
    (masks1, scores1, low1), (masks2, scores2, low2) = predictor.predict_batch(prompts, multimask_output=True)
    ref1 = first.oracle.predict(p1["positive"], np.array([1]), multimask_output=True, return_logits=True)
    assert_prediction_matches((masks1, scores1, low1), ref1, "batch image 0")
    assert masks2.shape == (2, 3, second.height, second.width)
    for i, box in enumerate(prompts[1]["box"]):
        ref2 = second.oracle.predict(box=box, multimask_output=True, return_logits=True)
        assert_prediction_matches((masks2[i], scores2[i], low2[i]), ref2, f"batch image 1 box {i}")
    # Several images set: the single-image API refuses rather than guessing which one.
    with pytest.raises(ValueError, match="predict_batch"):
        predictor.predict(p1["positive"], np.array([1]))


def test_image_embeddings_of_a_batch_answer_like_the_oracle(encoded: Encoded, reduced_twins: tuple) -> None:
    """Each embedding of a batch, set alone, answers as the oracle on that image (batched kernels may round
    differently from one image at a time, so within the shared tolerance, not bit for bit)."""
    _, ours_model = reduced_twins
    pairs = [encoded("chelsea.jpg"), encoded("rocket_portrait.jpg")]
    batch = SamPredictor(ours_model)
    batch.set_image_batch([pair.image for pair in pairs])
    records = batch.image_embeddings(model_name="reduced")
    assert [record.original_size for record in records] == [(pair.height, pair.width) for pair in pairs]
    assert [record.input_size for record in records] == [tuple(pair.oracle.input_size) for pair in pairs]
    single = SamPredictor(ours_model)
    for pair, record in zip(pairs, records):
        assert record.model == "reduced" and record.embedding.shape == (1, 256, 64, 64)
        single.set_image_embedding(record)
        p = image_prompts(pair.height, pair.width)
        got = single.predict(p["positive"], np.array([1]), multimask_output=True)
        ref = pair.oracle.predict(p["positive"], np.array([1]), multimask_output=True, return_logits=True)
        assert_prediction_matches(got, ref, "embedding from a batch")


def test_saved_embedding_answers_like_the_live_one(
    encoded: Encoded, reduced_twins: tuple, tmp_path: Path
) -> None:
    _, ours_model = reduced_twins
    pair = encoded("astronaut.jpg")
    path = pair.ours.save_image_embedding(tmp_path / "astronaut", model_name="reduced")
    assert path.suffix == ".npz" and path.is_file()
    record = ImageEmbedding.load(path)
    assert record.original_size == (pair.height, pair.width)
    assert record.input_size == tuple(pair.oracle.input_size)
    assert record.image_size == 1024 and record.model == "reduced"

    fresh = SamPredictor(ours_model)
    fresh.load_image_embedding(path)
    assert torch.equal(fresh.get_image_embedding(), pair.ours.get_image_embedding())
    p = image_prompts(pair.height, pair.width)
    for prompt in ({"point_coords": p["positive"], "point_labels": np.array([1])}, {"box": p["box"]}):
        got = fresh.predict(**prompt)
        live = pair.ours.predict(**prompt)
        for a, b in zip(got, live):
            np.testing.assert_array_equal(a, b)
        assert_prediction_matches(got, pair.oracle.predict(**prompt, return_logits=True), "loaded embedding")


def test_embedding_for_another_input_size_is_refused(encoded: Encoded, tmp_path: Path) -> None:
    pair = encoded("astronaut.jpg")
    path = pair.ours.save_image_embedding(tmp_path / "a.npz")
    small = build_sam(SamConfig(REDUCED_ENCODER, image_size=512))
    with pytest.raises(ValueError, match="1024"):
        SamPredictor(small).load_image_embedding(path)


@pytest.mark.parametrize("as_tensor", [False, True])
def test_set_image_embedding_with_the_oracles_raw_embedding(
    encoded: Encoded, reduced_twins: tuple, as_tensor: bool
) -> None:
    _, ours_model = reduced_twins
    pair = encoded("dog.jpg")
    raw = pair.oracle.get_image_embedding()
    predictor = SamPredictor(ours_model)
    predictor.set_image_embedding(raw if as_tensor else raw.numpy(), original_size=(pair.height, pair.width))
    assert predictor.input_size == tuple(pair.oracle.input_size)
    p = image_prompts(pair.height, pair.width)
    coords = np.concatenate([p["positive"], p["negative"]])
    got = predictor.predict(coords, np.array([1, 0]), box=p["box"])
    ref = pair.oracle.predict(coords, np.array([1, 0]), box=p["box"], return_logits=True)
    assert_prediction_matches(got, ref, "raw oracle embedding")


# ---------------------------------------------------------------------------------------------- image inputs
def _our_embedding(model: torch.nn.Module, image: object, image_format: str = "RGB") -> torch.Tensor:
    predictor = SamPredictor(model)
    predictor.set_image(image, image_format=image_format)
    return predictor.get_image_embedding()


def _sixteen_bit(image: np.ndarray) -> np.ndarray:
    """uint16 whose documented 8-bit conversion round(v / 257) is `image` again: offsets up to +-128."""
    rng = np.random.default_rng(1)
    offsets = rng.integers(-128, 129, size=image.shape)
    offsets.flat[:2] = (-128, 128)  # the rounding boundaries themselves
    return np.clip(image.astype(np.int64) * 257 + offsets, 0, 65535).astype(np.uint16)


def _variants(image: np.ndarray) -> dict[str, tuple[object, str]]:
    alpha = np.random.default_rng(2).integers(0, 256, size=image.shape[:2], dtype=np.uint8)
    return {
        "pil_rgb": (Image.fromarray(image), "RGB"),
        "rgba": (np.dstack([image, alpha]), "RGB"),
        "bgr": (np.ascontiguousarray(image[:, :, ::-1]), "BGR"),
        "uint16": (_sixteen_bit(image), "RGB"),
        "non_contiguous": (np.asfortranarray(image), "RGB"),
    }


@pytest.mark.parametrize("variant", ["pil_rgb", "rgba", "bgr", "uint16", "non_contiguous"])
def test_colour_image_inputs_match_the_oracle(encoded: Encoded, reduced_twins: tuple, variant: str) -> None:
    _, ours_model = reduced_twins
    pair = encoded("chelsea.jpg")
    image, image_format = _variants(pair.image)[variant]
    assert_scaled_close(
        _our_embedding(ours_model, image, image_format), pair.oracle.get_image_embedding(), variant
    )


def test_grayscale_inputs_match_the_oracle_on_replicated_channels(reduced_twins: tuple) -> None:
    reference, ours_model = reduced_twins
    gray_pil = Image.open(FIXTURES_DIR / "rocket_portrait.jpg").convert("L")
    gray = np.asarray(gray_pil)
    oracle = OraclePredictor(reference)
    oracle.set_image(np.repeat(gray[:, :, None], 3, axis=2))  # the documented conversion
    expected = oracle.get_image_embedding()
    for label, image in (("H x W", gray), ("PIL L", gray_pil)):
        assert_scaled_close(_our_embedding(ours_model, image), expected, f"grayscale {label}")
    # H x W x 1 converts exactly like H x W (checked without another encoder pass).
    np.testing.assert_array_equal(as_rgb_uint8(gray[:, :, None]), np.repeat(gray[:, :, None], 3, axis=2))

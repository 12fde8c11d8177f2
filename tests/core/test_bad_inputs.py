"""User mistakes raise ValueError / TypeError naming the argument; legitimate edge cases keep working."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch
from core_testing import EncodedPair, assert_prediction_matches

from segany.predictor import ImageNotSetError, SamPredictor

Encoded = Callable[[str], EncodedPair]
HEIGHT, WIDTH = 300, 451


@pytest.fixture(scope="module")
def predictor(reduced_twins: tuple) -> SamPredictor:
    """A predictor with a random embedding of a 451 x 300 (W x H) image: prompts are checked, nothing encoded."""
    _, ours = reduced_twins
    predictor = SamPredictor(ours)
    embedding = torch.randn(1, 256, 64, 64, generator=torch.Generator().manual_seed(0))
    predictor.set_image_embedding(embedding.numpy(), original_size=(HEIGHT, WIDTH))
    return predictor


ONE_POINT = np.array([[100.0, 120.0]])
ONE_LABEL = np.array([1])
BOX = np.array([50.0, 40.0, 300.0, 250.0])

BAD_PROMPTS = {
    "coords 1-D": (
        {"point_coords": np.array([100.0, 120.0]), "point_labels": ONE_LABEL},
        ValueError,
        "point_coords",
    ),
    "coords N x 3": (
        {"point_coords": np.ones((1, 3)), "point_labels": ONE_LABEL},
        ValueError,
        "point_coords",
    ),
    "coords empty": (
        {"point_coords": np.zeros((0, 2)), "point_labels": np.zeros(0)},
        ValueError,
        "point_coords",
    ),
    "coords text": ({"point_coords": "10, 20", "point_labels": ONE_LABEL}, TypeError, "point_coords"),
    "coords ragged": ({"point_coords": [[1, 2], [3]], "point_labels": [1, 1]}, TypeError, "point_coords"),
    "labels too few": (
        {"point_coords": np.ones((2, 2)), "point_labels": ONE_LABEL},
        ValueError,
        "point_labels",
    ),
    "labels 2-D": (
        {"point_coords": np.ones((2, 2)), "point_labels": np.ones((2, 1))},
        ValueError,
        "point_labels",
    ),
    "labels unknown value": (
        {"point_coords": ONE_POINT, "point_labels": np.array([2])},
        ValueError,
        "point_labels",
    ),
    "labels missing": ({"point_coords": ONE_POINT}, ValueError, "point_labels"),
    "coords missing": ({"point_labels": ONE_LABEL}, ValueError, "point_coords"),
    "coords NaN": (
        {"point_coords": np.array([[np.nan, 3.0]]), "point_labels": ONE_LABEL},
        ValueError,
        "point_coords",
    ),
    "coords inf": (
        {"point_coords": np.array([[np.inf, 3.0]]), "point_labels": ONE_LABEL},
        ValueError,
        "point_coords",
    ),
    "labels NaN": (
        {"point_coords": ONE_POINT, "point_labels": np.array([np.nan])},
        ValueError,
        "point_labels",
    ),
    "point far right": (
        {"point_coords": np.array([[2.5 * WIDTH, 10.0]]), "point_labels": ONE_LABEL},
        ValueError,
        "point_coords",
    ),
    "point far above": (
        {"point_coords": np.array([[10.0, -1.2 * HEIGHT]]), "point_labels": ONE_LABEL},
        ValueError,
        "point_coords",
    ),
    "point (y, x) swapped far": (
        {"point_coords": np.array([[10.0, 700.0]]), "point_labels": ONE_LABEL},
        ValueError,
        "point_coords",
    ),
    "box x1 < x0": ({"box": np.array([300.0, 40.0, 50.0, 250.0])}, ValueError, "box"),
    "box y1 < y0": ({"box": np.array([50.0, 250.0, 300.0, 40.0])}, ValueError, "box"),
    "box 3 numbers": ({"box": np.array([1.0, 2.0, 3.0])}, ValueError, "box"),
    "box N x 5": ({"box": np.ones((2, 5))}, ValueError, "box"),
    "box NaN": ({"box": np.array([np.nan, 1.0, 2.0, 3.0])}, ValueError, "box"),
    "box inf": ({"box": np.array([0.0, 1.0, np.inf, 3.0])}, ValueError, "box"),
    "box far away": ({"box": np.array([3 * WIDTH, 10.0, 4 * WIDTH, 20.0])}, ValueError, "box"),
    "mask 128 x 128": ({"box": BOX, "mask_input": np.zeros((1, 128, 128))}, ValueError, "mask_input"),
    "mask 3 x 256 x 256": ({"box": BOX, "mask_input": np.zeros((3, 256, 256))}, ValueError, "mask_input"),
    "mask 1 x 1 x 256": ({"box": BOX, "mask_input": np.zeros((1, 1, 256))}, ValueError, "mask_input"),
    "mask NaN": ({"box": BOX, "mask_input": np.full((1, 256, 256), np.nan)}, ValueError, "mask_input"),
    "multimask not bool": ({"box": BOX, "multimask_output": "yes"}, TypeError, "multimask_output"),
}


@pytest.mark.parametrize("case", sorted(BAD_PROMPTS))
def test_bad_prompt_names_the_argument(predictor: SamPredictor, case: str) -> None:
    kwargs, error, name = BAD_PROMPTS[case]
    with pytest.raises(error, match=name):
        predictor.predict(**kwargs)


def test_predictor_still_works_after_a_refused_prompt(predictor: SamPredictor) -> None:
    with pytest.raises(ValueError):
        predictor.predict(box=np.array([300.0, 40.0, 50.0, 250.0]))
    masks, scores, low_res = predictor.predict(ONE_POINT, ONE_LABEL)
    assert masks.shape == (3, HEIGHT, WIDTH) and scores.shape == (3,) and low_res.shape == (3, 256, 256)


@pytest.mark.parametrize(
    "kwargs,name",
    [
        (
            {"boxes": np.ones((2, 4)), "point_coords": np.ones((3, 1, 2)), "point_labels": np.ones((3, 1))},
            "point_coords",
        ),
        (
            {"boxes": np.ones((2, 4)), "point_coords": np.ones((2, 1, 2)), "point_labels": np.ones((2, 2))},
            "point_labels",
        ),
        ({"boxes": np.ones((2, 4)), "mask_input": np.zeros((3, 1, 256, 256))}, "mask_input"),
        (
            {"boxes": np.ones((2, 4)), "point_coords": np.ones((2, 2)), "point_labels": np.ones(2)},
            "point_coords",
        ),
    ],
)
def test_bad_batched_box_prompts(predictor: SamPredictor, kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        predictor.predict_boxes(**kwargs)


def test_points_slightly_outside_the_image_match_the_oracle(encoded: Encoded) -> None:
    pair = encoded("chelsea.jpg")
    h, w = pair.height, pair.width
    coords = np.array([[-20.0, 0.5 * h], [w + 15.0, h + 30.0], [0.4 * w, -0.9 * h]])  # all outside, none far
    labels = np.array([1, 0, 1])
    box = np.array([-10.0, -5.0, w + 12.0, h + 4.0])
    for prompt in (
        {"point_coords": coords, "point_labels": labels},
        {"box": box},
        {"point_coords": coords, "point_labels": labels, "box": box},
    ):
        got = pair.ours.predict(**prompt)
        ref = pair.oracle.predict(**prompt, return_logits=True)
        assert_prediction_matches(got, ref, f"outside prompt {sorted(prompt)}")


def test_predict_before_set_image(reduced_twins: tuple) -> None:
    _, ours = reduced_twins
    predictor = SamPredictor(ours)
    for call in (
        lambda: predictor.predict(ONE_POINT, ONE_LABEL),
        lambda: predictor.predict_boxes(np.array([BOX])),
        lambda: predictor.predict_torch(torch.ones(1, 1, 2), torch.ones(1, 1)),
        lambda: predictor.get_image_embedding(),
        lambda: predictor.predict_batch([{}]),
    ):
        with pytest.raises(ImageNotSetError, match="set_image"):
            call()
    assert issubclass(ImageNotSetError, ValueError)  # callers catching ValueError see it too


def test_reset_image_forgets_the_image(reduced_twins: tuple) -> None:
    _, ours = reduced_twins
    predictor = SamPredictor(ours)
    predictor.set_image_embedding(np.zeros((1, 256, 64, 64), np.float32), original_size=(10, 20))
    assert predictor.is_image_set
    predictor.reset_image()
    with pytest.raises(ImageNotSetError):
        predictor.predict(ONE_POINT, ONE_LABEL)


@pytest.mark.parametrize(
    "image,image_format,error,name",
    [
        (np.zeros((0, 0, 3), np.uint8), "RGB", ValueError, "image"),
        (np.zeros((0, 0), np.uint8), "RGB", ValueError, "image"),
        (np.zeros((5, 0, 3), np.uint8), "RGB", ValueError, "image"),
        (np.zeros((3, 40, 50), np.uint8), "RGB", ValueError, "H x W x C"),
        (np.zeros((4, 4, 3, 1), np.uint8), "RGB", ValueError, "image"),
        (np.zeros((4, 4, 3), np.uint8), "RBG", ValueError, "image_format"),
        (np.zeros((4, 4, 3), np.uint8), "rgb", ValueError, "image_format"),
        (np.zeros((4, 4, 3), np.uint8), 3, TypeError, "image_format"),
        (np.full((4, 4, 3), 200.0), "RGB", ValueError, "image"),
        (np.zeros((4, 4, 3), np.int32), "RGB", TypeError, "dtype"),
        ([[1, 2], [3, 4]], "RGB", TypeError, "image"),
        ("photo.jpg", "RGB", TypeError, "image"),
    ],
    ids=[
        "empty 0x0x3",
        "empty 0x0",
        "zero width",
        "CHW",
        "4-D",
        "RBG",
        "lower-case",
        "int format",
        "0..255 float",
        "int32",
        "list",
        "path string",
    ],
)
def test_bad_images(
    reduced_twins: tuple, image: object, image_format: object, error: type, name: str
) -> None:
    _, ours = reduced_twins
    with pytest.raises(error, match=name):
        SamPredictor(ours).set_image(image, image_format=image_format)


def test_bad_image_batches(reduced_twins: tuple) -> None:
    _, ours = reduced_twins
    predictor = SamPredictor(ours)
    with pytest.raises(TypeError, match="images"):
        predictor.set_image_batch(np.zeros((2, 8, 8, 3), np.uint8))
    with pytest.raises(TypeError, match="images"):
        predictor.set_image_batch([])
    with pytest.raises(ValueError, match="image"):
        predictor.set_image_batch([np.zeros((8, 8, 3), np.uint8), np.zeros((0, 8, 3), np.uint8)])


def test_bad_predict_batch_prompts(predictor: SamPredictor) -> None:
    with pytest.raises(ValueError, match="prompts"):
        predictor.predict_batch([{"box": BOX}, {"box": BOX}])
    with pytest.raises(ValueError, match="boxes"):
        predictor.predict_batch([{"boxes": BOX}])


def test_bad_embeddings(reduced_twins: tuple) -> None:
    _, ours = reduced_twins
    predictor = SamPredictor(ours)
    with pytest.raises(ValueError, match="original_size"):
        predictor.set_image_embedding(np.zeros((1, 256, 64, 64), np.float32))
    with pytest.raises(ValueError, match="embedding"):
        predictor.set_image_embedding(np.zeros((256, 64, 64), np.float32), original_size=(10, 10))
    with pytest.raises(ValueError, match="embedding"):
        predictor.set_image_embedding(np.zeros((1, 256, 32, 32), np.float32), original_size=(10, 10))


def test_bad_predict_torch_shapes(predictor: SamPredictor) -> None:
    with pytest.raises(ValueError, match="point_coords"):
        predictor.predict_torch(torch.ones(1, 2), torch.ones(1, 1))
    with pytest.raises(ValueError, match="point_coords"):
        predictor.predict_torch(torch.ones(1, 1, 2), None)
    with pytest.raises(ValueError, match="boxes"):
        predictor.predict_torch(None, None, boxes=torch.ones(2, 3))

"""The shared prompt front end (segany.prompts) and exception hierarchy (segany.errors)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import segany.onnx.runtime
import segany.predictor
from segany.errors import ImageNotSetError, PromptError, PromptTypeError, SeganyError
from segany.prompts import check_prompt_keys, is_box_batch, normalize_prompts

SIZE = (300, 451)  # H, W
LOW_RES = (256, 256)


def _normalize(**prompt: object) -> object:
    args = {key: prompt.pop(key, None) for key in ("point_coords", "point_labels", "box", "mask_input")}
    return normalize_prompts(
        *args.values(), original_size=SIZE, low_res_size=LOW_RES, batched=bool(prompt.pop("batched", False))
    )


def test_both_predictors_raise_the_same_classes() -> None:
    assert segany.predictor.ImageNotSetError is ImageNotSetError
    assert segany.onnx.runtime.ImageNotSetError is ImageNotSetError
    for cls in (ImageNotSetError, PromptError, PromptTypeError):
        assert issubclass(cls, SeganyError) and issubclass(cls, ValueError)
    assert issubclass(ImageNotSetError, RuntimeError) and issubclass(PromptTypeError, TypeError)


def test_prompt_error_names_the_argument_and_survives_pickling() -> None:
    with pytest.raises(PromptError) as caught:
        _normalize(point_coords=[[1.0, 2.0]], point_labels=[7])
    assert caught.value.argument == "point_labels" and "point_labels" in str(caught.value)
    copy = pickle.loads(pickle.dumps(caught.value))
    assert type(copy) is PromptError and copy.argument == "point_labels" and str(copy) == str(caught.value)
    with pytest.raises(PromptTypeError) as typed:
        _normalize(box="0 0 10 10")
    assert typed.value.argument == "box"


def test_normalized_shapes_have_a_leading_object_axis() -> None:
    one = _normalize(point_coords=[[10, 20], [30, 40]], point_labels=[1, 0], box=[1, 2, 50, 60])
    assert one.count == 1
    assert one.point_coords.shape == (1, 2, 2) and one.point_coords.dtype == np.float64
    assert one.point_labels.tolist() == [[1, 0]] and one.point_labels.dtype == np.int64
    assert one.boxes.tolist() == [[1.0, 2.0, 50.0, 60.0]] and one.mask_input is None
    masks = np.zeros((1, 256, 256), dtype=np.float64)
    many = _normalize(box=np.ones((3, 4)) * [0, 0, 5, 5], mask_input=masks, batched=True)
    assert (
        many.count == 3 and many.mask_input.shape == (3, 1, 256, 256) and many.mask_input.dtype == np.float32
    )
    with pytest.raises(PromptError, match="one point set per box") as caught:
        _normalize(point_coords=[[[1, 1]]], point_labels=[[1]], box=np.ones((2, 4)), batched=True)
    assert caught.value.argument == "point_coords"


def test_batch_helpers() -> None:
    assert is_box_batch(np.ones((2, 4))) and not is_box_batch(np.ones((1, 4))) and not is_box_batch(None)
    check_prompt_keys({"box": [0, 0, 1, 1]})
    with pytest.raises(PromptError, match="boxes") as caught:
        check_prompt_keys({"boxes": [0, 0, 1, 1]})
    assert caught.value.argument == "prompts"

"""Validation and normalisation of user prompts, shared by SamPredictor, OnnxPredictor and the server.

Torch-free (numpy only). `normalize_prompts` turns the numpy API's arguments (arrays or nested lists, in
original-image pixels) into one `PromptSet`: every prompt kind with a leading object axis, checked against the
image. Every error is a `segany.errors.PromptError` naming the argument, the expected form and what was given.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from segany.errors import PromptError, PromptTypeError

VALID_POINT_LABELS = (-1, 0, 1)
# Points may lie outside the image (the model simply encodes them, as the reference does), but a point more
# than one image size beyond the border is almost surely a unit or axis mix-up (e.g. (y, x) or normalised).
OUTSIDE_MARGIN = 1.0
PROMPT_KEYS = ("point_coords", "point_labels", "box", "mask_input")


@dataclass(frozen=True)
class PromptSet:
    """Checked prompts for `count` objects of one image, all in original-image pixels."""

    count: int
    point_coords: np.ndarray | None  # count x K x 2 float64, (x, y)
    point_labels: np.ndarray | None  # count x K int64: 1 foreground, 0 background, -1 padding
    boxes: np.ndarray | None  # count x 4 float64, XYXY
    mask_input: np.ndarray | None  # count x 1 x h x w float32 low-res logits of an earlier prediction
    multimask_output: bool


def is_box_batch(box: Any) -> bool:
    """Whether `box` holds several boxes (N x 4, N > 1): the numpy API then answers with a leading N axis."""
    return box is not None and np.ndim(box) == 2 and np.shape(box)[0] > 1


def check_multimask_output(multimask_output: Any) -> bool:
    if not isinstance(multimask_output, (bool, np.bool_)):
        raise PromptTypeError(
            f"multimask_output must be a bool, got {type(multimask_output).__name__}", "multimask_output"
        )
    return bool(multimask_output)


def check_prompt_keys(prompt: Mapping[str, Any]) -> None:
    """A prompt dict (as `predict_batch` and the server take) holds only the numpy API's prompt arguments."""
    if not isinstance(prompt, Mapping):
        raise PromptTypeError(
            f"a prompt must be a dict of {', '.join(PROMPT_KEYS)}, got {_describe(prompt)}", "prompts"
        )
    unknown = set(prompt) - set(PROMPT_KEYS)
    if unknown:
        raise PromptError(f"prompts may hold {', '.join(PROMPT_KEYS)}; got {sorted(unknown)}", "prompts")


def normalize_prompts(
    point_coords: Any,
    point_labels: Any,
    box: Any,
    mask_input: Any,
    *,
    original_size: tuple[int, int],
    low_res_size: tuple[int, int],
    batched: bool,
    multimask_output: Any = True,
) -> PromptSet:
    """Check the numpy API's prompt arguments for an image of `original_size` (H, W).

    Args:
        point_coords / point_labels: N x 2 and N (or, `batched`, B x N x 2 and B x N: one point set per box).
        box: (4,) or B x 4 XYXY. mask_input: 1 x h x w (or B x 1 x h x w) low-res logits, h x w = `low_res_size`.
    """
    multimask = check_multimask_output(multimask_output)
    boxes = None
    count = 1
    if box is not None:
        boxes = check_boxes(box, original_size)
        count = boxes.shape[0]
    coords = labels = None
    if point_coords is not None or point_labels is not None:
        if point_coords is None:
            raise PromptError("point_coords must be given with point_labels", "point_coords")
        coords, labels = check_points(point_coords, point_labels, original_size, batched=batched)
        if not batched:
            coords, labels = coords[None], labels[None]
        if coords.shape[0] != count:
            raise PromptError(
                f"point_coords must hold one point set per box ({count}), got {coords.shape[0]}",
                "point_coords",
            )
    masks = None if mask_input is None else check_mask_input(mask_input, count, low_res_size)
    return PromptSet(count, coords, labels, boxes, masks, multimask)


def _describe(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"array of shape {value.shape} and dtype {value.dtype}"
    return f"{type(value).__name__} {value!r}"[:120]


def _as_float_array(value: Any, name: str, form: str) -> np.ndarray:
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise PromptTypeError(f"{name} must be {form}, got {_describe(value)}", name) from error
    if not np.all(np.isfinite(array)):
        raise PromptError(f"{name} must be finite (no NaN or inf), got {array.tolist()!r}"[:300], name)
    return array


def check_points(
    point_coords: Any, point_labels: Any, original_size: tuple[int, int], batched: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """N x 2 (x, y) pixel coordinates and N labels (1 foreground, 0 background, -1 padding).

    With `batched`, shapes are B x N x 2 and B x N (one point set per box).
    """
    form = "a B x N x 2 array of (x, y) pixels" if batched else "an N x 2 array of (x, y) pixels"
    if point_labels is None:
        raise PromptError(
            "point_labels must be given with point_coords (1 = foreground, 0 = background)", "point_labels"
        )
    coords = _as_float_array(point_coords, "point_coords", form)
    want_ndim = 3 if batched else 2
    if coords.ndim != want_ndim or coords.shape[-1] != 2 or coords.shape[-2] == 0:
        raise PromptError(f"point_coords must be {form}, got shape {coords.shape}", "point_coords")
    labels = _as_float_array(point_labels, "point_labels", "an array of N labels")
    if labels.shape != coords.shape[:-1]:
        raise PromptError(
            f"point_labels must have one label per point, shape {coords.shape[:-1]}, got shape {labels.shape}",
            "point_labels",
        )
    if not np.all(np.isin(labels, VALID_POINT_LABELS)):
        bad = sorted(set(labels.ravel().tolist()) - set(VALID_POINT_LABELS))
        raise PromptError(
            f"point_labels must be 1 (foreground), 0 (background) or -1 (padding), got {bad}", "point_labels"
        )
    height, width = original_size
    x, y = coords[..., 0], coords[..., 1]
    far = (
        (x < -OUTSIDE_MARGIN * width)
        | (x > (1 + OUTSIDE_MARGIN) * width)
        | (y < -OUTSIDE_MARGIN * height)
        | (y > (1 + OUTSIDE_MARGIN) * height)
    )
    if np.any(far):
        point = coords[far][0].tolist()
        raise PromptError(
            f"point_coords must be (x, y) pixels of the {width}x{height} (WxH) image; {point} lies more than "
            "one image size outside it (points slightly outside are allowed)",
            "point_coords",
        )
    return coords, labels.astype(np.int64)


def check_boxes(box: Any, original_size: tuple[int, int]) -> np.ndarray:
    """(4,) or N x 4 XYXY pixel boxes -> N x 4 float64 array."""
    form = "a (4,) or N x 4 array of XYXY pixel boxes"
    boxes = _as_float_array(box, "box", form)
    if boxes.ndim == 1:
        boxes = boxes[None]
    if boxes.ndim != 2 or boxes.shape[1] != 4 or boxes.shape[0] == 0:
        raise PromptError(f"box must be {form}, got shape {np.shape(box)}", "box")
    inverted = (boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1])
    if np.any(inverted):
        raise PromptError(
            f"box must be XYXY with x1 >= x0 and y1 >= y0, got {boxes[inverted][0].tolist()}", "box"
        )
    height, width = original_size
    outside = (
        (boxes[:, 2] < -OUTSIDE_MARGIN * width)
        | (boxes[:, 0] > (1 + OUTSIDE_MARGIN) * width)
        | (boxes[:, 3] < -OUTSIDE_MARGIN * height)
        | (boxes[:, 1] > (1 + OUTSIDE_MARGIN) * height)
    )
    if np.any(outside):
        raise PromptError(
            f"box must be XYXY pixels of the {width}x{height} (WxH) image; {boxes[outside][0].tolist()} lies "
            "more than one image size outside it",
            "box",
        )
    return boxes


def check_mask_input(mask_input: Any, count: int, low_res_size: tuple[int, int]) -> np.ndarray:
    """1 x h x w (or count x 1 x h x w for batched boxes) low-res logits, as returned by a previous predict."""
    height, width = low_res_size
    form = f"previous low-res logits of shape 1x{height}x{width} (or Bx1x{height}x{width})"
    masks = _as_float_array(mask_input, "mask_input", form)
    if masks.ndim == 2:
        masks = masks[None]
    bad_4d = masks.ndim == 4 and masks.shape[1] != 1
    if masks.ndim not in (3, 4) or masks.shape[-2:] != (height, width) or bad_4d:
        raise PromptError(f"mask_input must be {form}, got shape {np.shape(mask_input)}", "mask_input")
    if masks.ndim == 3:
        if masks.shape[0] != 1:
            raise PromptError(
                f"mask_input must be {form}: pass ONE of the returned low-res masks, e.g. logits[best][None], "
                f"got shape {masks.shape}",
                "mask_input",
            )
        masks = np.broadcast_to(masks[None], (count, 1, height, width))
    if masks.shape[0] != count:
        raise PromptError(
            f"mask_input must hold one mask per box ({count}), got {masks.shape[0]}", "mask_input"
        )
    return masks.astype(np.float32)


__all__ = [
    "PROMPT_KEYS",
    "PromptSet",
    "check_boxes",
    "check_mask_input",
    "check_multimask_output",
    "check_points",
    "check_prompt_keys",
    "is_box_batch",
    "normalize_prompts",
]

"""Validation of user prompts for the numpy predictor API: errors name the argument, form and value."""

from __future__ import annotations

from typing import Any

import numpy as np

VALID_POINT_LABELS = (-1, 0, 1)
# Points may lie outside the image (the model simply encodes them, as the reference does), but a point more
# than one image size beyond the border is almost surely a unit or axis mix-up (e.g. (y, x) or normalised).
OUTSIDE_MARGIN = 1.0


def _describe(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"array of shape {value.shape} and dtype {value.dtype}"
    return f"{type(value).__name__} {value!r}"[:120]


def _as_float_array(value: Any, name: str, form: str) -> np.ndarray:
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name} must be {form}, got {_describe(value)}") from error
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite (no NaN or inf), got {array.tolist()!r}"[:300])
    return array


def check_points(
    point_coords: Any, point_labels: Any, original_size: tuple[int, int], batched: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Nx2 (x, y) pixel coordinates and N labels (1 foreground, 0 background, -1 padding).

    With `batched`, shapes are B x N x 2 and B x N (one point set per box).
    """
    form = "a B x N x 2 array of (x, y) pixels" if batched else "an N x 2 array of (x, y) pixels"
    if point_labels is None:
        raise ValueError("point_labels must be given with point_coords (1 = foreground, 0 = background)")
    coords = _as_float_array(point_coords, "point_coords", form)
    want_ndim = 3 if batched else 2
    if coords.ndim != want_ndim or coords.shape[-1] != 2 or coords.shape[-2] == 0:
        raise ValueError(f"point_coords must be {form}, got shape {coords.shape}")
    labels = _as_float_array(point_labels, "point_labels", "an array of N labels")
    if labels.shape != coords.shape[:-1]:
        raise ValueError(
            f"point_labels must have one label per point, shape {coords.shape[:-1]}, got shape {labels.shape}"
        )
    if not np.all(np.isin(labels, VALID_POINT_LABELS)):
        bad = sorted(set(labels.ravel().tolist()) - set(VALID_POINT_LABELS))
        raise ValueError(f"point_labels must be 1 (foreground), 0 (background) or -1 (padding), got {bad}")
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
        raise ValueError(
            f"point_coords must be (x, y) pixels of the {width}x{height} (WxH) image; {point} lies more than "
            "one image size outside it (points slightly outside are allowed)"
        )
    return coords, labels.astype(np.int64)


def check_boxes(box: Any, original_size: tuple[int, int]) -> np.ndarray:
    """(4,) or N x 4 XYXY pixel boxes -> N x 4 float array."""
    form = "a (4,) or N x 4 array of XYXY pixel boxes"
    boxes = _as_float_array(box, "box", form)
    if boxes.ndim == 1:
        boxes = boxes[None]
    if boxes.ndim != 2 or boxes.shape[1] != 4 or boxes.shape[0] == 0:
        raise ValueError(f"box must be {form}, got shape {np.shape(box)}")
    if np.any(boxes[:, 2] < boxes[:, 0]) or np.any(boxes[:, 3] < boxes[:, 1]):
        bad = boxes[(boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1])][0].tolist()
        raise ValueError(f"box must be XYXY with x1 >= x0 and y1 >= y0, got {bad}")
    height, width = original_size
    outside = (
        (boxes[:, 2] < -OUTSIDE_MARGIN * width)
        | (boxes[:, 0] > (1 + OUTSIDE_MARGIN) * width)
        | (boxes[:, 3] < -OUTSIDE_MARGIN * height)
        | (boxes[:, 1] > (1 + OUTSIDE_MARGIN) * height)
    )
    if np.any(outside):
        raise ValueError(
            f"box must be XYXY pixels of the {width}x{height} (WxH) image; {boxes[outside][0].tolist()} lies "
            "more than one image size outside it"
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
        raise ValueError(f"mask_input must be {form}, got shape {np.shape(mask_input)}")
    if masks.ndim == 3:
        if masks.shape[0] != 1:
            raise ValueError(
                f"mask_input must be {form}: pass ONE of the returned low-res masks, e.g. logits[best][None], "
                f"got shape {masks.shape}"
            )
        masks = np.broadcast_to(masks[None], (count, 1, height, width))
    if masks.shape[0] != count:
        raise ValueError(f"mask_input must hold one mask per box ({count}), got {masks.shape[0]}")
    return masks.astype(np.float32)

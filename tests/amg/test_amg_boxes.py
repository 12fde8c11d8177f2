"""Mask boxes, box formats, the crop-edge filter and uncropping, against the oracle, numpy and pycocotools."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from amg_testing import bool_masks, real_masks
from hypothesis import given, settings
from hypothesis import strategies as st
from pycocotools import mask as coco_mask
from segment_anything.utils import amg as oracle

from segany.amg import (
    batched_mask_to_box,
    box_xywh_to_xyxy,
    box_xyxy_to_xywh,
    generate_crop_boxes,
    is_box_near_crop_edge,
    uncrop_boxes_xyxy,
    uncrop_masks,
    uncrop_points,
)


def _brute_force_box(mask: np.ndarray) -> list[int]:
    ys, xs = np.nonzero(mask)
    return [0, 0, 0, 0] if xs.size == 0 else [xs.min(), ys.min(), xs.max(), ys.max()]


@settings(max_examples=60, deadline=None)
@given(bool_masks(max_batch=4))
def test_mask_to_box_matches_oracle_and_brute_force(masks: np.ndarray) -> None:
    grouped = torch.from_numpy(masks)[:, None]  # B x 1 x H x W: leading dims are kept
    boxes = batched_mask_to_box(grouped)
    assert boxes.shape == (masks.shape[0], 1, 4) and boxes.dtype == torch.int64
    torch.testing.assert_close(boxes, oracle.batched_mask_to_box(grouped), rtol=0, atol=0)
    assert boxes[:, 0].tolist() == [_brute_force_box(m) for m in masks]


def test_mask_to_box_on_real_masks_matches_pycocotools() -> None:
    for mask in real_masks():
        box = batched_mask_to_box(torch.from_numpy(mask))  # 2-D input -> (4,)
        assert box.shape == (4,)
        # pycocotools' XYWH counts pixels (exclusive end); ours is inclusive, so its width is one less.
        x, y, w, h = coco_mask.toBbox(coco_mask.encode(np.asfortranarray(mask.astype(np.uint8))))
        assert box.tolist() == [x, y, x + w - 1, y + h - 1]


def test_mask_to_box_empty_inputs() -> None:
    assert batched_mask_to_box(torch.zeros(0, 5, 6, dtype=torch.bool)).shape == (0, 4)
    assert batched_mask_to_box(torch.zeros(3, 5, 6, dtype=torch.bool)).tolist() == [[0, 0, 0, 0]] * 3
    assert batched_mask_to_box(torch.zeros(2, 0, 6, dtype=torch.bool)).tolist() == [[0, 0, 0, 0]] * 2
    with pytest.raises(TypeError, match="masks"):
        batched_mask_to_box(torch.zeros(2, 5, 6))


boxes_4 = st.lists(st.integers(-50, 50), min_size=4, max_size=4)


@settings(max_examples=60, deadline=None)
@given(st.lists(boxes_4, min_size=1, max_size=5))
def test_xyxy_xywh_round_trip(raw: list[list[int]]) -> None:
    xyxy = torch.tensor(raw)
    xywh = box_xyxy_to_xywh(xyxy)
    assert xywh.tolist() == [[a, b, c - a, d - b] for a, b, c, d in raw]
    torch.testing.assert_close(box_xywh_to_xyxy(xywh), xyxy, rtol=0, atol=0)
    for single in xyxy:  # the official helper converts one box at a time
        assert box_xyxy_to_xywh(single).tolist() == oracle.box_xyxy_to_xywh(single).tolist()
    assert xyxy.tolist() == raw  # inputs untouched


def test_box_format_errors() -> None:
    with pytest.raises(ValueError, match="boxes must have shape ... x 4"):
        box_xyxy_to_xywh(torch.zeros(3, 2))
    with pytest.raises(TypeError, match="boxes"):
        box_xywh_to_xyxy([0, 0, 1, 1])  # type: ignore[arg-type]


image_sizes = st.tuples(st.integers(40, 600), st.integers(40, 600))


@settings(max_examples=60, deadline=None)
@given(image_sizes, st.integers(0, 2), st.integers(0, 2**32 - 1), st.sampled_from([0.0, 5.0, 20.0]))
def test_near_crop_edge_matches_oracle(size: tuple[int, int], layers: int, seed: int, atol: float) -> None:
    h, w = size
    crop_boxes, _ = generate_crop_boxes((h, w), layers, 512 / 1500)
    rng = np.random.default_rng(seed)
    for crop in crop_boxes:
        cw, ch = crop[2] - crop[0], crop[3] - crop[1]
        corners = rng.integers(0, [cw, ch, cw, ch], size=(30, 4))
        # Snap some coordinates onto the crop edges so both outcomes occur.
        corners[:10, 0] = 0
        corners[10:20, 2] = cw - 1 - rng.integers(0, 25, size=10)
        boxes = torch.from_numpy(
            np.concatenate(
                [np.minimum(corners[:, :2], corners[:, 2:]), np.maximum(corners[:, :2], corners[:, 2:])],
                axis=1,
            )
        )
        got = is_box_near_crop_edge(boxes, crop, [0, 0, w, h], atol=atol)
        assert got.dtype == torch.bool and got.shape == (30,)
        assert torch.equal(got, oracle.is_box_near_crop_edge(boxes, crop, [0, 0, w, h], atol=atol))


def test_near_crop_edge_known_cases() -> None:
    crop, image = [100, 0, 300, 200], [0, 0, 300, 400]  # crop's left and bottom edges are inner edges
    boxes = torch.tensor(
        [
            [5, 50, 50, 100],  # x0 = 105 near the inner left edge -> drop
            [50, 50, 199, 100],  # x1 = 299 near the right edge, which is the image edge too -> keep
            [50, 50, 100, 185],  # y1 = 185 within 20 of the inner bottom edge 200 -> drop
            [50, 50, 100, 179],  # 21 px away -> keep
        ]
    )
    assert is_box_near_crop_edge(boxes, crop, image).tolist() == [True, False, True, False]
    with pytest.raises(ValueError, match="atol"):
        is_box_near_crop_edge(boxes, crop, image, atol=-1.0)
    with pytest.raises(ValueError, match="crop_box"):
        is_box_near_crop_edge(boxes, [0, 0, 1], image)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_uncrop_matches_oracle(seed: int) -> None:
    rng = np.random.default_rng(seed)
    orig_h, orig_w = (int(v) for v in rng.integers(8, 40, size=2))
    x0, x1 = sorted(int(v) for v in rng.integers(0, orig_w + 1, size=2))
    y0, y1 = sorted(int(v) for v in rng.integers(0, orig_h + 1, size=2))
    crop = [x0, y0, x1, y1]
    boxes = torch.from_numpy(rng.integers(0, 30, size=(2, 5, 4)))  # with a channel dimension
    points = torch.from_numpy(rng.random((5, 2))).float()
    masks = torch.from_numpy(rng.random((3, y1 - y0, x1 - x0)) < 0.5)
    assert torch.equal(uncrop_boxes_xyxy(boxes, crop), oracle.uncrop_boxes_xyxy(boxes, crop))
    assert torch.equal(uncrop_boxes_xyxy(boxes[0], crop), oracle.uncrop_boxes_xyxy(boxes[0], crop))
    assert torch.equal(uncrop_points(points, crop), oracle.uncrop_points(points, crop))
    padded = uncrop_masks(masks, crop, orig_h, orig_w)
    assert padded.shape == (3, orig_h, orig_w)
    assert torch.equal(padded, oracle.uncrop_masks(masks, crop, orig_h, orig_w))
    assert torch.equal(padded[:, y0:y1, x0:x1], masks) and int(padded.sum()) == int(masks.sum())


def test_uncrop_masks_whole_image_and_errors() -> None:
    masks = torch.ones(2, 4, 5, dtype=torch.bool)
    assert uncrop_masks(masks, [0, 0, 5, 4], 4, 5) is masks
    with pytest.raises(ValueError, match="masks must be ... x 3 x 5"):
        uncrop_masks(masks, [0, 1, 5, 4], 4, 5)
    with pytest.raises(ValueError, match="inside the 5 x 4"):
        uncrop_masks(masks, [1, 0, 6, 4], 4, 5)
    with pytest.raises(ValueError, match="x0 <= x1"):
        uncrop_points(torch.zeros(1, 2), [5, 0, 1, 4])

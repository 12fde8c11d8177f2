"""Batched NMS against a brute-force greedy reference, the oracle's torchvision stand-in, pycocotools IoU."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from pycocotools import mask as coco_mask
from torchvision.ops.boxes import batched_nms as oracle_batched_nms  # the tests' stand-in the oracle uses

from segany.amg import batched_nms, box_iou


def _reference_nms(boxes: np.ndarray, scores: np.ndarray, idxs: np.ndarray, thresh: float) -> list[int]:
    """Textbook greedy NMS, one pair at a time, IoU in the boxes' dtype evaluated as torchvision's CPU kernel
    (the float32 IoU compared with the threshold as a double)."""
    order = sorted(range(len(scores)), key=lambda i: -scores[i])  # Python's sort is stable
    zero = boxes.dtype.type(0)
    kept: list[int] = []
    for i in order:
        suppressed = False
        for k in kept:
            if idxs[k] != idxs[i]:
                continue
            a, b = boxes[k], boxes[i]
            w = max(zero, min(a[2], b[2]) - max(a[0], b[0]))
            h = max(zero, min(a[3], b[3]) - max(a[1], b[1]))
            inter = w * h
            area_a = (a[2] - a[0]) * (a[3] - a[1])
            area_b = (b[2] - b[0]) * (b[3] - b[1])
            with np.errstate(invalid="ignore", divide="ignore"):
                iou = inter / (area_a + area_b - inter)  # in the boxes' dtype
                if float(iou) > thresh:  # compared in double, like torchvision's kernel
                    suppressed = True
                    break
        if not suppressed:
            kept.append(i)
    return kept


@st.composite
def nms_problems(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Integer-grid boxes (ties, exact IoU values, zero-area boxes), few distinct scores, 1-3 categories."""
    n = draw(st.integers(0, 25))
    corners = np.array(
        draw(st.lists(st.lists(st.integers(0, 12), min_size=4, max_size=4), min_size=n, max_size=n))
    )
    corners = corners.reshape(n, 4)
    boxes = np.concatenate(
        [np.minimum(corners[:, :2], corners[:, 2:]), np.maximum(corners[:, :2], corners[:, 2:])], 1
    )
    scores = np.array(draw(st.lists(st.sampled_from([0.1, 0.5, 0.5, 0.9, 0.25]), min_size=n, max_size=n)))
    idxs = np.array(draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)), dtype=np.int64)
    return boxes.astype(np.float32), scores.astype(np.float32), idxs


@settings(max_examples=100, deadline=None)
@given(nms_problems(), st.sampled_from([0.0, 0.1, 0.25, 1 / 3, 0.5, 0.7, 1.0]))
def test_nms_matches_brute_force_greedy(
    problem: tuple[np.ndarray, np.ndarray, np.ndarray], thresh: float
) -> None:
    boxes, scores, idxs = problem
    keep = batched_nms(torch.from_numpy(boxes), torch.from_numpy(scores), torch.from_numpy(idxs), thresh)
    assert keep.dtype == torch.int64
    assert keep.tolist() == _reference_nms(boxes, scores, idxs, thresh)


def test_nms_large_matches_oracle() -> None:
    gen = torch.Generator().manual_seed(0)
    n = 3000
    top_left = torch.rand(n, 2, generator=gen) * 900
    boxes = torch.cat([top_left, top_left + 10 + torch.rand(n, 2, generator=gen) * 300], dim=1)
    scores = torch.rand(n, generator=gen)
    idxs = torch.randint(0, 4, (n,), generator=gen)
    keep = batched_nms(boxes, scores, idxs, 0.7)
    assert torch.equal(keep, oracle_batched_nms(boxes, scores, idxs, 0.7))
    assert 0 < len(keep) < n
    assert (scores[keep].diff() <= 0).all()  # sorted by descending score


def test_nms_threshold_is_strict_and_categories_are_separate() -> None:
    boxes = torch.tensor([[0.0, 0.0, 4.0, 1.0], [0.0, 0.0, 2.0, 1.0]])  # IoU exactly 0.5
    scores = torch.tensor([0.2, 0.9])
    same, other = torch.zeros(2, dtype=torch.int64), torch.tensor([0, 1])
    assert batched_nms(boxes, scores, same, 0.5).tolist() == [1, 0]
    assert batched_nms(boxes, scores, same, 0.49).tolist() == [1]
    assert batched_nms(boxes, scores, other, 0.49).tolist() == [1, 0]
    # IoU 1/3 is 0.33333334 in float32, above 1/3 as a double: torchvision suppresses, so must we.
    thirds = torch.tensor([[0.0, 0.0, 2.0, 1.0], [1.0, 0.0, 3.0, 1.0]])
    assert batched_nms(thirds, scores, same, 1 / 3).tolist() == [1]
    assert (
        batched_nms(torch.zeros(0, 4), torch.zeros(0), torch.zeros(0, dtype=torch.int64), 0.5).tolist() == []
    )


def test_nms_rejects_bad_shapes() -> None:
    boxes, scores, idxs = torch.zeros(3, 4), torch.zeros(3), torch.zeros(3, dtype=torch.int64)
    with pytest.raises(ValueError, match="boxes must be an N x 4"):
        batched_nms(boxes[:, :3], scores, idxs, 0.5)
    with pytest.raises(ValueError, match=r"scores must be a torch.Tensor of shape \(3,\)"):
        batched_nms(boxes, scores[:2], idxs, 0.5)
    with pytest.raises(ValueError, match="idxs"):
        batched_nms(boxes, scores, idxs[None], 0.5)
    with pytest.raises(TypeError, match="iou_threshold"):
        batched_nms(boxes, scores, idxs, "0.5")  # type: ignore[arg-type]


def test_box_iou_matches_pycocotools() -> None:
    rng = np.random.default_rng(1)
    top_left = rng.random((40, 2)) * 50
    boxes = np.concatenate([top_left, top_left + 1 + rng.random((40, 2)) * 30], axis=1)
    xywh = np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], axis=1)
    expected = coco_mask.iou(xywh[:25].tolist(), xywh[25:].tolist(), [0] * 15)
    got = box_iou(torch.from_numpy(boxes[:25]), torch.from_numpy(boxes[25:]))
    assert got.shape == (25, 15) and got.dtype == torch.float64
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12, atol=1e-12)

"""Mask areas and pairwise mask IoU against pycocotools and numpy."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from amg_testing import bool_masks, real_masks
from hypothesis import given, settings
from pycocotools import mask as coco_mask

from segany.amg import mask_area, mask_iou


def _coco_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    encode = lambda masks: coco_mask.encode(np.asfortranarray(masks.transpose(1, 2, 0).astype(np.uint8)))
    return np.asarray(coco_mask.iou(encode(a), encode(b), [0] * len(b))).reshape(len(a), len(b))


def test_mask_iou_on_real_masks() -> None:
    masks = np.stack([m[:300, :280] for m in real_masks()])  # common H x W crop of every photo mask
    got = mask_iou(torch.from_numpy(masks), torch.from_numpy(masks[::2]))
    assert got.shape == (12, 6) and got.dtype == torch.float32
    np.testing.assert_allclose(got.numpy(), _coco_iou(masks, masks[::2]), rtol=1e-6)
    np.testing.assert_allclose(got.numpy()[::2].diagonal(), 1.0)
    assert (
        mask_area(torch.from_numpy(masks)).tolist()
        == coco_mask.area(
            coco_mask.encode(np.asfortranarray(masks.transpose(1, 2, 0).astype(np.uint8)))
        ).tolist()
    )


@settings(max_examples=80, deadline=None)
@given(bool_masks(max_batch=4), bool_masks(max_batch=4))
def test_mask_iou_random_masks(masks_a: np.ndarray, masks_b: np.ndarray) -> None:
    h, w = min(masks_a.shape[1], masks_b.shape[1]), min(masks_a.shape[2], masks_b.shape[2])
    a, b = masks_a[:, :h, :w], masks_b[:, :h, :w]
    got = mask_iou(torch.from_numpy(a.copy()), torch.from_numpy(b.copy())).numpy()
    inter = (a[:, None] & b[None]).sum(axis=(2, 3))
    union = (a[:, None] | b[None]).sum(axis=(2, 3))
    expected = np.where(union > 0, inter / np.maximum(union, 1), 0.0)  # two empty masks: IoU 0
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    np.testing.assert_allclose(got, _coco_iou(a, b), rtol=1e-6)
    assert mask_area(torch.from_numpy(a.copy())).tolist() == a.sum(axis=(1, 2)).tolist()


def test_mask_ops_errors() -> None:
    with pytest.raises(ValueError, match="must share H x W"):
        mask_iou(torch.zeros(1, 3, 4, dtype=torch.bool), torch.zeros(1, 4, 3, dtype=torch.bool))
    with pytest.raises(TypeError, match="masks_b must have dtype torch.bool"):
        mask_iou(torch.zeros(1, 3, 4, dtype=torch.bool), torch.zeros(1, 3, 4))
    with pytest.raises(ValueError, match="masks"):
        mask_area(torch.zeros(4, dtype=torch.bool))

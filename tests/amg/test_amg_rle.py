"""RLE encode / decode / area / COCO compression against the official code and pycocotools."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from amg_testing import bool_masks, real_masks
from hypothesis import given, settings
from pycocotools import mask as coco_mask
from segment_anything.utils import amg as oracle

from segany.amg import area_from_rle, coco_encode_rle, coco_rle_to_mask, masks_to_rle, rle_to_mask


def _pycoco_encode(mask: np.ndarray) -> dict:
    return coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))


def _check_all(masks: np.ndarray) -> None:
    """Every RLE function on a B x H x W bool batch, against the oracle and pycocotools."""
    rles = masks_to_rle(torch.from_numpy(masks))
    assert rles == oracle.mask_to_rle_pytorch(torch.from_numpy(masks))
    assert len(rles) == masks.shape[0]
    for mask, rle in zip(masks, rles, strict=True):
        assert rle["size"] == list(mask.shape)
        assert all(isinstance(c, int) for c in rle["counts"])
        decoded = rle_to_mask(rle)
        assert decoded.dtype == np.bool_ and decoded.flags.c_contiguous
        np.testing.assert_array_equal(decoded, mask)
        assert area_from_rle(rle) == int(mask.sum())
        expected = _pycoco_encode(mask)
        compressed = coco_encode_rle(rle)
        assert isinstance(compressed["counts"], str)
        assert compressed == {"size": expected["size"], "counts": expected["counts"].decode("utf-8")}
        np.testing.assert_array_equal(coco_rle_to_mask(compressed), mask)
        assert int(coco_mask.area(expected)) == area_from_rle(rle)


@settings(max_examples=150, deadline=None)
@given(bool_masks())
def test_rle_round_trips_on_random_masks(masks: np.ndarray) -> None:
    _check_all(masks)


def test_rle_on_real_masks() -> None:
    masks = real_masks()
    for i in range(0, len(masks), 3):  # one batch per photo (same H x W)
        _check_all(np.stack(masks[i : i + 3]))


@pytest.mark.parametrize(
    ("mask", "counts"),
    [
        (np.zeros((2, 3), bool), [6]),
        (np.ones((2, 3), bool), [0, 6]),
        (np.array([[False, True], [False, False]]), [2, 1, 1]),  # column-major: (0,0) (1,0) (0,1) (1,1)
        (np.array([[True, False, True]]), [0, 1, 1, 1]),  # 1 x N
        (np.array([[False], [True], [True]]), [1, 2]),  # N x 1
        (np.array([[True]]), [0, 1]),
    ],
)
def test_rle_known_counts(mask: np.ndarray, counts: list[int]) -> None:
    (rle,) = masks_to_rle(torch.from_numpy(mask[None]))
    assert rle == {"size": list(mask.shape), "counts": counts}
    np.testing.assert_array_equal(rle_to_mask(rle), mask)


def test_rle_empty_batch_and_zero_sized_masks() -> None:
    assert masks_to_rle(torch.zeros(0, 4, 5, dtype=torch.bool)) == []
    rles = masks_to_rle(torch.zeros(2, 0, 5, dtype=torch.bool))
    assert rles == [{"size": [0, 5], "counts": [0]}] * 2
    assert rle_to_mask(rles[0]).shape == (0, 5)
    expected = _pycoco_encode(np.zeros((0, 5), bool))
    assert coco_encode_rle(rles[0])["counts"] == expected["counts"].decode("utf-8")


def test_coco_rle_to_mask_accepts_bytes() -> None:
    mask = real_masks()[4]
    np.testing.assert_array_equal(coco_rle_to_mask(_pycoco_encode(mask)), mask)


def test_rle_rejects_bad_input() -> None:
    with pytest.raises(TypeError, match="masks"):
        masks_to_rle(torch.zeros(1, 2, 2))
    with pytest.raises(ValueError, match="masks"):
        masks_to_rle(torch.zeros(2, 2, dtype=torch.bool))
    with pytest.raises(ValueError, match="summing to h \\* w = 4"):
        rle_to_mask({"size": [2, 2], "counts": [1, 2]})
    with pytest.raises(ValueError, match="non-negative"):
        area_from_rle({"size": [2, 2], "counts": [5, -1]})
    with pytest.raises(TypeError, match="coco_rle_to_mask"):
        rle_to_mask({"size": [1, 1], "counts": "1"})
    with pytest.raises(TypeError, match="rle_to_mask"):
        coco_rle_to_mask({"size": [1, 1], "counts": [0, 1]})
    with pytest.raises(TypeError, match="'size' and 'counts'"):
        coco_encode_rle({"counts": [1]})

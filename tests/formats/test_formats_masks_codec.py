"""masks_codec: bool mask <-> uncompressed RLE <-> COCO compressed RLE, checked against pycocotools."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from pycocotools import mask as coco_mask

from segany.formats import (
    MaskFormatError,
    convert_segmentation,
    mask_to_coco_rle,
    mask_to_uncompressed_rle,
    segmentation_to_coco_rle,
    segmentation_to_mask,
)
from segany.formats.masks_codec import decode_coco_counts

# pycocotools' decode trips a numpy 2 DeprecationWarning inside pycocotools itself.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
small_masks = arrays(np.bool_, st.tuples(st.integers(1, 12), st.integers(1, 12)))


def _reference_runs(mask: np.ndarray) -> list[int]:
    """Column-major run lengths starting with background, by a plain loop."""
    runs, current, length = [], False, 0
    for value in mask.ravel(order="F"):
        if bool(value) == current:
            length += 1
        else:
            runs.append(length)
            current, length = bool(value), 1
    runs.append(length)
    return runs


@settings(max_examples=60, deadline=None)
@given(small_masks)
def test_coco_rle_decodes_with_pycocotools_to_the_same_mask(mask: np.ndarray) -> None:
    rle = mask_to_coco_rle(mask)
    assert rle["size"] == [mask.shape[0], mask.shape[1]] and isinstance(rle["counts"], str)
    decoded = coco_mask.decode({"size": rle["size"], "counts": rle["counts"].encode("ascii")})
    np.testing.assert_array_equal(decoded.astype(bool), mask)
    np.testing.assert_array_equal(segmentation_to_mask(rle), mask)  # our own decoder agrees


@settings(max_examples=60, deadline=None)
@given(small_masks)
def test_uncompressed_rle_matches_a_plain_loop_and_pycocotools(mask: np.ndarray) -> None:
    rle = mask_to_uncompressed_rle(mask)
    assert rle["counts"] == _reference_runs(mask)
    assert all(type(count) is int for count in rle["counts"])
    via_coco = coco_mask.decode(coco_mask.frPyObjects(rle, *rle["size"]))
    np.testing.assert_array_equal(via_coco.astype(bool), mask)
    np.testing.assert_array_equal(segmentation_to_mask(rle), mask)


def test_long_runs_and_real_masks_decode_like_pycocotools(chelsea_masks: list[np.ndarray]) -> None:
    # Real masks give runs > 2^10 and deltas of both signs, exercising multi-character and negative numbers.
    for mask in chelsea_masks:
        counts = coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))["counts"]
        runs = decode_coco_counts(counts)
        assert runs.tolist() == _reference_runs(mask)
        assert segmentation_to_coco_rle(mask)["counts"] == counts.decode("ascii")


def test_all_forms_convert_to_each_other(chelsea_masks: list[np.ndarray]) -> None:
    mask = chelsea_masks[1]
    forms = {
        mode: convert_segmentation(mask, mode) for mode in ("binary_mask", "uncompressed_rle", "coco_rle")
    }
    for source in forms.values():
        np.testing.assert_array_equal(convert_segmentation(source, "binary_mask"), mask)
        assert convert_segmentation(source, "coco_rle") == forms["coco_rle"]
        assert convert_segmentation(source, "uncompressed_rle") == forms["uncompressed_rle"]
    as_bytes = {"size": forms["coco_rle"]["size"], "counts": forms["coco_rle"]["counts"].encode()}
    assert segmentation_to_coco_rle(as_bytes) == forms["coco_rle"]
    with pytest.raises(ValueError, match="output_mode must be one of"):
        convert_segmentation(mask, "polygons")


def test_integer_masks_are_nonzero_inside() -> None:
    np.testing.assert_array_equal(
        segmentation_to_mask(np.array([[0, 255], [3, 0]], np.uint8)), [[0, 1], [1, 0]]
    )


@pytest.mark.parametrize(
    ("segmentation", "error", "message"),
    [
        (np.zeros((2, 2), np.float32), TypeError, "got dtype float32 .*threshold"),
        (np.zeros((2, 2, 1), bool), MaskFormatError, r"2-D H x W mask, got shape \(2, 2, 1\)"),
        ([[True]], TypeError, "H x W bool array or an RLE dict .* got list"),
        ({"size": [2, 2], "counts": [1, 2]}, MaskFormatError, "run lengths sum to 3, expected .* = 4"),
        ({"size": [2, 2], "counts": [5, -1]}, MaskFormatError, "negative run length"),
        (
            {"size": [2, 2], "counts": "5"},
            MaskFormatError,
            "sum to 5",
        ),  # pycocotools would overrun its buffer
        ({"size": [2, 2], "counts": "0P"}, MaskFormatError, "ends in the middle of a number"),
        ({"size": [2, 2], "counts": " 4"}, MaskFormatError, "character ' ' at 0 is not valid"),
        ({"size": [2, 2], "counts": 4}, TypeError, "must be a str .* or a list of ints, got int"),
        ({"size": [2], "counts": [4]}, MaskFormatError, r"\['size'\] must be \[h, w\]"),
        ({"size": [2, 2]}, MaskFormatError, "without 'counts'"),
    ],
)
def test_malformed_segmentations(segmentation: object, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        segmentation_to_mask(segmentation, where="records[0]['segmentation']")  # type: ignore[arg-type]


def test_shape_mismatch_names_both_sizes() -> None:
    with pytest.raises(MaskFormatError, match=r"mask is 3x4 \(HxW\) but the image is 4x3 \(HxW\)"):
        segmentation_to_mask(np.zeros((3, 4), bool), shape=(4, 3), where="mask")


def test_uncompressed_rle_of_strided_and_large_masks(chelsea_masks: list[np.ndarray]) -> None:
    """Views that are not C-contiguous and photo-sized masks take the same path as small ones."""
    large = np.tile(chelsea_masks[1], (5, 5))  # 1500 x 2255
    for mask in (large, large[::3, 1::2], large.T, chelsea_masks[0][:, :1], chelsea_masks[0][:1]):
        rle = mask_to_uncompressed_rle(mask)
        via_coco = coco_mask.decode(coco_mask.frPyObjects(rle, *rle["size"]))
        np.testing.assert_array_equal(via_coco.astype(bool), mask)

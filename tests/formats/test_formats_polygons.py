"""polygons: masks with holes, islands, single pixels and real outlines survive mask -> polygons -> mask."""

from __future__ import annotations

import numpy as np
import pytest
from formats_samples import iou, photo_masks
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from pycocotools import mask as coco_mask

from segany.formats import mask_to_polygons, merge_polygons, polygons_to_mask

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def _pycocotools_fill(polygons: list[np.ndarray], height: int, width: int) -> np.ndarray:
    """Rasterise with pycocotools (COCO frame = pixel-index frame + 0.5), independent of OpenCV."""
    flats = [(polygon + 0.5).ravel().tolist() for polygon in polygons]
    return coco_mask.decode(coco_mask.merge(coco_mask.frPyObjects(flats, height, width))).astype(bool)


def _ring_with_island() -> np.ndarray:
    mask = np.zeros((40, 50), dtype=bool)
    mask[5:35, 5:45] = True
    mask[12:28, 12:38] = False  # hole
    mask[17:23, 20:30] = True  # island inside the hole
    mask[30, 40:44] = False  # a notch
    return mask


def test_square_gives_one_quarter_pixel_outset_outline() -> None:
    mask = np.zeros((6, 7), dtype=bool)
    mask[1:4, 2:6] = True  # rows 1..3, columns 2..5
    (polygon,) = mask_to_polygons(mask)
    assert polygon.min(axis=0).tolist() == [1.75, 0.75] and polygon.max(axis=0).tolist() == [5.25, 3.25]
    np.testing.assert_array_equal(polygons_to_mask([polygon], 6, 7), mask)


def test_hole_and_island_are_kept() -> None:
    mask = _ring_with_island()
    polygons = mask_to_polygons(mask)
    assert len(polygons) == 2  # the ring (hole bridged in) and the island
    np.testing.assert_array_equal(polygons_to_mask(polygons, 40, 50), mask)
    np.testing.assert_array_equal(_pycocotools_fill(polygons, 40, 50), mask)
    filled = polygons_to_mask(mask_to_polygons(mask, keep_holes=False), 40, 50)
    assert filled[15, 15] and not mask[15, 15]


def test_single_pixels_and_thin_lines_survive() -> None:
    mask = np.zeros((9, 9), dtype=bool)
    mask[0, 0] = mask[4, 4] = True
    mask[7, 1:8] = True
    mask[1:6, 7] = True
    polygons = mask_to_polygons(mask)
    assert len(polygons) == 4 and all(len(polygon) >= 4 for polygon in polygons)
    np.testing.assert_array_equal(polygons_to_mask(polygons, 9, 9), mask)
    np.testing.assert_array_equal(_pycocotools_fill(polygons, 9, 9), mask)


def test_empty_mask_has_no_polygon() -> None:
    assert mask_to_polygons(np.zeros((4, 4), dtype=bool)) == []
    assert merge_polygons([]).shape == (0, 2)


@pytest.mark.parametrize("name", ["chelsea.jpg", "dog.jpg", "rocket_portrait.jpg"])
def test_real_outlines_with_many_holes_round_trip_exactly(name: str) -> None:
    for mask in photo_masks(name, thresholds=(90, 160), per_threshold=1):
        height, width = mask.shape
        polygons = mask_to_polygons(mask)
        assert len(polygons) == 1  # one 8-connected component
        np.testing.assert_array_equal(polygons_to_mask(polygons, height, width), mask)
        np.testing.assert_array_equal(_pycocotools_fill(polygons, height, width), mask)
        # One polygon per mask (YOLO): a single piece needs no bridge across background.
        np.testing.assert_array_equal(polygons_to_mask([merge_polygons(polygons)], height, width), mask)


def test_merging_separate_parts_costs_only_bridge_lines() -> None:
    gray_mask = photo_masks("dog.jpg", thresholds=(150,), per_threshold=6)
    mask = np.logical_or.reduce(gray_mask)  # six separate regions
    merged = merge_polygons(mask_to_polygons(mask))
    back = polygons_to_mask([merged], *mask.shape)
    assert not (mask & ~back).any()  # nothing lost ...
    assert iou(back, mask) >= 0.98  # ... and only thin bridge lines added
    np.testing.assert_array_equal(
        _pycocotools_fill([merged], *mask.shape), mask
    )  # zero width for pycocotools


@settings(max_examples=40, deadline=None)
@given(arrays(np.bool_, st.tuples(st.integers(1, 16), st.integers(1, 16))))
def test_random_masks_round_trip_exactly_as_a_polygon_list(mask: np.ndarray) -> None:
    polygons = mask_to_polygons(mask)
    height, width = mask.shape
    np.testing.assert_array_equal(polygons_to_mask(polygons, height, width), mask)
    if polygons:
        np.testing.assert_array_equal(_pycocotools_fill(polygons, height, width), mask)
        np.testing.assert_array_equal(_pycocotools_fill([merge_polygons(polygons)], height, width), mask)


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match=r"mask must be an H x W numpy array, got \(2, 2, 2\)"):
        mask_to_polygons(np.zeros((2, 2, 2), dtype=bool))
    with pytest.raises(TypeError, match="got dtype float64"):
        mask_to_polygons(np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"polygons\[0\] must be an N x 2 array .* got shape \(6,\)"):
        polygons_to_mask([np.zeros(6)], 4, 4)
    with pytest.raises(ValueError, match="height and width must be positive"):
        polygons_to_mask([], 0, 4)

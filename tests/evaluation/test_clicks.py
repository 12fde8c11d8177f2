"""Click simulation on hand-made masks: deepest points, border handling, miss vs spill."""

from __future__ import annotations

import numpy as np
import pytest

from segany.data import Sample
from segany.evaluation.clicks import Click, boundary_distance, deepest_point, first_click, next_click


def test_odd_rectangle_centre_in_x_y_order() -> None:
    mask = np.zeros((30, 50), bool)
    mask[10:21, 5:36] = True  # rows 10..20, columns 5..35: centre column 20, row 15
    assert first_click(mask) == Click(x=20, y=15, label=1)


def test_even_rectangle_tie_break() -> None:
    mask = np.zeros((30, 40), bool)
    mask[10:20, 10:30] = True  # tied deepest pixels around (19.5, 14.5); row-major first of the 4 nearest
    assert deepest_point(mask) == (19, 14, 5.0)


def test_image_border_counts_as_boundary() -> None:
    mask = np.zeros((21, 40), bool)
    mask[:, :11] = True  # touches the top, bottom and left borders
    x, y, depth = deepest_point(mask)
    assert (x, y, depth) == (5, 10, 6.0)
    assert boundary_distance(mask)[10, 0] == 1.0


def test_l_shape_deepest_point_in_thick_arm() -> None:
    mask = np.zeros((80, 100), bool)
    mask[10:70, 10:40] = True  # thick vertical arm, 30 px wide
    mask[60:70, 10:90] = True  # thin horizontal arm, 10 px tall
    # Ties: columns 24-25, rows 24-55 at depth 15; the nearest to their mean (24.5, 39.5), row-major first.
    assert deepest_point(mask) == (24, 39, 15.0)


def test_l_shape_with_centroid_outside() -> None:
    mask = np.zeros((60, 60), bool)
    mask[5:55, 5:15] = True
    mask[45:55, 5:55] = True
    ys, xs = np.nonzero(mask)
    assert not mask[int(ys.mean()), int(xs.mean())]  # a centroid click would miss the object
    # The elbow is deepest (6 px from the left edge and the bottom): ties at (x, y) = (10, 48), (10, 49),
    # (11, 49); (10, 49) is nearest to their mean.
    assert first_click(mask) == Click(10, 49, 1)
    assert boundary_distance(mask)[49, 10] == boundary_distance(mask).max() == 6.0


def test_next_click_in_a_miss_is_positive() -> None:
    gt = np.zeros((40, 60), bool)
    gt[5:35, 5:55] = True
    pred = np.zeros_like(gt)
    pred[5:35, 5:25] = True  # left part found; the miss spans columns 25..54
    pred[0:2, 0:3] = True  # small spill outside
    click = next_click(pred, gt)
    assert click is not None and click.label == 1
    assert gt[click.y, click.x] and not pred[click.y, click.x]
    assert 25 <= click.x <= 54 and (click.x, click.y) == deepest_point(gt & ~pred)[:2]


def test_next_click_in_a_spill_is_negative() -> None:
    gt = np.zeros((40, 60), bool)
    gt[10:20, 10:20] = True
    pred = gt.copy()
    pred[20:40, 30:60] = True  # large spill touching the bottom and right borders
    pred[10, 10] = False  # 1-px miss: shallower than the spill
    # Spill depth 10 at rows 29-30, columns 39-50 (the borders count as boundary); nearest to the tie mean
    # (44.5, 29.5), row-major first.
    assert next_click(pred, gt) == Click(x=44, y=29, label=0)


def test_next_click_tie_goes_to_the_miss_and_perfect_gives_none() -> None:
    gt = np.zeros((20, 40), bool)
    gt[5:10, 5:10] = True  # 5x5 block, missed entirely
    pred = np.zeros_like(gt)
    pred[5:10, 25:30] = True  # 5x5 spill: same depth
    assert next_click(pred, gt) == Click(7, 7, 1)
    assert next_click(gt, gt) is None


def test_fixture_horse_first_click(horses: list[Sample]) -> None:
    for sample in horses:
        mask = sample.masks[0]
        click = first_click(mask)
        assert mask[click.y, click.x]
        assert boundary_distance(mask)[click.y, click.x] == pytest.approx(boundary_distance(mask).max())


def test_errors() -> None:
    with pytest.raises(ValueError, match="empty"):
        first_click(np.zeros((5, 5), bool))
    with pytest.raises(ValueError, match="same H x W"):
        next_click(np.zeros((5, 5), bool), np.zeros((5, 6), bool))
    with pytest.raises(ValueError, match="H x W"):
        first_click(np.zeros((5, 5, 1), bool))

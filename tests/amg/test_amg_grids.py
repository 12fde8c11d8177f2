"""Point grids and crop boxes against the official implementation (exact equality) and their invariants."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from segment_anything.utils import amg as oracle

from segany.amg import build_all_layer_point_grids, build_point_grid, generate_crop_boxes


@pytest.mark.parametrize("n", [1, 2, 3, 7, 16, 32, 64, 100])
def test_point_grid_equals_oracle(n: int) -> None:
    grid = build_point_grid(n)
    assert grid.shape == (n * n, 2) and grid.dtype == np.float64
    np.testing.assert_array_equal(grid, oracle.build_point_grid(n))
    assert grid.min() > 0 and grid.max() < 1


def test_point_grid_is_x_fastest() -> None:
    expected = [[0.25, 0.25], [0.75, 0.25], [0.25, 0.75], [0.75, 0.75]]
    np.testing.assert_array_equal(build_point_grid(2), expected)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 64), st.integers(0, 3), st.integers(1, 4))
def test_layer_grids_equal_oracle(n: int, layers: int, scale: int) -> None:
    if n // scale**layers < 1:
        with pytest.raises(ValueError, match="no points at crop layer"):
            build_all_layer_point_grids(n, layers, scale)
        return
    grids = build_all_layer_point_grids(n, layers, scale)
    expected = oracle.build_all_layer_point_grids(n, layers, scale)
    assert len(grids) == len(expected) == layers + 1
    for got, want in zip(grids, expected, strict=True):
        np.testing.assert_array_equal(got, want)


def _check_crop_boxes(h: int, w: int, layers: int, ratio: float) -> None:
    boxes, layer_idxs = generate_crop_boxes((h, w), layers, ratio)
    assert (boxes, layer_idxs) == oracle.generate_crop_boxes((h, w), layers, ratio)
    assert all(type(v) is int for box in boxes for v in box)
    assert layer_idxs == [0] + [i for i in range(1, layers + 1) for _ in range(4**i)]
    for layer in range(1, layers + 1):  # each layer's crops cover the image and stay inside it
        covered = np.zeros((h, w), dtype=bool)
        for (x0, y0, x1, y1), idx in zip(boxes, layer_idxs, strict=True):
            if idx != layer:
                continue
            # As in the official code, tiny images get empty or inverted crops in deep layers.
            if min(h, w) >= 64:
                assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h
            covered[y0:y1, x0:x1] = True
        assert covered.all()


@settings(max_examples=150, deadline=None)
@given(
    st.integers(1, 3000),
    st.integers(1, 3000),
    st.integers(0, 3),
    st.one_of(st.just(512 / 1500), st.floats(0, 1, exclude_max=True)),
)
def test_crop_boxes_equal_oracle(h: int, w: int, layers: int, ratio: float) -> None:
    _check_crop_boxes(h, w, layers, ratio)


@pytest.mark.parametrize(("h", "w"), [(1500, 2250), (534, 800), (427, 280), (1024, 1024), (7, 3000)])
def test_crop_boxes_common_sizes(h: int, w: int) -> None:
    _check_crop_boxes(h, w, 2, 512 / 1500)


def test_crop_boxes_known_values() -> None:
    boxes, layers = generate_crop_boxes((100, 200), 1, 0.25)  # overlap int(0.25 * 100) = 25
    # crop_w = ceil((200 + 25) / 2) = 113, crop_h = ceil((100 + 25) / 2) = 63; x0 outer, y0 inner
    assert boxes == [
        [0, 0, 200, 100],
        [0, 0, 113, 63],
        [0, 38, 113, 100],
        [88, 0, 200, 63],
        [88, 38, 200, 100],
    ]
    assert layers == [0, 1, 1, 1, 1]


def test_grid_and_crop_errors() -> None:
    with pytest.raises(ValueError, match="n_per_side must be an integer >= 1, got 0"):
        build_point_grid(0)
    with pytest.raises(TypeError, match="n_per_side"):
        build_point_grid(3.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="overlap_ratio"):
        generate_crop_boxes((10, 10), 1, 1.0)
    with pytest.raises(ValueError, match="im_size must be \\(H, W\\)"):
        generate_crop_boxes((10, 10, 3), 1, 0.3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="n_layers"):
        generate_crop_boxes((10, 10), -1, 0.3)

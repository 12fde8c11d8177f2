"""Small-region removal against the official implementation and hand-built masks."""

from __future__ import annotations

import numpy as np
import pytest
from amg_testing import real_masks
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from segment_anything.utils import amg as oracle

from segany.amg import remove_small_regions


def _assert_same_as_oracle(mask: np.ndarray, area: float, mode: str) -> tuple[np.ndarray, bool]:
    got, changed = remove_small_regions(mask.copy(), area, mode)  # type: ignore[arg-type]
    want, want_changed = oracle.remove_small_regions(mask.copy(), area, mode)
    assert changed == want_changed
    assert got.dtype == np.bool_ and got.shape == mask.shape
    np.testing.assert_array_equal(got, want)
    return got, changed


@pytest.mark.parametrize("mode", ["holes", "islands"])
def test_remove_small_regions_on_real_masks(mode: str) -> None:
    n_changed = 0
    for mask in real_masks():
        for area in (0, 20, 100, 2000):
            got, changed = _assert_same_as_oracle(mask, area, mode)
            n_changed += changed
            if mode == "holes":
                assert (got >= mask).all()  # only adds pixels
            else:
                assert (got <= mask).all()  # only removes pixels
    assert n_changed > 10  # the photos really exercise the changing path


@settings(max_examples=120, deadline=None)
@given(
    hnp.arrays(np.bool_, st.tuples(st.integers(1, 16), st.integers(1, 16))),
    st.sampled_from([0, 1, 2, 3, 5, 30, 1000]),
    st.sampled_from(["holes", "islands"]),
)
def test_remove_small_regions_random_masks(mask: np.ndarray, area: int, mode: str) -> None:
    _assert_same_as_oracle(mask, area, mode)


def _scene() -> np.ndarray:
    mask = np.zeros((12, 12), dtype=bool)
    mask[1:8, 1:8] = True  # 49-px square
    mask[4, 4] = False  # 1-px hole
    mask[8, 8] = True  # touches the square diagonally: same 8-connected island
    mask[10:12, 0:2] = True  # 4-px island in the corner
    return mask


def test_islands_and_holes_by_hand() -> None:
    mask = _scene()
    no_islands, changed = remove_small_regions(mask, 5, "islands")
    assert changed and not no_islands[10:12, 0:2].any() and no_islands[8, 8]
    assert (no_islands ^ mask).sum() == 4
    filled, changed = remove_small_regions(mask, 5, "holes")
    assert changed and filled[4, 4] and (filled ^ mask).sum() == 1
    same, changed = remove_small_regions(mask, 1, "holes")  # the hole is not smaller than 1 px
    assert not changed and same is mask
    largest, changed = remove_small_regions(mask, 10_000, "islands")  # all small: keep the largest
    assert changed and largest[1:8, 1:8].sum() == 48 and not largest[10:12, 0:2].any()


def test_remove_small_regions_errors() -> None:
    mask = _scene()
    with pytest.raises(ValueError, match="mode must be one of"):
        remove_small_regions(mask, 5, "island")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="mask must have dtype bool"):
        remove_small_regions(mask.astype(np.uint8), 5, "holes")
    with pytest.raises(ValueError, match="H x W"):
        remove_small_regions(mask[None], 5, "holes")
    with pytest.raises(ValueError, match="area_thresh"):
        remove_small_regions(mask, -1, "holes")

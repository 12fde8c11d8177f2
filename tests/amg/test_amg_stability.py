"""Stability score against the official implementation and a numpy IoU of the two thresholded masks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from amg_testing import PHOTOS, photo_gray
from hypothesis import given, settings
from hypothesis import strategies as st
from segment_anything.utils import amg as oracle

from segany.amg import calculate_stability_score


def _numpy_stability(logits: np.ndarray, thresh: float, offset: float) -> np.ndarray:
    high = logits > np.float32(thresh + offset)
    low = logits > np.float32(thresh - offset)
    inter = (high & low).sum(axis=(-2, -1))
    union = (high | low).sum(axis=(-2, -1))
    with np.errstate(invalid="ignore"):
        return (inter / union).astype(np.float32)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.tuples(st.integers(1, 4), st.integers(1, 20), st.integers(1, 20)),
    st.sampled_from([0.0, -0.5, 2.0]),
    st.sampled_from([0.0, 0.5, 1.0, 3.0]),
)
def test_stability_matches_oracle_and_numpy(
    seed: int, shape: tuple[int, int, int], thresh: float, offset: float
) -> None:
    logits = torch.from_numpy(np.random.default_rng(seed).normal(0, 3, size=shape).astype(np.float32))
    score = calculate_stability_score(logits, thresh, offset)
    assert score.shape == shape[:1] and score.dtype == torch.float32
    torch.testing.assert_close(
        score, oracle.calculate_stability_score(logits, thresh, offset), rtol=0, atol=0, equal_nan=True
    )
    np.testing.assert_allclose(score.numpy(), _numpy_stability(logits.numpy(), thresh, offset), rtol=1e-6)


def test_stability_on_photo_logits() -> None:
    # Smooth, real-looking logit maps: luminance centred at several levels, B x H x W per photo.
    for name in PHOTOS:
        gray = torch.from_numpy(photo_gray(name).astype(np.float32))
        logits = torch.stack([(gray - level) / 16 for level in (60, 128, 200)])
        score = calculate_stability_score(logits, 0.0, 1.0)
        torch.testing.assert_close(score, oracle.calculate_stability_score(logits, 0.0, 1.0), rtol=0, atol=0)
        np.testing.assert_allclose(score.numpy(), _numpy_stability(logits.numpy(), 0.0, 1.0), rtol=1e-6)
        assert ((score >= 0) & (score <= 1)).all() and ((score > 0) & (score < 1)).any()


def test_stability_extra_leading_dims_and_wide_rows() -> None:
    logits = torch.randn(2, 3, 8, 9, generator=torch.Generator().manual_seed(0))
    assert calculate_stability_score(logits, 0.0, 1.0).shape == (2, 3)
    # 40000 set pixels in one row would overflow an int16 row count.
    wide = torch.full((1, 1, 40_000), 5.0)
    wide[..., :1000] = 0.5
    assert calculate_stability_score(wide, 0.0, 1.0).item() == pytest.approx(39_000 / 40_000)
    nan = calculate_stability_score(torch.full((1, 4, 4), -9.0), 0.0, 1.0)  # empty at both thresholds
    assert torch.isnan(nan).all()


def test_stability_errors() -> None:
    with pytest.raises(TypeError, match="mask_logits must be floating point"):
        calculate_stability_score(torch.zeros(1, 4, 4, dtype=torch.int32), 0.0, 1.0)
    with pytest.raises(ValueError, match="threshold_offset must be >= 0"):
        calculate_stability_score(torch.zeros(1, 4, 4), 0.0, -1.0)
    with pytest.raises(ValueError, match="mask_logits must be"):
        calculate_stability_score(torch.zeros(4), 0.0, 1.0)

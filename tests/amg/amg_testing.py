"""Shared helpers for the everything-mode tests: real-looking masks from the fixture photos and hypothesis
strategies. Imported by the test modules as ``amg_testing`` (pytest puts this folder on sys.path)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

FIXTURES_DIR = Path(__file__).resolve().parents[1] / "fixtures"
PHOTOS = ("chelsea.jpg", "astronaut.jpg", "dog.jpg", "rocket_portrait.jpg")
GRAY_THRESHOLDS = (64, 128, 192)


@cache
def photo_gray(name: str) -> np.ndarray:
    """H x W uint8 luminance of a fixture photo."""
    return np.asarray(Image.open(FIXTURES_DIR / name).convert("L"))


@cache
def _real_masks() -> tuple[np.ndarray, ...]:
    return tuple(photo_gray(name) > t for name in PHOTOS for t in GRAY_THRESHOLDS)


def real_masks() -> list[np.ndarray]:
    """12 H x W bool masks: each fixture photo's luminance > 64, > 128 and > 192 (ragged, with holes)."""
    return [m.copy() for m in _real_masks()]


@st.composite
def bool_masks(draw: st.DrawFn, max_batch: int = 3, max_side: int = 12) -> np.ndarray:
    """B x H x W bool arrays, B in 1..max_batch, sides 1..max_side (so 1 x N and N x 1 occur), including
    all-zero and all-one masks and sparse / dense random ones."""
    shape = (draw(st.integers(1, max_batch)), draw(st.integers(1, max_side)), draw(st.integers(1, max_side)))
    kind = draw(st.sampled_from(["random", "zeros", "ones", "sparse"]))
    if kind == "zeros":
        return np.zeros(shape, dtype=bool)
    if kind == "ones":
        return np.ones(shape, dtype=bool)
    if kind == "sparse":
        seed = draw(st.integers(0, 2**32 - 1))
        return np.random.default_rng(seed).random(shape) < 0.1
    return draw(hnp.arrays(np.bool_, shape))

"""Shared test set-up: the oracle (segment-anything 1.0) import path and the fixture photos."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

TESTS_DIR = Path(__file__).resolve().parent
FIXTURES_DIR = TESTS_DIR / "fixtures"

# segment-anything imports torchvision for a PIL resize and box NMS only; a stand-in lives in the tests.
_SHIMS = str(TESTS_DIR / "oracle_shims")
if _SHIMS not in sys.path:
    sys.path.insert(0, _SHIMS)

FIXTURE_PHOTOS = ("chelsea.jpg", "astronaut.jpg", "dog.jpg", "rocket_portrait.jpg")


def load_fixture_rgb(name: str) -> np.ndarray:
    """HWC uint8 RGB array of a fixture photo."""
    return np.asarray(Image.open(FIXTURES_DIR / name).convert("RGB"))


@pytest.fixture(scope="session")
def fixture_photos() -> dict[str, np.ndarray]:
    return {name: load_fixture_rgb(name) for name in FIXTURE_PHOTOS}

"""Paths of the small segmentation fixture set (tests/fixtures/segdata) and the optional shared data."""

from __future__ import annotations

from pathlib import Path

import pytest

from segany.data.shared_splits import shared_data_root

SEGDATA = Path(__file__).resolve().parents[1] / "fixtures" / "segdata"


@pytest.fixture(scope="session")
def segdata() -> Path:
    return SEGDATA


@pytest.fixture(scope="session")
def shared_root() -> Path:
    root = shared_data_root()
    if not (root / "camvid" / "images").is_dir():
        pytest.skip(f"shared data not found at {root}")
    return root

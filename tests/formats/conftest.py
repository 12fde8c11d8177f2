"""Fixtures for the format tests (helpers live in formats_samples.py)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from formats_samples import make_records, photo_masks

from segany.formats import ImageInfo


@pytest.fixture(scope="session")
def chelsea_masks() -> list[np.ndarray]:
    return photo_masks("chelsea.jpg")


@pytest.fixture(scope="session")
def chelsea_info() -> ImageInfo:
    return ImageInfo(file_name="chelsea.jpg", width=451, height=300, image_id=7)


@pytest.fixture()
def chelsea_records(chelsea_masks: list[np.ndarray]) -> list[dict[str, Any]]:
    return make_records(chelsea_masks)

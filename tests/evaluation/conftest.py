"""Fixture horses for the evaluation tests (tests/fixtures/segdata)."""

from __future__ import annotations

from pathlib import Path

import pytest

from segany.data import FolderReader, Sample

SEGDATA = Path(__file__).resolve().parents[1] / "fixtures" / "segdata"


@pytest.fixture(scope="session")
def horse_reader() -> FolderReader:
    return FolderReader(SEGDATA / "weizmann_horse" / "images", SEGDATA / "weizmann_horse" / "masks")


@pytest.fixture(scope="session")
def horses(horse_reader: FolderReader) -> list[Sample]:
    return list(horse_reader)


@pytest.fixture(scope="session")
def camvid_reader() -> FolderReader:
    root = SEGDATA / "camvid"
    return FolderReader(
        root / "images",
        root / "masks",
        "semantic",
        stems=["0001TP_006690"],
        min_area=200,
        ignore_labels=(11,),
    )

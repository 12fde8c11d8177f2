"""Fixed splits of the shared data: held-out parts never reach train (fixture data, and real data if present)."""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import numpy as np
import pytest

from segany.data.shared_splits import (
    CAMVID_VOID,
    DAVIS_TEST_SEQUENCES,
    SPLITS,
    dataset_reader,
    davis_sequence,
    split_files,
    split_reader,
    split_stems,
)


def _check_disjoint(root: Path) -> dict[str, dict[str, list[str]]]:
    stems = {d: {s: split_stems(d, s, root) for s in splits} for d, splits in SPLITS.items()}
    for dataset, by_split in stems.items():
        for a, b in combinations(by_split, 2):
            assert not set(by_split[a]) & set(by_split[b]), f"{dataset}: {a} and {b} overlap"
    train_seqs = {davis_sequence(s) for s in stems["davis"]["train"]}
    test_seqs = {davis_sequence(s) for s in stems["davis"]["test"]}
    assert not train_seqs & test_seqs
    assert test_seqs <= set(DAVIS_TEST_SEQUENCES)
    return stems


def test_fixture_splits_are_disjoint(segdata: Path) -> None:
    stems = _check_disjoint(segdata)
    assert stems["davis"] == {"train": ["camel_00020"], "test": ["blackswan_00000"]}
    assert stems["camvid"] == {"train": ["0001TP_006690"], "val": ["0016E5_07959"], "test": ["0001TP_008550"]}
    horses = stems["weizmann_horse"]
    assert len(horses["train"]) == len(horses["test"]) == 1
    assert sorted(horses["train"] + horses["test"]) == ["horse001", "horse002"]


def test_fixture_readers_per_split(segdata: Path) -> None:
    for dataset, splits in SPLITS.items():
        for split in splits:
            reader = split_reader(dataset, split, segdata)
            assert reader.stems == split_stems(dataset, split, segdata)
            files = split_files(dataset, split, segdata)
            assert [img.stem for img, _ in files] == reader.stems
            assert all(img.is_file() and msk.is_file() for img, msk in files)
    _, masks, meta = split_reader("camvid", "train", segdata)[0]
    assert masks and CAMVID_VOID not in meta["labels"] and all(m.sum() >= 200 for m in masks)
    _, masks, _ = split_reader("davis", "test", segdata)[0]
    assert len(masks) == 1


def test_split_errors(segdata: Path) -> None:
    with pytest.raises(ValueError, match="dataset"):
        split_stems("coco", "train", segdata)
    with pytest.raises(ValueError, match="split"):
        split_stems("davis", "val", segdata)
    with pytest.raises(ValueError, match="sequence"):
        davis_sequence("blackswan")
    assert davis_sequence("bmx-trees_00005") == "bmx-trees"
    with pytest.raises(ValueError, match="dataset must be one of"):
        dataset_reader("coco", segdata / "camvid")


def test_dataset_reader_reads_any_folder_as_its_dataset(segdata: Path) -> None:
    # All stems of a folder, with the dataset's mask handling: the same objects as the split reader's.
    whole = dataset_reader("camvid", segdata / "camvid")
    assert whole.stems == sorted(
        s for split in SPLITS["camvid"] for s in split_stems("camvid", split, segdata)
    )
    by_split = split_reader("camvid", "test", segdata)
    _, split_masks, _ = by_split[0]
    _, masks, _ = whole[whole.stems.index(by_split.stems[0])]
    assert len(masks) == len(split_masks) and all(np.array_equal(a, b) for a, b in zip(masks, split_masks))


def test_real_splits(shared_root: Path) -> None:
    stems = _check_disjoint(shared_root)
    assert {s: len(v) for s, v in stems["camvid"].items()} == {"train": 367, "val": 101, "test": 233}
    davis = stems["davis"]
    assert {davis_sequence(s) for s in davis["test"]} == set(DAVIS_TEST_SEQUENCES)
    assert len(davis["train"]) + len(davis["test"]) == 277 and len(davis["test"]) == 64
    horses = stems["weizmann_horse"]
    assert (len(horses["train"]), len(horses["test"])) == (262, 66)
    assert horses["test"][:3] == ["horse001", "horse006", "horse011"]  # pinned: the split must not drift


def test_real_camvid_reader_sample(shared_root: Path) -> None:
    image, masks, meta = split_reader("camvid", "val", shared_root)[0]
    assert image.shape == (360, 480, 3)
    assert len(masks) >= 5 and CAMVID_VOID not in meta["labels"]
    assert min(int(m.sum()) for m in masks) >= 200
    assert not np.logical_and(masks[0], masks[1]).any()

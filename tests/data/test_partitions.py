"""Readers of BSDS500-style partitions (all annotators), CCP-style parts + whole, and their shared splits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segany.data.partitions import AnnotatorPartitionReader, PartsAndWholeReader
from segany.data.shared_splits import BSDS_MIN_AREA, CCP_MIN_AREA, split_reader, split_stems


def _write(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return path


def test_annotator_reader_gives_one_sample_per_partition(tmp_path: Path) -> None:
    image = _write(tmp_path / "a.jpg", np.full((20, 30, 3), 128, np.uint8))
    coarse = np.ones((20, 30), np.uint16)
    coarse[:, 15:] = 2
    fine = coarse.copy()
    fine[:10, :15] = 300  # 16-bit ids survive
    fine[0, 0] = 7  # a 1-pixel region, under min_area
    paths = [_write(tmp_path / "a_0.png", coarse), _write(tmp_path / "a_1.png", fine)]
    reader = AnnotatorPartitionReader([("a", image, paths)], min_area=2)
    assert len(reader) == 2 and reader.stems == ["a"]
    _, masks0, meta0 = reader[0]
    _, masks1, meta1 = reader[1]
    assert (meta0["id"], meta0["annotator"], meta1["id"], meta1["annotator"]) == ("a_0", 0, "a_1", 1)
    assert meta0["labels"] == [1, 2] and meta1["labels"] == [1, 2, 300]
    for masks, labels, ids in ((masks0, coarse, [1, 2]), (masks1, fine, [1, 2, 300])):
        for mask, value in zip(masks, ids):
            assert np.array_equal(mask, labels == value)
    with pytest.raises(ValueError, match="at least one partition"):
        AnnotatorPartitionReader([("b", image, [])])


def test_parts_and_whole_reader(tmp_path: Path) -> None:
    labels = np.zeros((30, 40), np.uint8)
    labels[2:10, 2:10] = 5  # two components of class 5
    labels[20:28, 2:10] = 5
    labels[2:28, 20:30] = 19
    labels[29, 39] = 41  # a 1-pixel part: dropped, yet part of the whole
    image = _write(tmp_path / "images" / "p.jpg", np.zeros((30, 40, 3), np.uint8))
    mask = _write(tmp_path / "masks" / "p.png", labels)
    _, masks, meta = PartsAndWholeReader([("p", image, mask)], min_area=4)[0]
    assert meta["labels"] == [0, 5, 5, 19]
    assert np.array_equal(masks[0], labels > 0)
    top = np.zeros_like(labels, bool)
    top[2:10, 2:10] = True
    assert any(np.array_equal(m, top) for m in masks[1:3])
    assert np.array_equal(masks[3], labels == 19)


def test_fixture_bsds_train_reads_every_annotator(segdata: Path) -> None:
    reader = split_reader("bsds500", "train", segdata)
    stem = split_stems("bsds500", "train", segdata)[0]
    files = sorted((segdata / "bsds500" / "annotators").glob(f"{stem}_*.png"))
    assert len(reader) == len(files) > 1
    counts = []
    for k in range(len(reader)):
        _, masks, meta = reader[k]
        labels = np.asarray(Image.open(files[k]))
        ids, sizes = np.unique(labels, return_counts=True)
        expected = [int(i) for i, n in zip(ids, sizes) if i != 0 and n >= BSDS_MIN_AREA]
        assert meta["labels"] == expected and meta["annotator"] == k
        assert all(np.array_equal(m, labels == i) for m, i in zip(masks, expected))
        counts.append(len(masks))
    assert len(set(counts)) > 1  # coarse and fine annotators differ
    _, val_masks, val_meta = split_reader("bsds500", "val", segdata)[0]
    assert val_masks and "annotator" not in val_meta  # held-out splits: the one partition of masks/


def test_fixture_ccp_whole_person_and_human_seg_components(segdata: Path) -> None:
    _, masks, meta = split_reader("ccp", "val", segdata)[0]
    labels = np.asarray(Image.open(Path(meta["mask_path"])))
    assert meta["labels"][0] == 0 and np.array_equal(masks[0], labels > 0)
    assert all(m.sum() >= CCP_MIN_AREA for m in masks) and len(masks) > 2
    _, masks, meta = split_reader("human_seg", "test", segdata)[0]
    person = np.asarray(Image.open(Path(meta["mask_path"]))) >= 128
    assert masks and not (np.logical_or.reduce(masks) & ~person).any()


def test_real_new_splits(shared_root: Path) -> None:
    sizes = {
        d: {s: len(split_stems(d, s, shared_root)) for s in splits}
        for d, splits in {
            "bsds500": ("train", "val", "test"),
            "ccp": ("train", "val", "test"),
            "human_seg": ("train", "test"),
        }.items()
    }
    assert sizes == {
        "bsds500": {"train": 200, "val": 100, "test": 200},
        "ccp": {"train": 704, "val": 100, "test": 200},
        "human_seg": {"train": 230, "test": 60},
    }
    train = split_stems("bsds500", "train", shared_root)
    partitions = [p for s in train for p in (shared_root / "bsds500" / "annotators").glob(f"{s}_*.png")]
    assert len(split_reader("bsds500", "train", shared_root)) == len(partitions) >= 5 * 200

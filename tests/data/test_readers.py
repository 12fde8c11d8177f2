"""Folder, COCO and SA-1B readers on the fixture images (annotation files written to tmp_path)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pycocotools.mask as mask_utils
import pytest
from PIL import Image

from segany.data import CocoReader, FolderReader, SA1BReader, Sample, SampleReader, decode_segmentation


def test_folder_reader_binary_horses(segdata: Path) -> None:
    reader = FolderReader(segdata / "weizmann_horse" / "images", segdata / "weizmann_horse" / "masks")
    assert isinstance(reader, SampleReader)
    assert reader.stems == ["horse001", "horse002"]
    image, masks, meta = reader[0]
    raw = np.asarray(Image.open(segdata / "weizmann_horse" / "masks" / "horse001.png"))
    assert image.dtype == np.uint8 and image.shape == raw.shape + (3,)
    assert len(masks) == 1 and masks[0].dtype == bool
    np.testing.assert_array_equal(masks[0], raw == 255)
    assert meta["id"] == "horse001" and meta["labels"] == [1]
    assert [s.meta["stem"] for s in reader] == reader.stems


def test_folder_reader_semantic_camvid_ignores_void(segdata: Path) -> None:
    root = segdata / "camvid"
    reader = FolderReader(
        root / "images", root / "masks", "semantic", stems=["0001TP_006690"], min_area=50, ignore_labels=(11,)
    )
    _image, masks, meta = reader[0]
    raw = np.asarray(Image.open(root / "masks" / "0001TP_006690.png"))
    assert len(masks) == len(meta["labels"]) >= 5
    assert 11 not in meta["labels"]
    assert all(m.sum() >= 50 for m in masks)
    for mask, label in zip(masks, meta["labels"]):
        assert np.all(raw[mask] == label)
    union = np.logical_or.reduce(masks)
    assert not union[raw == 11].any()


def test_folder_reader_instance_png(tmp_path: Path, segdata: Path) -> None:
    (tmp_path / "img").mkdir()
    (tmp_path / "ann").mkdir()
    shutil.copy(segdata / "weizmann_horse" / "images" / "horse002.jpg", tmp_path / "img" / "a.jpg")
    h, w = np.asarray(Image.open(tmp_path / "img" / "a.jpg")).shape[:2]
    ids = np.zeros((h, w), np.uint8)
    ids[10:40, 10:60] = 4
    ids[100:150, 20:30] = 2
    Image.fromarray(ids).save(tmp_path / "ann" / "a.png")
    _, masks, meta = FolderReader(tmp_path / "img", tmp_path / "ann", "instance")[0]
    assert meta["labels"] == [2, 4]
    assert [int(m.sum()) for m in masks] == [500, 1500]


def test_folder_reader_errors(tmp_path: Path, segdata: Path) -> None:
    horses = segdata / "weizmann_horse"
    with pytest.raises(FileNotFoundError, match="horse999"):
        FolderReader(horses / "images", horses / "masks", stems=["horse999"])
    with pytest.raises(ValueError, match="mask_type"):
        FolderReader(horses / "images", horses / "masks", mask_type="rgb")
    with pytest.raises(IndexError):
        FolderReader(horses / "images", horses / "masks")[2]
    (tmp_path / "i").mkdir()
    (tmp_path / "m").mkdir()
    shutil.copy(horses / "images" / "horse001.jpg", tmp_path / "i" / "x.jpg")
    Image.fromarray(np.zeros((5, 5), np.uint8)).save(tmp_path / "m" / "x.png")
    with pytest.raises(ValueError, match="shape"):
        FolderReader(tmp_path / "i", tmp_path / "m")[0]


def _horse(segdata: Path) -> tuple[Path, np.ndarray]:
    path = segdata / "weizmann_horse" / "images" / "horse001.jpg"
    mask = np.asarray(Image.open(segdata / "weizmann_horse" / "masks" / "horse001.png")) > 127
    return path, mask


def test_coco_reader_polygons_rle_and_crowd(tmp_path: Path, segdata: Path) -> None:
    path, horse = _horse(segdata)
    h, w = horse.shape
    contours, _ = cv2.findContours(horse.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    outline = [c.reshape(-1).astype(float).tolist() for c in contours if len(c) >= 3]
    # Two polygons, one with corners on pixel edges: covers columns 10..29, rows 5..14 exactly.
    rects = [[10.0, 5.0, 30.0, 5.0, 30.0, 15.0, 10.0, 15.0], [0.0, 0.0, 4.0, 0.0, 4.0, 4.0, 0.0, 4.0]]
    expected_rects = np.zeros((h, w), bool)
    expected_rects[5:15, 10:30] = True
    expected_rects[0:4, 0:4] = True
    box = np.zeros((h, w), bool)
    box[5:25, 30:90] = True
    compressed = mask_utils.encode(np.asfortranarray(box.astype(np.uint8)))
    compressed["counts"] = compressed["counts"].decode("ascii")
    annotations = [
        {"id": 1, "image_id": 7, "category_id": 1, "iscrowd": 0, "segmentation": outline},
        {"id": 4, "image_id": 7, "category_id": 1, "iscrowd": 0, "segmentation": rects},
        {"id": 2, "image_id": 7, "category_id": 2, "iscrowd": 0, "segmentation": compressed},
        {"id": 3, "image_id": 7, "category_id": 2, "iscrowd": 1, "segmentation": compressed},
    ]
    data = {
        "images": [
            {"id": 7, "file_name": path.name, "height": h, "width": w},
            {"id": 8, "file_name": "no.jpg"},
        ],
        "annotations": annotations,
    }
    (tmp_path / "ann.json").write_text(json.dumps(data))
    reader = CocoReader(tmp_path / "ann.json", path.parent)
    assert len(reader) == 1  # image 8 has no annotation
    _image, masks, meta = reader[0]
    assert meta["annotation_ids"] == [1, 4, 2] and meta["category_ids"] == [1, 1, 2]
    inter, union = (masks[0] & horse).sum(), (masks[0] | horse).sum()
    assert inter / union > 0.9  # outline through pixel centres loses about half a pixel all round
    np.testing.assert_array_equal(masks[1], expected_rects)
    np.testing.assert_array_equal(masks[2], box)
    assert len(CocoReader(tmp_path / "ann.json", path.parent, include_crowd=True)[0].masks) == 4
    assert CocoReader(tmp_path / "ann.json", path.parent, category_ids=[2])[0].meta["annotation_ids"] == [2]


def test_decode_uncompressed_rle_and_errors() -> None:
    mask = np.zeros((4, 5), bool)
    mask[1:3, 2:4] = True
    # Column-major runs: 9 zeros, 2 ones, 2 zeros, 2 ones, 5 zeros.
    rle = {"size": [4, 5], "counts": [9, 2, 2, 2, 5]}
    np.testing.assert_array_equal(decode_segmentation(rle, 4, 5), mask)
    with pytest.raises(ValueError, match="size"):
        decode_segmentation(rle, 5, 4)
    with pytest.raises(TypeError, match="segmentation"):
        decode_segmentation("counts", 4, 5)


def test_sa1b_reader(tmp_path: Path, segdata: Path) -> None:
    path, horse = _horse(segdata)
    shutil.copy(path, tmp_path / "sa_1.jpg")
    rle = mask_utils.encode(np.asfortranarray(horse.astype(np.uint8)))
    rle["counts"] = rle["counts"].decode("ascii")
    tiny = mask_utils.encode(
        np.asfortranarray(
            np.pad(np.ones((2, 2), np.uint8), ((0, horse.shape[0] - 2), (0, horse.shape[1] - 2)))
        )
    )
    tiny["counts"] = tiny["counts"].decode("ascii")
    ann = {
        "id": 5,
        "segmentation": rle,
        "bbox": [0, 0, 1, 1],
        "area": int(horse.sum()),
        "predicted_iou": 0.9,
        "stability_score": 0.97,
        "crop_box": [0, 0, horse.shape[1], horse.shape[0]],
        "point_coords": [[50.0, 60.0]],
    }
    data = {
        "image": {"image_id": 1, "width": horse.shape[1], "height": horse.shape[0], "file_name": "sa_1.jpg"},
        "annotations": [ann, {**ann, "id": 6, "segmentation": tiny}],
    }
    (tmp_path / "sa_1.json").write_text(json.dumps(data))
    sample = SA1BReader(tmp_path, min_area=10)[0]
    assert isinstance(sample, Sample)
    assert sample.meta["id"] == "sa_1" and sample.meta["annotation_ids"] == [5]
    assert sample.meta["predicted_ious"] == [0.9] and sample.meta["point_coords"] == [[[50.0, 60.0]]]
    np.testing.assert_array_equal(sample.masks[0], horse)
    assert len(SA1BReader(tmp_path)[0].masks) == 2

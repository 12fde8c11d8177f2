"""write_records / write_dataset / read_records: every format through one entry point."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from formats_samples import make_records, photo_masks

from segany.formats import FORMATS, ImageInfo, dataset_output_path, read_records, write_dataset, write_records

TARGETS = {"sa1b": "out.json", "coco": "out.json", "png": "out", "yolo": "out.txt"}
FIELDS = ("area", "bbox", "predicted_iou", "point_coords", "stability_score", "crop_box")


@pytest.mark.parametrize("fmt", FORMATS)
def test_write_then_read_gives_the_masks_back(
    tmp_path: Path, fmt: str, chelsea_records: list[dict[str, Any]], chelsea_info: ImageInfo
) -> None:
    written = write_records(chelsea_records, chelsea_info, tmp_path / TARGETS[fmt], fmt)
    assert written == tmp_path / TARGETS[fmt] and written.exists()
    ((image, records),) = read_records(written, fmt, image_size=(300, 451))
    assert (image.width, image.height) == (451, 300)
    assert len(records) == len(chelsea_records)
    for got, expected in zip(records, chelsea_records):
        np.testing.assert_array_equal(got["segmentation"], expected["segmentation"])
        if fmt != "yolo":  # YOLO stores only the outline
            assert {k: got[k] for k in FIELDS} == {k: expected[k] for k in FIELDS}


@pytest.mark.parametrize("fmt", FORMATS)
def test_output_mode_is_passed_through(
    tmp_path: Path, fmt: str, chelsea_records: list[dict[str, Any]], chelsea_info: ImageInfo
) -> None:
    written = write_records(chelsea_records[:1], chelsea_info, tmp_path / TARGETS[fmt], fmt)
    ((_, (record,)),) = read_records(written, fmt, output_mode="uncompressed_rle", image_size=(300, 451))
    assert record["segmentation"]["size"] == [300, 451] and isinstance(record["segmentation"]["counts"], list)


@pytest.mark.parametrize("fmt", FORMATS)
def test_write_dataset(tmp_path: Path, fmt: str) -> None:
    items = [
        (ImageInfo("a/dog.jpg", 800, 534, image_id=1), make_records(photo_masks("dog.jpg", (120,), 2))),
        (
            ImageInfo("b/chelsea.png", 451, 300, image_id=2),
            make_records(photo_masks("chelsea.jpg", (120,), 3)),
        ),
    ]
    written = write_dataset(iter(items), tmp_path / "out", fmt)
    if fmt == "coco":
        assert written == [tmp_path / "out" / "annotations.json"]
        result = read_records(written[0], fmt)
    else:
        assert written == [dataset_output_path(tmp_path / "out", name, fmt) for name in ("dog", "chelsea")]
        sizes = [(534, 800), (300, 451)]
        result = [read_records(path, fmt, image_size=size)[0] for path, size in zip(written, sizes)]
    for (_, got), (_, records) in zip(result, items):
        assert len(got) == len(records)
        np.testing.assert_array_equal(got[-1]["segmentation"], records[-1]["segmentation"])
    if fmt == "sa1b":  # annotation ids keep counting across images
        ids = [a["id"] for path in written for a in json.loads(path.read_text())["annotations"]]
        assert ids == [1, 2, 3, 4, 5]


def test_dataset_paths_and_collisions(tmp_path: Path) -> None:
    assert dataset_output_path(tmp_path, "x/y/img.jpeg", "png") == tmp_path / "img"
    assert dataset_output_path(tmp_path, "img.jpeg", "yolo") == tmp_path / "img.txt"
    mask = np.ones((2, 2), dtype=bool)
    items = [
        ({"file_name": "a/img.jpg", "width": 2, "height": 2}, [{"segmentation": mask}]),
        ({"file_name": "b/img.png", "width": 2, "height": 2, "image_id": 2}, [{"segmentation": mask}]),
    ]
    with pytest.raises(ValueError, match="images 'a/img.jpg' and 'b/img.png' would both be written to"):
        write_dataset(items, tmp_path, "sa1b")


def test_bad_format_and_options(
    tmp_path: Path, chelsea_records: list[dict[str, Any]], chelsea_info: ImageInfo
) -> None:
    with pytest.raises(ValueError, match=r"fmt must be one of \('sa1b', 'coco', 'png', 'yolo'\), got 'voc'"):
        write_records(chelsea_records, chelsea_info, tmp_path / "x", "voc")
    with pytest.raises(ValueError, match="polygons=True applies to fmt='coco' only, got fmt='sa1b'"):
        write_records(chelsea_records, chelsea_info, tmp_path / "x", "sa1b", polygons=True)
    with pytest.raises(ValueError, match="class_id applies to fmt='yolo' only"):
        write_records(chelsea_records, chelsea_info, tmp_path / "x", "png", class_id=2)
    with pytest.raises(ValueError, match="image_size \\(H, W\\) is required to read fmt='yolo'"):
        read_records(tmp_path / "x.txt", "yolo")
    with pytest.raises(ValueError, match="output_mode must be one of"):
        read_records(tmp_path / "x.json", "sa1b", output_mode="mask")

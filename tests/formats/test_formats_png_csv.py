"""PNG + metadata.csv folders (the official amg.py layout): exact header and cells, PNG pixels, round trip."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from segany.formats import FormatError, ImageInfo, read_png_csv, write_png_csv

HEADER = (
    "id,area,bbox_x0,bbox_y0,bbox_w,bbox_h,point_input_x,point_input_y,predicted_iou,stability_score,"
    "crop_box_x0,crop_box_y0,crop_box_w,crop_box_h"
)
FIELDS = ("area", "bbox", "predicted_iou", "point_coords", "stability_score", "crop_box")


def _expected_row(index: int, record: dict[str, Any]) -> str:
    """What amg.py writes: str() of each value, in header order."""
    x, y = record["point_coords"][0]
    values = [
        index,
        record["area"],
        *record["bbox"],
        x,
        y,
        record["predicted_iou"],
        record["stability_score"],
        *record["crop_box"],
    ]
    return ",".join(str(value) for value in values)


def test_files_header_and_cells(
    tmp_path: Path, chelsea_records: list[dict[str, Any]], chelsea_info: ImageInfo
) -> None:
    folder = write_png_csv(chelsea_records, chelsea_info, tmp_path / "chelsea")
    lines = (folder / "metadata.csv").read_text().splitlines()
    assert lines[0] == HEADER
    assert lines[1:] == [_expected_row(i, r) for i, r in enumerate(chelsea_records)]
    for index, record in enumerate(chelsea_records):
        pixels = cv2.imread(str(folder / f"{index}.png"), cv2.IMREAD_UNCHANGED)  # read by OpenCV, not Pillow
        assert pixels.dtype == np.uint8 and pixels.shape == (300, 451)
        np.testing.assert_array_equal(pixels, record["segmentation"].astype(np.uint8) * 255)
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["metadata.csv", *(f"{i}.png" for i in range(len(chelsea_records)))]
    )


def test_round_trip(tmp_path: Path, chelsea_records: list[dict[str, Any]], chelsea_info: ImageInfo) -> None:
    folder = write_png_csv(chelsea_records, chelsea_info, tmp_path / "chelsea")
    image, records = read_png_csv(folder)
    assert (image.width, image.height, image.file_name) == (451, 300, "chelsea")
    assert len(records) == len(chelsea_records)
    for got, expected in zip(records, chelsea_records):
        np.testing.assert_array_equal(got["segmentation"], expected["segmentation"])
        assert {k: got[k] for k in FIELDS} == {k: expected[k] for k in FIELDS}
        assert type(got["area"]) is int and type(got["crop_box"][2]) is int


def test_missing_fields_are_empty_cells(tmp_path: Path) -> None:
    mask = np.eye(3, dtype=bool)
    folder = write_png_csv(
        [{"segmentation": mask}], {"file_name": "e.png", "width": 3, "height": 3}, tmp_path / "e"
    )
    assert (folder / "metadata.csv").read_text().splitlines()[1] == "0,3,0,0,2,2,,,,,,,,"
    _, (record,) = read_png_csv(folder)
    assert record["point_coords"] is None and record["crop_box"] is None and record["predicted_iou"] is None


def test_empty_folder_needs_image_size(tmp_path: Path) -> None:
    folder = write_png_csv([], {"file_name": "none.png", "width": 5, "height": 4}, tmp_path / "none")
    with pytest.raises(FormatError, match="lists no mask, so the image size is unknown; pass image_size"):
        read_png_csv(folder)
    image, records = read_png_csv(folder, image_size=(4, 5))
    assert (image.height, image.width, records) == (4, 5, [])


def test_bad_folders(tmp_path: Path, chelsea_records: list[dict[str, Any]], chelsea_info: ImageInfo) -> None:
    with pytest.raises(FormatError, match="metadata.csv: file not found"):
        read_png_csv(tmp_path)
    folder = write_png_csv(chelsea_records[:2], chelsea_info, tmp_path / "c")
    with pytest.raises(FormatError, match=r"mask PNGs and image_size disagree .*\(300, 451\)"):
        read_png_csv(folder, image_size=(300, 450))
    (folder / "1.png").unlink()
    with pytest.raises(FormatError, match=r"1.png: mask PNG listed in metadata.csv line 3 is missing"):
        read_png_csv(folder)
    metadata = folder / "metadata.csv"
    metadata.write_text(metadata.read_text().replace("crop_box_h", "crop_h"))
    with pytest.raises(FormatError, match="first line must be the header"):
        read_png_csv(folder)
    metadata.write_text(HEADER + "\n0,1,2\n")
    with pytest.raises(FormatError, match="line 2: expected 14 values, got 3"):
        read_png_csv(folder)
    metadata.write_text(HEADER + "\n0,big,0,0,1,1,,,,,,,,\n")
    with pytest.raises(FormatError, match="line 2, column 'area': expected a number, got 'big'"):
        read_png_csv(folder)

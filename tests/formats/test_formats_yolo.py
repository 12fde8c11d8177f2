"""YOLO-seg txt: line layout, normalised coordinates, re-rasterised masks, and bad label lines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from formats_samples import iou, make_records, photo_masks

from segany.formats import FormatError, ImageInfo, read_yolo, write_yolo


def _fill_like_ultralytics(line: str, height: int, width: int) -> np.ndarray:
    """Independent reader: scale by (w, h), round, cv2.fillPoly - what Ultralytics' polygon2mask does."""
    values = np.array(line.split()[1:], dtype=np.float64).reshape(-1, 2) * [width, height]
    canvas = np.zeros((height, width), dtype=np.uint8)
    cv2.fillPoly(canvas, [np.rint(values).astype(np.int32)], 1)
    return canvas.astype(bool)


def test_lines_are_class_and_normalised_pairs(
    tmp_path: Path, chelsea_records: list[dict[str, Any]], chelsea_info: ImageInfo
) -> None:
    path = write_yolo(chelsea_records, chelsea_info, tmp_path / "labels" / "chelsea.txt")
    lines = path.read_text().splitlines()
    assert len(lines) == len(chelsea_records)
    for line, record in zip(lines, chelsea_records):
        tokens = line.split()
        assert tokens[0] == "0" and len(tokens) % 2 == 1 and len(tokens) >= 7
        values = np.array(tokens[1:], dtype=np.float64)
        assert values.min() >= 0.0 and values.max() < 1.0
        assert all(len(token.split(".")[1]) == 6 for token in tokens[1:])
        # Each real mask is one 8-connected piece (holes included): it comes back exactly.
        np.testing.assert_array_equal(_fill_like_ultralytics(line, 300, 451), record["segmentation"])


def test_round_trip_through_read_yolo(
    tmp_path: Path, chelsea_records: list[dict[str, Any]], chelsea_info: ImageInfo
) -> None:
    path = write_yolo(chelsea_records, chelsea_info, tmp_path / "chelsea.txt", class_id=4)
    image, records = read_yolo(path, image_size=(300, 451))
    assert (image.file_name, image.width, image.height) == ("chelsea", 451, 300)
    for got, expected in zip(records, chelsea_records):
        assert got["class_id"] == 4
        np.testing.assert_array_equal(got["segmentation"], expected["segmentation"])
        assert got["area"] == expected["area"] and got["bbox"] == expected["bbox"]
        assert got["predicted_iou"] is None and got["point_coords"] is None


def test_masks_in_several_pieces_keep_iou_above_0_9(tmp_path: Path) -> None:
    pieces = photo_masks("astronaut.jpg", thresholds=(60, 120, 180), per_threshold=4)
    by_threshold = [np.logical_or.reduce(pieces[i : i + 4]) for i in range(0, len(pieces), 4)]
    records = make_records(by_threshold)
    path = write_yolo(records, ImageInfo("astronaut.jpg", 384, 384), tmp_path / "a.txt")
    _, back = read_yolo(path, image_size=(384, 384))
    for got, mask in zip(back, by_threshold):
        assert iou(got["segmentation"], mask) >= 0.9
        assert not (mask & ~got["segmentation"]).any()  # bridges only add pixels


def test_empty_mask_is_skipped(tmp_path: Path) -> None:
    masks = [np.zeros((4, 4), dtype=bool), np.eye(4, dtype=bool)]
    path = write_yolo(
        [{"segmentation": m} for m in masks], {"file_name": "e", "width": 4, "height": 4}, tmp_path / "e.txt"
    )
    assert len(path.read_text().splitlines()) == 1


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("0 0.5 0.5 0.2 0.2", "got 4 coordinate values .*YOLO detection box"),
        ("0 0.1 0.1 0.2 0.2 0.3", "at least 3 \\(x, y\\) pairs, got 5"),
        ("a 0.1 0.1 0.2 0.2 0.3 0.3", "class must be a non-negative int, got 'a'"),
        ("0 0.1 0.1 0.2 x 0.3 0.3", "coordinates must be numbers"),
        ("0 0.1 0.1 0.2 0.2 1.5 0.3", "normalised to \\[0, 1\\]"),
        ("0 0.1 0.1 0.2 0.2 nan 0.3", "normalised to \\[0, 1\\]"),
    ],
)
def test_bad_lines_name_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "bad.txt"
    path.write_text(f"0 0.1 0.1 0.2 0.1 0.2 0.2\n\n{line}\n")
    with pytest.raises(FormatError, match=f"bad.txt line 3: .*{message}"):
        read_yolo(path, image_size=(10, 10))


def test_bad_arguments(
    tmp_path: Path, chelsea_records: list[dict[str, Any]], chelsea_info: ImageInfo
) -> None:
    with pytest.raises(ValueError, match=r"image_size must be \(H, W\) with positive ints, got \(0, 5\)"):
        read_yolo(tmp_path / "x.txt", image_size=(0, 5))
    with pytest.raises(FormatError, match="x.txt: file not found"):
        read_yolo(tmp_path / "x.txt", image_size=(3, 5))
    with pytest.raises(ValueError, match="class_id must be a non-negative int, got -1"):
        write_yolo(chelsea_records, chelsea_info, tmp_path / "x.txt", class_id=-1)

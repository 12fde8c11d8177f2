"""mIoU tables, per-object CSV and the plot, against hand-computed means."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest

from segany.evaluation.metrics import mask_iou, mask_to_box_xyxy, mean_iou
from segany.evaluation.protocol import ObjectResult
from segany.evaluation.report import miou_rows, plot_miou, write_object_csv, write_tables


def _results() -> list[ObjectResult]:
    a = ObjectResult(
        "d1",
        "m",
        "img1",
        0,
        {"most_confident": [0.5, 0.6, 0.7, 0.7, 0.8, 0.8, 0.8, 0.8, 0.9], "oracle": [0.7] * 9},
        box_iou_initial=0.5,
        box_iou=0.6,
    )
    b = ObjectResult(
        "d1",
        "m",
        "img1",
        1,
        {"most_confident": [1.0] * 9, "oracle": [1.0] * 9},
        box_iou_initial=0.8,
        box_iou=0.8,
    )
    c = ObjectResult(
        "d2",
        "m",
        "x",
        0,
        {"most_confident": [0.25] * 9, "oracle": [0.25] * 9},
        box_iou_initial=0.5,
        box_iou=0.5,
    )
    return [a, b, c]


def test_metrics_by_hand() -> None:
    a = np.zeros((4, 4), bool)
    a[:2, :] = True  # 8 px
    b = np.zeros((4, 4), bool)
    b[1:3, :] = True  # 8 px, 4 shared
    assert mask_iou(a, b) == pytest.approx(4 / 12)
    assert mask_iou(np.zeros((2, 2)), np.zeros((2, 2))) == 1.0
    assert mean_iou([0.2, 0.4]) == pytest.approx(0.3) and math.isnan(mean_iou([]))
    m = np.zeros((10, 12), bool)
    m[2:5, 3:9] = True
    np.testing.assert_array_equal(mask_to_box_xyxy(m), [3, 2, 8, 4])  # XYXY, inclusive max corner
    with pytest.raises(ValueError, match="same H x W"):
        mask_iou(a, np.zeros((3, 3), bool))


def test_miou_rows_by_hand() -> None:
    rows = {(r.dataset, r.method): r for r in miou_rows(_results())}
    assert set(rows) == {
        ("d1", "m"),
        ("d1", "m (oracle)"),
        ("d2", "m"),
        ("d2", "m (oracle)"),
        ("mean", "m"),
        ("mean", "m (oracle)"),
    }
    d1 = rows["d1", "m"].values
    assert [d1[c] for c in ("1", "2", "3", "5", "9", "box")] == pytest.approx(
        [0.75, 0.8, 0.85, 0.9, 0.95, 0.7]
    )
    assert rows["d1", "m (oracle)"].values["1"] == pytest.approx(0.85)
    assert math.isnan(rows["d1", "m (oracle)"].values["box"])
    mean = rows["mean", "m"].values  # mean over datasets, not over objects
    assert [mean[c] for c in ("1", "9", "box")] == pytest.approx([0.5, 0.6, 0.6])
    assert rows["mean", "m"].n_objects == 3 and rows["d1", "m"].n_objects == 2
    assert all(r.dataset == "d1" for r in miou_rows(_results()[:2]))  # one dataset: no mean rows


def test_tables_written(tmp_path: Path) -> None:
    md_path, csv_path = write_tables(_results(), tmp_path / "out", name="t")
    md = md_path.read_text()
    assert "## d1" in md and "## mean over datasets" in md
    assert "| m | 2 | 75.0 | 80.0 | 85.0 | 90.0 | 95.0 | 70.0 |" in md
    assert "| m (oracle) | 2 | 85.0 | 85.0 | 85.0 | 85.0 | 85.0 |  |" in md
    with open(csv_path) as f:
        table = list(csv.DictReader(f))
    assert list(table[0]) == ["dataset", "method", "n_objects", "1", "2", "3", "5", "9", "box"]
    mean_row = next(r for r in table if r["dataset"] == "mean" and r["method"] == "m")
    assert float(mean_row["1"]) == pytest.approx(0.5) and float(mean_row["box"]) == pytest.approx(0.6)
    with pytest.raises(ValueError, match="results"):
        write_tables([], tmp_path)


def test_object_csv(tmp_path: Path) -> None:
    path = write_object_csv(_results(), tmp_path / "objects.csv")
    with open(path) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 6  # 3 objects x 2 selections
    first = rows[0]
    assert (first["iou_1"], first["iou_9"], first["box_iou"]) == ("0.500000", "0.900000", "0.600000")


def test_plot_written(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    path = plot_miou(_results(), tmp_path / "plots" / "miou.png")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000

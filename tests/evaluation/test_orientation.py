"""mIoU by photo orientation: sizes classified by hand, means against hand-computed ones, the CLI on a tiny
shared-data layout (listed split, images of known sizes) with the CSV written by the eval's own writer."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from PIL import Image

from segany.evaluation.orientation import (
    main,
    orientation,
    orientation_rows,
    read_object_rows,
    shared_orientations,
)
from segany.evaluation.protocol import ObjectResult
from segany.evaluation.report import write_object_csv


@pytest.mark.parametrize(
    ("width", "height", "expected"),
    [(481, 321, "landscape"), (321, 481, "portrait"), (64, 64, "square"), (1, 2, "portrait")],
)
def test_orientation_of_sizes(width: int, height: int, expected: str) -> None:
    assert orientation(width, height) == expected


def test_orientation_rejects_empty_sizes() -> None:
    with pytest.raises(ValueError, match="width and height must be positive"):
        orientation(0, 10)


def _row(dataset: str, method: str, sample: str, selection: str, click: str, box: str) -> dict[str, str]:
    return {
        "dataset": dataset,
        "method": method,
        "sample_id": sample,
        "selection": selection,
        "iou_1": click,
        "box_iou": box,
    }


def test_rows_group_by_orientation_with_hand_means() -> None:
    kinds = {"a": "portrait", "b": "landscape", "c": "portrait"}
    rows = [
        _row("d:test", "m", "a", "most_confident", "0.2", "0.5"),
        _row("d:test", "m", "a", "oracle", "0.9", "0.5"),  # other selections do not count
        _row("d:test", "m", "b", "most_confident", "0.4", "0.7"),
        _row("d:test", "m", "c", "most_confident", "0.6", "0.9"),
        _row("d:test", "g", "b", "most_confident", "", "0.1"),  # a box-only method
    ]
    result = orientation_rows(rows, lambda dataset, sample: kinds[sample])
    summary = [(r.method, r.orientation, r.n_objects, r.box, r.click_1) for r in result]
    assert summary[0][:3] == ("m", "portrait", 2)
    assert summary[0][3] == pytest.approx((0.5 + 0.9) / 2) and summary[0][4] == pytest.approx((0.2 + 0.6) / 2)
    assert summary[1][:3] == ("m", "landscape", 1)
    assert summary[1][3] == pytest.approx(0.7) and summary[1][4] == pytest.approx(0.4)
    assert summary[2][:4] == ("g", "landscape", 1, pytest.approx(0.1)) and math.isnan(summary[2][4])
    assert len(summary) == 3


def _tiny_shared_root(root: Path) -> None:
    """ccp with a listed test split: p1 portrait (30 x 50), l1 landscape (50 x 30)."""
    folder = root / "ccp"
    for sub in ("images", "masks", "splits"):
        (folder / sub).mkdir(parents=True)
    for stem, size in (("p1", (30, 50)), ("l1", (50, 30))):
        Image.new("RGB", size).save(folder / "images" / f"{stem}.jpg")
        Image.new("L", size).save(folder / "masks" / f"{stem}.png")
    (folder / "splits" / "test.txt").write_text("p1\nl1\n")


def test_cli_reads_eval_folders_and_photo_sizes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _tiny_shared_root(tmp_path / "data")
    assert shared_orientations("ccp:test", tmp_path / "data") == {"p1": "portrait", "l1": "landscape"}
    results = [
        ObjectResult("ccp:test", "m", "p1", 0, {"most_confident": [0.25]}, box_iou_initial=0.3, box_iou=0.5),
        ObjectResult("ccp:test", "m", "p1", 1, {"most_confident": [0.75]}, box_iou_initial=0.3, box_iou=0.7),
        ObjectResult("ccp:test", "m", "l1", 0, {"most_confident": [0.5]}, box_iou_initial=0.3, box_iou=0.2),
    ]
    write_object_csv(results, tmp_path / "eval" / "objects.csv")
    out = tmp_path / "by_orientation.md"
    assert main([str(tmp_path / "eval"), "--data-root", str(tmp_path / "data"), "--out", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[2] == "| ccp:test | m | portrait | 2 | 60.0 | 50.0 |"
    assert lines[3] == "| ccp:test | m | landscape | 1 | 20.0 | 50.0 |"
    assert out.read_text().splitlines() == lines
    assert len(read_object_rows([tmp_path / "eval" / "objects.csv"])) == 3


def test_bad_inputs_name_what_was_given(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no per-object CSV"):
        read_object_rows([tmp_path / "missing"])
    with pytest.raises(ValueError, match="NAME:SPLIT"):
        shared_orientations("ccp", tmp_path)
    _tiny_shared_root(tmp_path / "data")
    rows = [ObjectResult("ccp:test", "m", "zz", 0, {"most_confident": [0.5]}, box_iou=0.5)]
    write_object_csv(rows, tmp_path / "eval" / "objects.csv")
    with pytest.raises(ValueError, match="'zz' is not in the shared split"):
        main([str(tmp_path / "eval"), "--data-root", str(tmp_path / "data")])

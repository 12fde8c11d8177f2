"""`segany everything`: each output format agrees with the others, resume, failures, overlays, settings."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from cli_testing import FIXTURES, LOW_THRESHOLDS, TINY, Result, assert_one_line_error, run_cli
from PIL import Image
from pycocotools import mask as coco_mask

from segany.cli.main import build_parser

pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation:DeprecationWarning"
)  # pycocotools + numpy 2
HEIGHT, WIDTH = 300, 451  # chelsea.jpg
FORMATS = ("sa1b", "coco", "png", "yolo")
CLEAN = ("--min-mask-region-area", "20")


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory, smooth_tiny: Path) -> dict[str, tuple[Result, Path]]:
    """chelsea.jpg through every format with the same model and settings."""
    runs = {}
    for fmt in FORMATS:
        out = tmp_path_factory.mktemp(f"everything_{fmt}")
        argv = (
            "everything",
            FIXTURES / "chelsea.jpg",
            "--format",
            fmt,
            *LOW_THRESHOLDS,
            *CLEAN,
            "--model",
            smooth_tiny,
        )
        result = run_cli(*argv, "--out", out)
        runs[fmt] = (result, out)
    return runs


def _png_masks(out: Path) -> list[np.ndarray]:
    folder = out / "chelsea"
    rows = (folder / "metadata.csv").read_text().splitlines()[1:]
    masks = []
    for row in rows:
        with Image.open(folder / f"{row.split(',')[0]}.png") as image:
            masks.append(np.asarray(image) > 127)
    return masks


def _decode(rle: dict) -> np.ndarray:
    return coco_mask.decode({"size": rle["size"], "counts": rle["counts"].encode()}).astype(bool)


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_format_runs_and_reports(outputs: dict[str, tuple[Result, Path]], fmt: str) -> None:
    result, out = outputs[fmt]
    assert result.code == 0, result.err
    assert "Traceback" not in result.err
    assert "1 image(s): 1 processed, 0 skipped (already done), 0 failed" in result.out
    masks = int(result.out.split("failed; ")[1].split(" masks")[0])
    assert masks > 0, "low thresholds must give masks even with random weights"
    settings = json.loads((out / "settings.json").read_text())
    assert settings["command"] == "everything" and settings["format"] == fmt
    assert settings["generator"]["points_per_side"] == 4
    assert settings["generator"]["pred_iou_thresh"] == 0.0
    assert settings["generator"]["min_mask_region_area"] == 20
    assert "box_nms_thresh" in settings["generator"]  # the library default, recorded
    assert settings["summary"]["masks"] == masks


def test_sa1b_file_layout(outputs: dict[str, tuple[Result, Path]]) -> None:
    _, out = outputs["sa1b"]
    document = json.loads((out / "chelsea.json").read_text())
    assert document["image"] == {"image_id": 1, "width": WIDTH, "height": HEIGHT, "file_name": "chelsea.jpg"}
    for annotation in document["annotations"]:
        mask = _decode(annotation["segmentation"])
        assert mask.shape == (HEIGHT, WIDTH)
        assert annotation["area"] == int(mask.sum())
        if mask.any():
            rows, cols = np.nonzero(mask)
            assert annotation["bbox"][:2] == [int(cols.min()), int(rows.min())]
        assert set(annotation) >= {"id", "predicted_iou", "stability_score", "crop_box", "point_coords"}


def test_png_sa1b_and_coco_masks_are_identical(outputs: dict[str, tuple[Result, Path]]) -> None:
    png = _png_masks(outputs["png"][1])
    sa1b = json.loads((outputs["sa1b"][1] / "chelsea.json").read_text())["annotations"]
    coco = json.loads((outputs["coco"][1] / "annotations.json").read_text())
    assert coco["images"] == [{"id": 1, "width": WIDTH, "height": HEIGHT, "file_name": "chelsea.jpg"}]
    assert (outputs["coco"][1] / "per_image" / "chelsea.json").is_file()
    assert len(png) == len(sa1b) == len(coco["annotations"]) > 0
    for mask, sa1b_annotation, coco_annotation in zip(png, sa1b, coco["annotations"]):
        assert mask.shape == (HEIGHT, WIDTH)
        np.testing.assert_array_equal(_decode(sa1b_annotation["segmentation"]), mask)
        np.testing.assert_array_equal(_decode(coco_annotation["segmentation"]), mask)
        assert coco_annotation["image_id"] == 1 and coco_annotation["area"] == int(mask.sum())


def test_yolo_polygons_rasterise_back_to_the_masks(outputs: dict[str, tuple[Result, Path]]) -> None:
    """Each polygon, filled as Ultralytics does, gives its mask back (IoU >= 0.9). A mask in several parts
    is one polygon joined by 1-pixel bridges (YOLO-seg has one polygon per object): there the fill must
    still cover the mask, and IoU >= 0.9 holds over all masks together."""
    png = [mask for mask in _png_masks(outputs["png"][1]) if mask.any()]
    lines = (outputs["yolo"][1] / "chelsea.txt").read_text().splitlines()
    assert len(lines) == len(png) > 0
    inter = union = whole = 0
    for line, mask in zip(lines, png):
        values = line.split()
        assert values[0] == "0"
        points = np.asarray(values[1:], dtype=np.float64).reshape(-1, 2) * [WIDTH, HEIGHT]
        assert points.min() >= 0 and np.all(points <= [WIDTH, HEIGHT])
        raster = np.zeros((HEIGHT, WIDTH), np.uint8)
        cv2.fillPoly(raster, [np.round(points).astype(np.int32)], 1)
        raster = raster.astype(bool)
        iou = (raster & mask).sum() / (raster | mask).sum()
        parts = cv2.connectedComponents(mask.astype(np.uint8))[0] - 1
        if parts == 1:
            assert iou >= 0.9, iou
            whole += 1
        assert (raster & mask).sum() >= 0.98 * mask.sum()
        inter, union = inter + (raster & mask).sum(), union + (raster | mask).sum()
    assert inter / union >= 0.9
    assert whole > 0


def test_resume_skips_done_images_and_survives_a_corrupt_file(tmp_path: Path, smooth_tiny: Path) -> None:
    photos, out = tmp_path / "photos", tmp_path / "out"
    photos.mkdir()
    (photos / "chelsea.jpg").write_bytes((FIXTURES / "chelsea.jpg").read_bytes())
    broken = photos / "zz_broken.jpg"
    broken.write_bytes((FIXTURES / "dog.jpg").read_bytes()[:2000])
    argv = (
        "everything",
        photos,
        "--format",
        "coco",
        "--overlay",
        *LOW_THRESHOLDS,
        "--model",
        smooth_tiny,
        "--out",
        out,
    )

    first = run_cli(*argv)
    assert first.code == 1  # one image failed
    assert_one_line_error(first, str(broken), "truncated or corrupt")
    assert "2 image(s): 1 processed, 0 skipped (already done), 1 failed" in first.out
    part, overlay = out / "per_image" / "chelsea.json", out / "overlays" / "chelsea.png"
    with Image.open(overlay) as image:
        assert (image.mode, image.size) == ("RGB", (WIDTH, HEIGHT))
    stamps = (part.stat().st_mtime_ns, overlay.stat().st_mtime_ns)

    (photos / "rocket.jpg").write_bytes((FIXTURES / "rocket_portrait.jpg").read_bytes())
    second = run_cli(*argv)
    assert second.code == 1
    assert "3 image(s): 1 processed, 1 skipped (already done), 1 failed" in second.out
    assert (part.stat().st_mtime_ns, overlay.stat().st_mtime_ns) == stamps  # not rewritten
    coco = json.loads((out / "annotations.json").read_text())
    assert [(image["id"], image["file_name"]) for image in coco["images"]] == [
        (1, "chelsea.jpg"),
        (2, "rocket.jpg"),
    ]
    assert {annotation["image_id"] for annotation in coco["annotations"]} == {1, 2}
    assert sorted(p.name for p in (out / "overlays").iterdir()) == ["chelsea.png", "rocket.png"]

    broken.unlink()
    third = run_cli(*argv)
    assert third.code == 0, third.err
    assert "2 image(s): 0 processed, 2 skipped (already done), 0 failed" in third.out

    changed = run_cli(*argv[:-2], "--points-per-side", "8", "--out", out)
    assert_one_line_error(changed, "different generator", "--overwrite")


def test_input_errors(tmp_path: Path) -> None:
    result = run_cli("everything", tmp_path / "missing", *TINY, "--out", tmp_path / "o")
    assert_one_line_error(result, "missing", "does not exist")
    (tmp_path / "empty").mkdir()
    result = run_cli("everything", tmp_path / "empty", *TINY, "--out", tmp_path / "o")
    assert_one_line_error(result, "no image files found")
    (tmp_path / "same").mkdir()
    for name in ("a.jpg", "a.png"):
        Image.new("RGB", (8, 8)).save(tmp_path / "same" / name)
    result = run_cli("everything", tmp_path / "same", *TINY, "--out", tmp_path / "o")
    assert_one_line_error(result, "would write the same outputs")


def test_preset_is_overridden_by_flags() -> None:
    from segany.amg.presets import PRESETS, get_preset
    from segany.cli.everything import PRESETS as CLI_PRESETS
    from segany.cli.everything import generator_settings

    assert CLI_PRESETS == tuple(PRESETS)
    args = build_parser().parse_args(
        ["everything", "x", "--out", "o", "--preset", "fast", "--pred-iou-thresh", "0.5"]
    )
    expected = {**get_preset("fast"), "pred_iou_thresh": 0.5}
    assert generator_settings(args) == expected
    plain = build_parser().parse_args(["everything", "x", "--out", "o", "--min-mask-region-area", "20"])
    assert generator_settings(plain) == {"min_mask_region_area": 20}


def test_unexpected_error_in_one_image_is_reported_not_raised(
    tmp_path: Path, smooth_tiny: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from segany.amg.generator import SamAutomaticMaskGenerator

    def broken_generate(self: object, image: np.ndarray) -> list:
        raise KeyError("boom")

    monkeypatch.setattr(SamAutomaticMaskGenerator, "generate", broken_generate)
    result = run_cli("everything", FIXTURES / "chelsea.jpg", "--model", smooth_tiny, "--out", tmp_path)
    assert result.code == 1
    assert_one_line_error(result, "chelsea.jpg", "unexpected KeyError", "SEGANY_DEBUG=1")
    assert "1 image(s): 0 processed, 0 skipped (already done), 1 failed" in result.out
    monkeypatch.setenv("SEGANY_DEBUG", "1")
    with pytest.raises(KeyError):
        run_cli("everything", FIXTURES / "chelsea.jpg", "--model", smooth_tiny, "--out", tmp_path)


def test_several_inputs_as_a_new_user_types_them(tmp_path: Path, smooth_tiny: Path) -> None:
    """`segany everything dog.jpg chelsea.jpg --out o`: several files (and a folder), one run, outputs named
    after each image; an image named twice (alone and through its folder) is processed once."""
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("dog.jpg", "chelsea.jpg"):
        (photos / name).write_bytes((FIXTURES / name).read_bytes())
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "astronaut.jpg").write_bytes((FIXTURES / "astronaut.jpg").read_bytes())
    out = tmp_path / "out"
    argv = (photos / "dog.jpg", photos / "chelsea.jpg", extra, photos / "dog.jpg")
    result = run_cli("everything", *argv, "--points-per-side", "2", "--model", smooth_tiny, "--out", out)
    assert result.code == 0, result.err
    assert "3 image(s): 3 processed" in result.out
    names = sorted(
        path.relative_to(out).as_posix() for path in out.rglob("*.json") if path.name != "settings.json"
    )
    assert names == ["extra/astronaut.json", "photos/chelsea.json", "photos/dog.json"]
    embedded = tmp_path / "embedded"
    result = run_cli("embed", photos / "dog.jpg", photos / "chelsea.jpg", *TINY, "--out", embedded)
    assert result.code == 0, result.err
    assert sorted(path.name for path in embedded.glob("*.npz")) == ["chelsea.npz", "dog.npz"]

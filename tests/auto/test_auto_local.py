"""`segany auto` with the local engine: outputs against the library called directly, resume, refusal,
error rows, boxes mode, URLs, the results index and the command line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from auto_testing import GRID, output_bytes, run_photos

from segany.auto import (
    ImageWorker,
    ModelSource,
    RunMismatchError,
    export_coco,
    iter_results,
    read_index,
    read_manifest,
    run_auto,
)
from segany.cli.main import main
from segany.formats import read_coco, read_sa1b
from segany.io import load_image

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
SHARD = 3


@pytest.fixture(scope="module")
def model(tiny_checkpoint: Path):  # type: ignore[no-untyped-def]
    return ModelSource(str(tiny_checkpoint)).load()[0]


@pytest.fixture(scope="module")
def first_run(
    tmp_path_factory: pytest.TempPathFactory, photos: Path, tiny_checkpoint: Path
) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("auto_local") / "out"
    summary = run_photos(photos, out, tiny_checkpoint, SHARD)
    return out, summary


def test_each_image_matches_the_generator_called_directly(first_run, photos: Path, model) -> None:  # type: ignore[no-untyped-def]
    from segany.amg import SamAutomaticMaskGenerator

    out, summary = first_run
    generator = SamAutomaticMaskGenerator(model, **GRID, output_mode="coco_rle")
    rows = read_index(out)
    assert [row.id for row in rows] == [f"img_{i:02d}.png" for i in range(10)]
    assert summary.images == 10 and summary.processed == 10 and summary.errors == 1
    assert summary.shards == 4 and summary.shards_unfinished == 0
    for row in rows:
        if row.id == "img_03.png":
            continue
        image = load_image(photos / row.id)
        expected = generator.generate(image)
        info, records = read_sa1b(out / row.file, output_mode="coco_rle")
        assert (info.width, info.height, info.file_name, info.image_id) == (
            image.shape[1],
            image.shape[0],
            row.id,
            row.image_id,
        )
        assert len(records) == len(expected) == row.masks > 0
        for got, want in zip(records, expected):
            assert got["segmentation"] == want["segmentation"]
            assert got["bbox"] == want["bbox"] and got["area"] == want["area"]
            assert got["predicted_iou"] == pytest.approx(want["predicted_iou"], abs=0)
    assert summary.masks == sum(row.masks for row in rows)


def test_a_corrupt_file_is_one_error_row(first_run) -> None:  # type: ignore[no-untyped-def]
    out, _ = first_run
    bad = [row for row in read_index(out) if row.error is not None]
    assert [row.id for row in bad] == ["img_03.png"]
    assert "cannot load image" in bad[0].error and "img_03.png" in bad[0].error
    assert (out / bad[0].file).is_file() and bad[0].file.endswith(".error.json")
    marker = json.loads((out / "shards" / "000001.done.json").read_text())
    assert [image["id"] for image in marker["images"]] == ["img_03.png", "img_04.png", "img_05.png"]
    assert marker["images"][0]["error"] == bad[0].error


def test_shards_are_committed_folders_with_markers(first_run) -> None:  # type: ignore[no-untyped-def]
    out, _ = first_run
    shards = out / "shards"
    assert sorted(p.name for p in shards.iterdir()) == [
        name for index in range(4) for name in (f"{index:06d}", f"{index:06d}.done.json")
    ]
    assert sorted(p.name for p in (shards / "000003").iterdir()) == ["img_09.png.json"]
    assert not list((out / "staging").glob("*/*"))
    identity = json.loads((out / "run.json").read_text())
    marker = json.loads((shards / "000000.done.json").read_text())
    assert marker["settings_sha256"] == identity["settings_sha256"]
    assert marker["model_fingerprint"] == identity["model_fingerprint"]
    assert identity["settings"]["generator"]["points_per_side"] == 4
    assert identity["settings"]["generator"]["box_nms_thresh"] == 0.7  # library default, recorded


def test_rerun_skips_everything_and_changes_no_byte(first_run, photos: Path, tiny_checkpoint: Path) -> None:  # type: ignore[no-untyped-def]
    out, _ = first_run
    before = output_bytes(out)
    times = {path: path.stat().st_mtime_ns for path in (out / "shards").rglob("*")}
    summary = run_photos(photos, out, tiny_checkpoint, SHARD)
    assert summary.processed == 0 and summary.skipped == 10 and summary.shards_skipped == 4
    assert output_bytes(out) == before
    assert {path: path.stat().st_mtime_ns for path in (out / "shards").rglob("*")} == times


def test_interrupted_run_redoes_only_unfinished_work(
    first_run, photos: Path, tiny_checkpoint: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """Simulate a run stopped (a) after shard 1's rename but before its marker and (b) in the middle of
    shard 2 (one image staged): only shard 2's two other images are computed again."""
    reference, _ = first_run
    out = tmp_path / "out"
    shutil.copytree(reference, out)
    (out / "shards" / "000001.done.json").unlink()
    staging = out / "staging" / "000002"
    staging.parent.mkdir(exist_ok=True)
    shutil.move(out / "shards" / "000002", staging)
    (out / "shards" / "000002.done.json").unlink()
    for name in ("img_06.png.json", "img_07.png.json"):
        (staging / name).unlink()
    (out / "index.jsonl").unlink()
    untouched = {path: path.stat().st_mtime_ns for path in (out / "shards").rglob("*")}
    seen = []
    summary = run_photos(
        photos,
        out,
        tiny_checkpoint,
        SHARD,
        on_row=lambda row: seen.append(row.id),
    )
    assert sorted(seen) == ["img_06.png", "img_07.png"]
    assert summary.processed == 2 and summary.skipped == 8 and summary.shards_skipped == 2
    assert output_bytes(out) == output_bytes(reference)
    for path, mtime in untouched.items():
        if "000000" in path.name or "000003" in path.name or path.parent.name in ("000000", "000003"):
            assert path.stat().st_mtime_ns == mtime, path


def test_other_settings_are_refused_unless_overwrite(first_run, photos: Path, tiny_checkpoint: Path) -> None:  # type: ignore[no-untyped-def]
    out, _ = first_run
    source = ModelSource(str(tiny_checkpoint))
    with pytest.raises(RunMismatchError, match="another settings"):
        run_auto(
            read_manifest(photos), out, source, generator={**GRID, "points_per_side": 3}, shard_size=SHARD
        )
    with pytest.raises(RunMismatchError, match="another settings"):
        run_auto(read_manifest(photos), out, source, generator=GRID, shard_size=SHARD + 1)
    with pytest.raises(RunMismatchError, match="another model"):
        run_auto(read_manifest(photos), out, ModelSource("vit_tiny"), generator=GRID, shard_size=SHARD)


def test_overwrite_replaces_the_results(photos: Path, tiny_checkpoint: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    source = ModelSource(str(tiny_checkpoint))
    run_auto(read_manifest(photos), out, source, generator=GRID, shard_size=5)
    summary = run_auto(
        read_manifest(photos),
        out,
        source,
        generator={**GRID, "points_per_side": 2},
        shard_size=4,
        overwrite=True,
    )
    assert summary.processed == 10 and summary.shards == 3
    assert sorted(p.name for p in (out / "shards").glob("*.done.json")) == [
        f"00000{i}.done.json" for i in range(3)
    ]
    assert json.loads((out / "run.json").read_text())["settings"]["generator"]["points_per_side"] == 2


def test_boxes_mode_gives_the_predictors_masks(
    photos: Path, tiny_checkpoint: Path, model, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    from segany import SamPredictor

    given = {
        "img_00.png": [[5, 6, 40, 30], [0, 0, 71, 55]],
        "img_01.png": [[10, 10, 20, 50]],
        "img_02.png": [[9, 9, 3, 3]],
    }
    manifest = tmp_path / "list.txt"  # a list file: ids are its lines (here absolute paths)
    manifest.write_text("".join(f"{photos / f'img_0{i}.png'}\n" for i in range(4)))
    boxes = {str(photos / name): value for name, value in given.items()}
    out = tmp_path / "out"
    summary = run_auto(
        read_manifest(manifest), out, ModelSource(str(tiny_checkpoint)), boxes=boxes, shard_size=2
    )
    rows = {Path(row.id).name: row for row in read_index(out)}
    assert rows["img_02.png"].error is not None and "x1" in rows["img_02.png"].error  # x1 < x0: an error row
    assert rows["img_03.png"].error is not None  # corrupt
    assert summary.errors == 2
    predictor = SamPredictor(model)
    for name in ("img_00.png", "img_01.png"):
        image = load_image(photos / name)
        predictor.set_image(image)
        masks, scores, _ = predictor.predict_boxes(np.array(given[name]), multimask_output=False)
        _, records = read_sa1b(out / rows[name].file, output_mode="binary_mask")
        assert len(records) == len(given[name])
        for index, record in enumerate(records):
            np.testing.assert_array_equal(record["segmentation"], masks[index, 0])
            assert record["predicted_iou"] == pytest.approx(float(scores[index, 0]))
            assert record["crop_box"] == [0, 0, image.shape[1], image.shape[0]]
    assert rows["img_00.png"].masks == 2


def test_urls_and_manifests_read_the_same_images(photos: Path, tiny_checkpoint: Path, tmp_path: Path) -> None:
    """A JSONL manifest of file:// URLs (read through pyarrow's filesystems) gives the folder run's masks."""
    lines = [
        json.dumps({"id": f"img_0{i}.png", "uri": (photos / f"img_0{i}.png").resolve().as_uri()})
        for i in (0, 1)
    ]
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("\n".join(lines) + "\n")
    source = ModelSource(str(tiny_checkpoint))
    run_auto(read_manifest(manifest), tmp_path / "a", source, generator=GRID, shard_size=4)
    folder = tmp_path / "folder"
    folder.mkdir()
    for i in (0, 1):
        shutil.copy(photos / f"img_0{i}.png", folder)
    run_auto(read_manifest(folder), tmp_path / "b", source, generator=GRID, shard_size=4)
    a, b = read_index(tmp_path / "a"), read_index(tmp_path / "b")
    assert [row.masks for row in a] == [row.masks for row in b] and a[0].error is None
    for row_a, row_b in zip(a, b):
        assert (tmp_path / "a" / row_a.file).read_bytes() == (tmp_path / "b" / row_b.file).read_bytes()


def test_index_readers_and_coco_export(first_run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out, summary = first_run
    results = list(iter_results(out))
    assert len(results) == 9 and sum(len(records) for _, _, records in results) == summary.masks
    coco = read_coco(export_coco(out, tmp_path / "coco.json"), output_mode="coco_rle")
    assert [info.file_name for info, _ in coco] == [row.id for row, _, _ in results]
    for (info, records), (_, _, expected) in zip(coco, results):
        assert [r["segmentation"] for r in records] == [r["segmentation"] for r in expected]


def test_command_line_runs_and_resumes(photos: Path, tiny_checkpoint: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    argv = [
        "auto",
        str(photos),
        "--out",
        str(tmp_path / "o"),
        "--model",
        str(tiny_checkpoint),
        "--shard-size",
        "4",
    ]
    grid = ["--points-per-side", "4", "--pred-iou-thresh", "0", "--stability-score-thresh", "0", "-q"]
    assert main(argv + grid) == 1  # one corrupt image -> exit code 1
    assert "10 image(s) in 3 shard(s): 10 processed" in capsys.readouterr().out
    assert main(argv + grid) == 1
    assert "0 processed, 10 skipped (3 shard(s) already done), 1 error(s)" in capsys.readouterr().out
    assert main(argv + ["--points-per-side", "3", "-q"]) == 1
    assert "another settings" in capsys.readouterr().err
    assert main(argv + ["--workers", "2", "-q"]) == 1
    assert "--workers applies to --engine ray" in capsys.readouterr().err


def test_encoder_batching_in_the_actor_matches_single_images(
    photos: Path, tiny_checkpoint: Path, model, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """The Ray actor's call (run here without Ray) with encoder batching: one encoder pass for the batch, then
    each image prompted; the masks equal those of single passes up to float rounding of batched kernels."""
    from pycocotools import mask as coco_mask

    from segany.auto import RunSettings, model_fingerprint
    from segany.auto.ray_engine import _SegmentActor
    from segany.auto.settings import effective_generator_settings

    settings = RunSettings("grid", 4, generator=effective_generator_settings(GRID))
    identity = {
        "settings": settings.to_dict(),
        "settings_sha256": "x",
        "model_fingerprint": model_fingerprint(model),
    }
    names = ["img_00.png", "img_01.png", "img_03.png", "img_04.png"]  # img_03 is corrupt
    images = [None if name == "img_03.png" else load_image(photos / name) for name in names]
    batch = {
        "id": np.array(names),
        "uri": np.array([str(photos / name) for name in names]),
        "image_id": np.arange(1, 5),
        "shard": np.array(["000000"] * 4),
        "boxes": np.array(["[]"] * 4),
        "error": np.array(["" if image is not None else "cannot load image" for image in images]),
        "height": np.array([0 if image is None else image.shape[0] for image in images]),
        "width": np.array([0 if image is None else image.shape[1] for image in images]),
        "pixels": np.array([b"" if image is None else image.tobytes() for image in images], dtype=object),
    }
    outputs = {}
    for batched in (False, True):
        actor = _SegmentActor(
            ModelSource(str(tiny_checkpoint)),
            settings,
            str(tmp_path / str(batched)),
            identity,
            ImageWorker,
            batched,
        )
        encoded: list[int] = []
        actor.worker.embeddings = _counting(actor.worker.embeddings, encoded)  # type: ignore[method-assign]
        columns = actor(batch)
        assert columns["error"] == ["", "", "cannot load image", ""] and encoded == ([3] if batched else [])
        outputs[batched] = [
            json.loads((tmp_path / str(batched) / "staging" / "000000" / f"{name}.json").read_text())
            for name in names
            if name != "img_03.png"
        ]
    for single, batched_doc in zip(outputs[False], outputs[True]):
        assert len(single["annotations"]) == len(batched_doc["annotations"]) > 0
        for a, b in zip(single["annotations"], batched_doc["annotations"]):
            masks = [
                coco_mask.decode(
                    {"size": x["segmentation"]["size"], "counts": x["segmentation"]["counts"].encode()}
                )
                for x in (a, b)
            ]
            assert (masks[0] != masks[1]).sum() <= 0.001 * masks[0].size
            assert b["predicted_iou"] == pytest.approx(a["predicted_iou"], abs=1e-4)


def _counting(embeddings: Any, log: list[int]) -> Any:
    """``embeddings`` that also logs how many images each call encodes."""

    def counted(images: list[np.ndarray]) -> Any:
        log.append(len(images))
        return embeddings(images)

    return counted

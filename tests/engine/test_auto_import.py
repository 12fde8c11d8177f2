"""Import of a finished `segany auto` run into a project (`segany engine import-auto`): images by content,
masks as automatic proposals against the run's SA-1B json decoded with pycocotools, the model version by the
serving fingerprint, error rows, re-import idempotency, Parquet runs, and the command line; SQLite and
PostgreSQL."""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pycocotools import mask as coco_mask
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "auto"))
from auto_testing import run_photos, write_tiny_checkpoint, write_tiny_photos

from segany.cli.main import main
from segany.engine.auto_import import import_auto_run
from segany.engine.errors import Invalid, NotFound
from segany.engine.models import Annotation, Image, ModelVersion
from segany.engine.projects import create_project
from segany.engine.review import sample_queue
from segany.engine.store import Store, open_store

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[None]:
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, one_torch_thread: None) -> dict[str, Path]:
    """An SA-1B and a Parquet run of 6 tiny photos: img_02 corrupt, img_05 a byte copy of img_00."""
    folder = tmp_path_factory.mktemp("auto_import")
    photos = write_tiny_photos(folder / "photos", 5, corrupt=(2,))
    shutil.copy(photos / "img_00.png", photos / "img_05.png")
    checkpoint = write_tiny_checkpoint(folder / "tiny.pth")
    run_photos(photos, folder / "sa1b", checkpoint, 4)
    run_photos(photos, folder / "parquet", checkpoint, 4, output_format="parquet")
    return {
        "sa1b": folder / "sa1b",
        "parquet": folder / "parquet",
        "checkpoint": checkpoint,
        "photos": photos,
    }


def _project(store: Store, name: str = "gulls") -> int:
    with store.transaction() as db:
        return create_project(db, name).id


def _expected(run: Path) -> dict[str, list[dict[str, Any]]]:
    """The run's SA-1B annotations by image file sha256, read as plain json (no segany reader)."""
    expected: dict[str, list[dict[str, Any]]] = {}
    for line in (run / "index.jsonl").read_text().splitlines():
        row = json.loads(line)
        if row["error"] is None:
            digest = hashlib.sha256(Path(row["uri"]).read_bytes()).hexdigest()
            expected[digest] = json.loads((run / row["file"]).read_text())["annotations"]
    return expected


def _counts(store: Store) -> tuple[int, int, int]:
    with store.session() as db:
        return tuple(  # type: ignore[return-value]
            db.scalar(select(func.count()).select_from(table)) for table in (Image, Annotation, ModelVersion)
        )


def test_import_matches_the_runs_json_and_is_idempotent(store: Store, runs: dict[str, Path]) -> None:
    from segany.auto import ModelSource
    from segany.training.embedding_cache import model_fingerprint

    project_id = _project(store)
    summary = import_auto_run(store, "gulls", runs["sa1b"])
    assert summary.images == 6 and summary.images_added == 4 and summary.images_known == 1
    assert [image_id for image_id, _ in summary.run_errors] == ["img_02.png"] and not summary.failed
    expected = _expected(runs["sa1b"])
    assert len(expected) == 4  # img_00 and its copy img_05 are one image
    total = sum(len(annotations) for annotations in expected.values())
    assert summary.masks_added == total > 4
    assert summary.masks_known == len(
        expected[hashlib.sha256((runs["photos"] / "img_00.png").read_bytes()).hexdigest()]
    )

    model, _ = ModelSource(str(runs["checkpoint"])).load()
    with store.session() as db:
        version = db.get(ModelVersion, summary.model_version_id)
        assert version is not None and version.fingerprint == model_fingerprint(model, model.image_size)
        assert version.model == str(runs["checkpoint"])
        images = list(db.scalars(select(Image).where(Image.project_id == project_id)))
        assert sorted(image.sha256 for image in images) == sorted(expected)
        for image in images:
            rows = list(
                db.scalars(select(Annotation).where(Annotation.image_id == image.id).order_by(Annotation.id))
            )
            want = expected[image.sha256]
            assert len(rows) == len(want)
            for row, annotation in zip(rows, want):
                rle = annotation["segmentation"]
                want_mask = coco_mask.decode({"size": rle["size"], "counts": rle["counts"].encode()})
                got_mask = coco_mask.decode(
                    {"size": [row.height, row.width], "counts": row.rle_counts.encode()}
                )
                np.testing.assert_array_equal(got_mask, want_mask)
                assert [row.height, row.width] == [image.height, image.width] == rle["size"]
                assert row.area == int(want_mask.sum())
                assert row.predicted_iou == pytest.approx(annotation["predicted_iou"], abs=1e-12)
                assert row.stability_score == pytest.approx(annotation["stability_score"], abs=1e-12)
                assert (row.source, row.status) == ("automatic", "proposed")
                assert row.model_version_id == version.id
        queue = sample_queue(db, project_id, 1000)
        assert len(queue) == total

    before = _counts(store)
    again = import_auto_run(store, project_id, runs["sa1b"])
    assert (again.images_added, again.masks_added) == (0, 0)
    assert again.images_known == 5 and again.masks_known == summary.masks_added + summary.masks_known
    assert again.model_version_id == summary.model_version_id
    assert _counts(store) == before


def test_the_parquet_run_imports_the_same_masks(sqlite_store: Store, runs: dict[str, Path]) -> None:
    _project(sqlite_store, "a")
    _project(sqlite_store, "b")
    from_json = import_auto_run(sqlite_store, "a", runs["sa1b"])
    from_parquet = import_auto_run(sqlite_store, "b", runs["parquet"])
    assert from_parquet.masks_added == from_json.masks_added and from_parquet.images_added == 4
    assert from_parquet.model_version_id == from_json.model_version_id

    def masks(project: str) -> list[tuple[Any, ...]]:
        with sqlite_store.session() as db:
            query = (
                select(
                    Image.sha256, Annotation.rle_counts, Annotation.predicted_iou, Annotation.stability_score
                )
                .join(Image, Image.id == Annotation.image_id)
                .where(Image.project_id == (1 if project == "a" else 2))
                .order_by(Image.sha256, Annotation.id)
            )
            return [tuple(row) for row in db.execute(query)]

    assert masks("a") == masks("b")
    # The same masks in the other output format are the same run for the import: nothing new.
    same = import_auto_run(sqlite_store, "a", runs["parquet"])
    assert (same.images_added, same.masks_added) == (0, 0)


def test_a_known_model_version_is_reused(sqlite_store: Store, runs: dict[str, Path]) -> None:
    identity = json.loads((runs["sa1b"] / "run.json").read_text())
    with sqlite_store.transaction() as db:
        create_project(db, "p")
        mine = ModelVersion(
            name="mine", model="somewhere.pt", fingerprint=identity["model_version_fingerprint"]
        )
        db.add(mine)
        db.flush()
        mine_id = mine.id
    assert import_auto_run(sqlite_store, "p", runs["sa1b"]).model_version_id == mine_id
    assert _counts(sqlite_store)[2] == 1


def test_unreadable_and_changed_images_are_reported(
    sqlite_store: Store, runs: dict[str, Path], tmp_path: Path
) -> None:
    run = tmp_path / "run"
    shutil.copytree(runs["sa1b"], run)
    rows = [json.loads(line) for line in (run / "index.jsonl").read_text().splitlines()]
    rows[0]["uri"] = str(tmp_path / "gone.png")
    rows[1]["uri"] = str(runs["photos"] / "img_03.png")  # another size than img_01's
    (run / "index.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    damaged = run / rows[4]["file"]  # img_04: a damaged output file (a mask of another size)
    document = json.loads(damaged.read_text())
    document["annotations"][-1]["segmentation"]["size"][0] += 1
    damaged.write_text(json.dumps(document))
    _project(sqlite_store)
    summary = import_auto_run(sqlite_store, "gulls", run)
    assert [image_id for image_id, _ in summary.failed] == ["img_00.png", "img_01.png", "img_04.png"]
    assert "file not found" in summary.failed[0][1] and "WxH" in summary.failed[1][1]
    assert "img_04.png.json" in summary.failed[2][1] and "RLE run lengths sum to" in summary.failed[2][1]
    assert summary.images_added == 2 and summary.images_known == 0  # img_03, img_05 (img_00's bytes)
    with sqlite_store.session() as db:
        assert db.scalar(select(func.count()).select_from(Image)) == 2  # img_04 rolled back with its masks
        assert db.scalar(select(func.count()).select_from(Annotation)) == summary.masks_added > 0


def test_bad_arguments_are_named(sqlite_store: Store, runs: dict[str, Path], tmp_path: Path) -> None:
    _project(sqlite_store)
    with pytest.raises(NotFound, match="unknown project 'terns'"):
        import_auto_run(sqlite_store, "terns", runs["sa1b"])
    assert _counts(sqlite_store) == (0, 0, 0)  # no model version registered for nothing
    with pytest.raises(Invalid, match="run_dir must be the output folder"):
        import_auto_run(sqlite_store, "gulls", tmp_path)


def test_command_line(runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "engine"
    assert main(["engine", "init", str(folder)]) == 0
    assert main(["engine", "project", "add", str(folder), "gulls"]) == 0
    capsys.readouterr()
    argv = ["engine", "import-auto", str(folder), str(runs["parquet"]), "--project", "gulls", "-q"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "6 image(s): 4 added, 1 already in the project, 1 error row(s) of the run skipped, 0 failed" in out
    assert main(argv) == 0
    assert "0 added, 5 already in the project" in capsys.readouterr().out
    assert main(["engine", "import-auto", str(folder), str(tmp_path), "--project", "gulls", "-q"]) == 1
    assert "index.jsonl" in capsys.readouterr().err
    store = open_store(folder, create=False)
    try:
        assert _counts(store)[0] == 4
    finally:
        store.close()

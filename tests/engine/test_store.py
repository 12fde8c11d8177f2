"""The engine store on SQLite and PostgreSQL: migrations, images, annotations, concurrency, idempotency."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage
from pycocotools import mask as coco_mask
from sqlalchemy import func, inspect, select, text

from segany.engine import annotating
from segany.engine.accounts import create_user
from segany.engine.annotating import NewAnnotation
from segany.engine.errors import Conflict, Invalid
from segany.engine.models import Annotation, AnnotationEvent, Image
from segany.engine.projects import add_image, create_project
from segany.engine.store import HEAD_REVISION, Store, current_revision, open_store


def png_bytes(height: int = 24, width: int = 32, seed: int = 0) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    PILImage.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def square(height: int, width: int, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    mask = np.zeros((height, width), dtype=bool)
    mask[y0:y1, x0:x1] = True
    return mask


def uncompressed(mask: np.ndarray) -> dict[str, object]:
    """Independent encoder: column-major runs starting with a background run."""
    flat = mask.T.reshape(-1).astype(np.int8)
    changes = np.flatnonzero(np.diff(np.concatenate([[0], flat, [1 - flat[-1]]])))
    counts = np.diff(np.concatenate([[0], changes])).tolist()
    return {"size": list(mask.shape), "counts": counts}


def make_image(store: Store) -> Image:
    with store.transaction() as db:
        project = create_project(db, "birds")
        image, _ = add_image(db, store.blobs, project, png_bytes(), "a/b/../bird.png")
        return image


def test_migrations_create_every_table(store: Store) -> None:
    assert current_revision(store.engine) == HEAD_REVISION
    tables = set(inspect(store.engine).get_table_names())
    assert {
        "users",
        "projects",
        "images",
        "annotations",
        "annotation_events",
        "jobs",
        "model_versions",
    } <= tables


def test_sqlite_uses_wal_and_reopens_migrated(tmp_path: Path) -> None:
    first = open_store(tmp_path / "p")
    with first.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    with first.transaction() as db:
        create_project(db, "kept")
    first.close()
    again = open_store(tmp_path / "p")  # migrations run again: nothing to do, data kept
    with again.session() as db:
        assert db.scalar(select(func.count()).select_from(Image)) == 0
        assert [row[0] for row in db.execute(text("SELECT name FROM projects"))] == ["kept"]
    again.close()


def test_images_are_content_addressed(store: Store) -> None:
    data = png_bytes(seed=3)
    with store.transaction() as db:
        project = create_project(db, "p")
        first, created = add_image(db, store.blobs, project, data, "../../etc/passwd")
        second, created_again = add_image(db, store.blobs, project, data, "other.png")
    assert created and not created_again and first.id == second.id
    assert first.file_name == "passwd"  # display name only
    path = store.blobs.path(first.blob_name)
    assert path.parent == store.blobs.root and path.read_bytes() == data
    assert (first.width, first.height) == (32, 24)


def test_annotation_mask_round_trip_and_box(store: Store) -> None:
    image = make_image(store)
    mask = square(24, 32, 5, 3, 12, 20)
    with store.transaction() as db:
        row, created = annotating.create(
            db, image, NewAnnotation(uncompressed(mask), label="wing"), user_id=None
        )
    assert created and row.status == "accepted" and row.version == 1
    with store.session() as db:
        stored = db.get(Annotation, row.id)
        assert stored is not None
        decoded = coco_mask.decode(
            {"size": [stored.height, stored.width], "counts": stored.rle_counts.encode()}
        )
        np.testing.assert_array_equal(decoded.astype(bool), mask)
        assert stored.area == 7 * 17 and stored.bbox == {"xywh": [5, 3, 7, 17]}


def test_mask_of_wrong_size_is_refused(store: Store) -> None:
    image = make_image(store)
    with store.transaction() as db, pytest.raises(Invalid, match=r"\[24, 32\]"):
        annotating.create(db, image, NewAnnotation(np.zeros((10, 10), bool)), user_id=None)


def test_idempotent_retry_gives_one_row(store: Store) -> None:
    image = make_image(store)
    new = NewAnnotation(uncompressed(square(24, 32, 0, 0, 4, 4)), idempotency_key="k-1")
    with store.transaction() as db:
        first, created = annotating.create(db, image, new, None)
    with store.transaction() as db:
        again, created_again = annotating.create(db, db.get(Image, image.id), new, None)  # type: ignore[arg-type]
    assert created and not created_again and again.id == first.id
    with store.session() as db:
        assert db.scalar(select(func.count()).select_from(Annotation)) == 1


def test_concurrent_retries_race_to_one_row(store: Store) -> None:
    """Eight threads send the same accept at once: exactly one row, every caller gets its id."""
    image = make_image(store)
    new = NewAnnotation(uncompressed(square(24, 32, 2, 2, 9, 9)), idempotency_key="race")
    ids: list[int] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def accept() -> None:
        try:
            barrier.wait()
            with store.transaction() as db:
                row, _ = annotating.create(db, db.get(Image, image.id), new, None)  # type: ignore[arg-type]
                ids.append(row.id)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=accept) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert len(set(ids)) == 1 and len(ids) == 8
    with store.session() as db:
        assert db.scalar(select(func.count()).select_from(Annotation)) == 1


def test_stale_version_is_a_conflict(store: Store) -> None:
    image = make_image(store)
    with store.transaction() as db:
        row, _ = annotating.create(db, image, NewAnnotation(uncompressed(square(24, 32, 0, 0, 5, 5))), None)
    # Two editors loaded version 1; the first save wins, the second gets a conflict.
    with store.transaction() as db:
        annotating.update_mask(db, annotating.get(db, image.project_id, row.id), 1, None, label="first")
    with store.transaction() as db, pytest.raises(Conflict, match="version 2"):
        annotating.update_mask(db, annotating.get(db, image.project_id, row.id), 1, None, label="second")
    with store.session() as db:
        assert annotating.get(db, image.project_id, row.id).label == "first"


def test_clicks_and_seconds_come_from_prompt_events(store: Store) -> None:
    image = make_image(store)
    with store.transaction() as db:
        user = create_user(db, "ann", "a-long-password", "annotator")
        for _ in range(3):
            annotating.record_event(db, image.project_id, "prompt", user.id, image.id)
    with store.transaction() as db:
        first, _ = annotating.create(
            db, image, NewAnnotation(uncompressed(square(24, 32, 0, 0, 3, 3))), user.id
        )
        annotating.record_event(db, image.project_id, "prompt", user.id, image.id)
    with store.transaction() as db:
        second, _ = annotating.create(
            db, image, NewAnnotation(uncompressed(square(24, 32, 5, 5, 9, 9))), user.id
        )
    assert (first.clicks, second.clicks) == (3, 1)
    assert first.seconds is not None and 0 <= first.seconds < 60
    with store.session() as db:
        kinds = list(db.scalars(select(AnnotationEvent.kind).order_by(AnnotationEvent.id)))
    assert kinds == ["prompt", "prompt", "prompt", "accept", "prompt", "accept"]

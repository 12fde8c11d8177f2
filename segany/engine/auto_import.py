"""Import a finished `segany auto` run into a project for review (the data engine's fully automatic stage).

The run folder is read through its results index (``segany.formats.auto_run``: SA-1B json or Parquet output).

- Images are added by content (``projects.add_image``: sha256 of the bytes read again from each row's uri), so
  an image already in the project, or listed twice, is one row; its size must still be the run's.
- Masks become ``automatic`` annotations, ``proposed`` (the review queue samples those), with the run's
  predicted IoU and stability score and the run's model version.
- The model version is found by the fingerprint `segany serve` gives the model (recorded in the run's
  ``run.json``), and registered on first sight, so the masks of a run and of a server with the same weights
  name one version.
- Idempotent: each mask's key is ``auto:<run>:<image>:<annotation id>`` (``<run>``: a hash of the run's model
  fingerprint and the settings that decide its masks), so importing a run twice, or after an interruption, or
  the same run in the other output format, adds only what is missing.
  One transaction per image: an interrupted import keeps the images it finished.
- The run's error rows (unreadable images) are skipped and reported; so is an image that cannot be read now
  or whose size changed since the run.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from segany.engine import annotating
from segany.engine.annotating import NewAnnotation
from segany.engine.errors import Invalid, NotFound
from segany.engine.models import Annotation, ModelVersion, Project
from segany.engine.projects import add_image
from segany.engine.store import Store
from segany.formats.auto_run import IndexRow

RUN_FILE = "run.json"  # segany.auto.store.RUN_FILE (not imported: the engine needs none of the run machinery)
KEY_PREFIX = "auto"


@dataclass
class AutoImportSummary:
    """What an import did; ``failed`` and ``run_errors`` are (image id in the run, reason) pairs."""

    images: int = 0  # rows of the run's index
    images_added: int = 0  # new to the project
    images_known: int = 0  # already in the project (same bytes)
    masks_added: int = 0
    masks_known: int = 0  # imported before (same run, same image)
    model_version_id: int = 0
    run_errors: list[tuple[str, str]] = field(default_factory=list)  # the run's own error rows, skipped
    failed: list[tuple[str, str]] = field(default_factory=list)  # images that could not be imported now

    def line(self) -> str:
        return (
            f"{self.images} image(s): {self.images_added} added, {self.images_known} already in the project, "
            f"{len(self.run_errors)} error row(s) of the run skipped, {len(self.failed)} failed; "
            f"{self.masks_added} mask(s) added, {self.masks_known} already imported "
            f"(model version {self.model_version_id})"
        )


def import_auto_run(
    store: Store,
    project: str | int,
    run_dir: str | Path,
    user_id: int | None = None,
    on_image: Callable[[str], None] | None = None,
) -> AutoImportSummary:
    """Add the images and masks of the `segany auto` run in ``run_dir`` to ``project`` (name or id).

    Args:
        on_image: called with each index row's id once it is handled (progress).

    Raises:
        NotFound: no such project. Invalid: ``run_dir`` is not a finished `segany auto` run.
    """
    from segany.auto.sources import read_bytes
    from segany.formats import FormatError
    from segany.formats.auto_run import ResultReader, read_index
    from segany.io import ImageLoadError

    folder = Path(run_dir)
    identity = _run_identity(folder)
    project_id = _project_id(store, project)  # before anything is written
    try:
        rows = read_index(folder)
    except ValueError as exc:
        raise Invalid(str(exc), "run_dir") from None
    summary = AutoImportSummary(images=len(rows), model_version_id=_model_version(store, identity))
    run_key = _mask_key(identity)
    for row in rows:
        if row.error is not None:
            summary.run_errors.append((row.id, row.error))
            if on_image is not None:
                on_image(row.id)
    reader = ResultReader(folder, output_mode="coco_rle")
    for row in rows:
        if row.error is not None:
            continue
        try:
            _, records = reader.records(row)
            data = read_bytes(row.uri)
            created, added, known = _import_with_retry(
                store, project_id, row, data, records, run_key, summary.model_version_id, user_id
            )
            summary.images_added += created
            summary.images_known += not created
            summary.masks_added += added
            summary.masks_known += known
        except (ImageLoadError, _SizeChanged, FormatError) as exc:
            summary.failed.append((row.id, str(exc)))
        except Invalid as exc:  # a mask of the run that does not fit the image (a damaged output file)
            summary.failed.append((row.id, exc.detail))
        if on_image is not None:
            on_image(row.id)
    return summary


class _SizeChanged(Exception):
    pass


def _import_with_retry(
    store: Store,
    project_id: int,
    row: IndexRow,
    data: bytes,
    records: list[dict[str, Any]],
    run_key: str,
    model_version_id: int,
    user_id: int | None,
) -> tuple[bool, int, int]:
    """One image in its own transaction: (image created, masks added, masks already there). Retried once when
    another import added the same image in the meantime (the unique (project, sha256) constraint)."""
    for attempt in (1, 2):
        try:
            with store.transaction() as db:
                return _import_image(
                    db, store, project_id, row, data, records, run_key, model_version_id, user_id
                )
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _import_image(
    db: Session,
    store: Store,
    project_id: int,
    row: IndexRow,
    data: bytes,
    records: list[dict[str, Any]],
    run_key: str,
    model_version_id: int,
    user_id: int | None,
) -> tuple[bool, int, int]:
    project = db.get(Project, project_id)
    if project is None:  # deleted while importing
        raise NotFound(f"unknown project {project_id}", "project")
    image, created = add_image(db, store.blobs, project, data, row.id)
    if (image.width, image.height) != (row.width, row.height):
        raise _SizeChanged(
            f"{row.uri} is {image.width}x{image.height} (WxH) now, the run segmented {row.width}x{row.height}"
        )
    prefix = f"{KEY_PREFIX}:{run_key}:{image.id}:"
    known = set(
        db.scalars(
            select(Annotation.idempotency_key).where(
                Annotation.image_id == image.id, Annotation.idempotency_key.startswith(prefix)
            )
        )
    )
    added = already = 0
    for record in records:
        key = f"{prefix}{record['id']}"
        if key in known:
            already += 1
            continue
        new = NewAnnotation(
            segmentation=record["segmentation"],
            source="automatic",
            predicted_iou=_optional_float(record.get("predicted_iou")),
            stability_score=_optional_float(record.get("stability_score")),
            model_version_id=model_version_id,
            idempotency_key=key,
        )
        _, was_added = annotating.create(db, image, new, user_id)
        added += was_added
        already += not was_added
    return created, added, already


def _run_identity(folder: Path) -> dict[str, Any]:
    path = folder / RUN_FILE
    try:
        identity = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise Invalid(
            f"run_dir must be the output folder of a `segany auto` run (with {RUN_FILE}), got {str(folder)!r} "
            f"({exc})",
            "run_dir",
        ) from None
    if not isinstance(identity, dict) or not all(
        isinstance(identity.get(key), str) for key in ("model_fingerprint", "settings_sha256")
    ):
        raise Invalid(f"{path}: not a `segany auto` run file (no model / settings fingerprint)", "run_dir")
    return identity


def _mask_key(identity: dict[str, Any]) -> str:
    """A hash of what decides a run's masks: the model and the settings, less the output format and the shard
    size (an SA-1B and a Parquet run of the same model and settings hold the same masks: the same keys)."""
    settings = identity.get("settings")
    if isinstance(settings, dict):
        decisive = {
            key: value for key, value in settings.items() if key not in ("output_format", "shard_size")
        }
        text = json.dumps(decisive, sort_keys=True, separators=(",", ":"))
    else:  # not a run file of this segany: its settings hash
        text = str(identity["settings_sha256"])
    return hashlib.sha256(f"{identity['model_fingerprint']}|{text}".encode()).hexdigest()[:16]


def _project_id(store: Store, project: str | int) -> int:
    with store.session() as db:
        if isinstance(project, int) or (isinstance(project, str) and project.isdigit()):
            found = db.get(Project, int(project))
            if found is not None:
                return found.id
        found = db.scalar(select(Project).where(Project.name == str(project)))
        if found is None:
            names = list(db.scalars(select(Project.name).order_by(Project.id)))
            raise NotFound(f"unknown project {project!r}; projects: {names}", "project")
        return found.id


def _model_version(store: Store, identity: dict[str, Any]) -> int:
    """The id of the model version of the run's model; registered (named after its weights) if unknown."""
    # Runs recorded before the serving fingerprint was: their own fingerprint (a 64-character sha256).
    fingerprint = str(identity.get("model_version_fingerprint") or identity["model_fingerprint"])
    model = str(identity.get("model_spec") or identity.get("model") or "unknown")[:512]
    with store.transaction() as db:
        known = db.scalar(select(ModelVersion).where(ModelVersion.fingerprint == fingerprint))
        if known is not None:
            return known.id
        base = f"{Path(model).stem or 'model'}-{fingerprint[:8]}"[:120]
        name, suffix = base, 1
        while db.scalar(select(ModelVersion.id).where(ModelVersion.name == name)) is not None:
            suffix += 1
            name = f"{base}-{suffix}"
        version = ModelVersion(
            name=name,
            model=model,
            fingerprint=fingerprint,
            notes=f"registered by the import of a `segany auto` run ({identity.get('model', model)})"[:2000],
        )
        db.add(version)
        db.flush()
        return version.id


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)

"""Annotation changes, each inside the caller's transaction, each logged as an event.

- `create`: idempotent by client key (a retry returns the first row, `created=False`).
- `update` / `remove` / `decide`: optimistic concurrency, the caller names the version it saw; a newer one in
  the database means someone else saved first -> `Conflict` (HTTP 409), never a silent overwrite.
- Manual accepts get `seconds` and `clicks` from the prompt events the same user sent on the same image since
  their previous accept (unless the client measured them itself, e.g. browser-side decoding).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from segany.engine.errors import Conflict, Invalid, NotFound
from segany.engine.masks import StoredMask, stored_mask
from segany.engine.models import SOURCES, Annotation, AnnotationEvent, Image, utc_now

# Events that close one mask's work: the next prompt starts the next mask's clock.
_MASK_BOUNDARIES = ("accept", "edit", "keep", "delete", "reject")
MAX_KEY_CHARS = 128


@dataclass(frozen=True)
class NewAnnotation:
    segmentation: Any  # H x W bool, uncompressed or compressed COCO RLE
    source: str = "manual"
    label: str | None = None
    predicted_iou: float | None = None
    stability_score: float | None = None
    model_version_id: int | None = None
    job_id: str | None = None
    idempotency_key: str | None = None
    clicks: int | None = None
    seconds: float | None = None
    imported: bool = False  # from an import file: accepted as it is, no timing


def record_event(
    db: Session,
    project_id: int,
    kind: str,
    user_id: int | None,
    image_id: int | None = None,
    annotation_id: int | None = None,
    payload: dict[str, Any] | None = None,
) -> AnnotationEvent:
    event = AnnotationEvent(
        project_id=project_id,
        image_id=image_id,
        annotation_id=annotation_id,
        user_id=user_id,
        kind=kind,
        at=utc_now(),
        payload=payload or {},
    )
    db.add(event)
    return event


def create(db: Session, image: Image, new: NewAnnotation, user_id: int | None) -> tuple[Annotation, bool]:
    """Add an annotation to `image`: manual ones are accepted, model ones (prefilled, automatic) proposed.

    Returns (annotation, created); created is False when `new.idempotency_key` was already used for this image.

    Raises:
        Invalid: bad mask / source / key; Conflict: the key belongs to another image.
    """
    if new.source not in SOURCES:
        raise Invalid(f"source must be one of {SOURCES}, got {new.source!r}", "source")
    key = new.idempotency_key
    if key is not None and not (0 < len(key) <= MAX_KEY_CHARS):
        raise Invalid(
            f"idempotency_key must be 1..{MAX_KEY_CHARS} characters, got {len(key)}", "idempotency_key"
        )
    mask = stored_mask(new.segmentation, image.height, image.width)
    if key is not None:
        existing = _by_key(db, key, image)
        if existing is not None:
            return existing, False
    clicks, seconds = new.clicks, new.seconds
    if new.source == "manual" and not new.imported and (clicks is None or seconds is None):
        measured_clicks, measured_seconds = _measure(db, image, user_id)
        clicks = measured_clicks if clicks is None else clicks
        seconds = measured_seconds if seconds is None else seconds
    row = Annotation(
        project_id=image.project_id,
        image_id=image.id,
        **_mask_columns(mask),
        predicted_iou=new.predicted_iou,
        stability_score=new.stability_score,
        source=new.source,
        status="accepted" if new.source == "manual" or new.imported else "proposed",
        label=new.label,
        model_version_id=new.model_version_id,
        job_id=new.job_id,
        idempotency_key=key,
        clicks=clicks,
        seconds=seconds,
        version=1,
        created_by=user_id,
    )
    try:
        with db.begin_nested():  # a concurrent twin with the same key loses here, not the whole transaction
            db.add(row)
            db.flush()
    except IntegrityError:
        existing = _by_key(db, key, image) if key is not None else None
        if existing is None:
            raise
        return existing, False
    kind = "import" if new.imported else "accept" if new.source == "manual" else new.source
    payload = {
        "clicks": clicks,
        "seconds": seconds,
        "source": new.source,
        "model_version_id": new.model_version_id,
    }
    record_event(db, image.project_id, kind, user_id, image.id, row.id, payload)
    return row, True


def update_mask(
    db: Session,
    annotation: Annotation,
    version: int,
    user_id: int | None,
    segmentation: Any | None = None,
    label: str | None = None,
    clicks: int | None = None,
    seconds: float | None = None,
) -> Annotation:
    """Replace the mask and/or label of `annotation` if nobody changed it since `version`; an edit of a
    model's mask also accepts it (the annotator fixed it). `clicks` / `seconds`: the fix's brush strokes and
    time as the client measured them (kept in the edit event for the dashboard)."""
    values: dict[str, Any] = {
        "updated_at": utc_now(),
        "version": Annotation.version + 1,
        "status": "accepted",
    }
    if segmentation is not None:
        values.update(_mask_columns(stored_mask(segmentation, annotation.height, annotation.width)))
    if label is not None:
        values["label"] = label
    source = annotation.source
    _guarded_update(db, annotation, version, values)
    payload = {
        "clicks": clicks,
        "seconds": seconds,
        "source": source,
        "mask_changed": segmentation is not None,
        "model_version_id": annotation.model_version_id,
    }
    record_event(db, annotation.project_id, "edit", user_id, annotation.image_id, annotation.id, payload)
    return annotation


def decide(db: Session, annotation: Annotation, version: int, user_id: int | None, keep: bool) -> Annotation:
    """Keep (accept) or reject a proposed mask (review of automatic masks, keep/delete of pre-filled ones)."""
    status = "accepted" if keep else "rejected"
    _guarded_update(db, annotation, version, {"status": status, "version": Annotation.version + 1})
    record_event(
        db,
        annotation.project_id,
        "keep" if keep else "reject",
        user_id,
        annotation.image_id,
        annotation.id,
        {"source": annotation.source, "predicted_iou": annotation.predicted_iou},
    )
    return annotation


def remove(db: Session, annotation: Annotation, version: int, user_id: int | None) -> Annotation:
    """Delete = mark rejected (kept for acceptance rates and the event history)."""
    _guarded_update(db, annotation, version, {"status": "rejected", "version": Annotation.version + 1})
    payload = {"source": annotation.source, "model_version_id": annotation.model_version_id}
    record_event(db, annotation.project_id, "delete", user_id, annotation.image_id, annotation.id, payload)
    return annotation


def _guarded_update(db: Session, annotation: Annotation, version: int, values: dict[str, Any]) -> None:
    result = db.execute(
        update(Annotation)
        .where(Annotation.id == annotation.id, Annotation.version == version)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        db.refresh(annotation)
        raise Conflict(
            f"annotation {annotation.id} was changed by someone else (version {annotation.version}, "
            f"the save named {version}); reload it and save again",
            "version",
        )
    db.refresh(annotation)


def _mask_columns(mask: StoredMask) -> dict[str, Any]:
    return {
        "rle_counts": mask.counts,
        "height": mask.height,
        "width": mask.width,
        "area": mask.area,
        "bbox": {"xywh": mask.bbox_xywh},
    }


def _by_key(db: Session, key: str, image: Image) -> Annotation | None:
    existing = db.scalar(select(Annotation).where(Annotation.idempotency_key == key))
    if existing is not None and existing.image_id != image.id:
        raise Conflict(f"idempotency_key {key!r} was already used for another image", "idempotency_key")
    return existing


def get(db: Session, project_id: int, annotation_id: int) -> Annotation:
    row = db.get(Annotation, annotation_id)
    if row is None or row.project_id != project_id:
        raise NotFound(f"unknown annotation {annotation_id} in project {project_id}")
    return row


def _measure(db: Session, image: Image, user_id: int | None) -> tuple[int, float | None]:
    """(prompt count, seconds from the first prompt to now) since the user's previous finished mask."""
    mine = (
        AnnotationEvent.project_id == image.project_id,
        AnnotationEvent.image_id == image.id,
        AnnotationEvent.user_id == user_id,
    )
    last_boundary = db.scalar(
        select(AnnotationEvent.at)
        .where(*mine, AnnotationEvent.kind.in_(_MASK_BOUNDARIES))
        .order_by(AnnotationEvent.at.desc())
        .limit(1)
    )
    query = select(AnnotationEvent.at).where(*mine, AnnotationEvent.kind == "prompt")
    if last_boundary is not None:
        query = query.where(AnnotationEvent.at > last_boundary)
    prompts = list(db.scalars(query.order_by(AnnotationEvent.at)))
    if not prompts:
        return 0, None
    return len(prompts), (utc_now() - _aware(prompts[0])).total_seconds()


def _aware(moment: datetime) -> datetime:
    """SQLite returns naive datetimes (stored as UTC)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)

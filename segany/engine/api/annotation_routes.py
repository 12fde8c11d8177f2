"""Annotations of a project: list, accept (idempotent), edit and delete (409 on a stale version), keep/reject,
prompt events, and the review queue with precision per threshold."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Response

from segany.engine import annotating, dashboard, projects, review
from segany.engine.annotating import NewAnnotation
from segany.engine.api.deps import CurrentUser, Db, Engine
from segany.engine.api.schemas import (
    Decision,
    EditAnnotation,
    NewAnnotationBody,
    PromptEvent,
    annotation_json,
)

router = APIRouter(prefix="/api/engine/projects/{project_id}", tags=["engine: annotations"])


@router.get("/images/{image_id}/annotations")
def list_annotations(
    project_id: int, image_id: int, user: CurrentUser, db: Db, status: str | None = None
) -> list[dict[str, Any]]:
    projects.check_access(db, user, project_id, "read")
    image = projects.get_image(db, project_id, image_id)
    return [annotation_json(row) for row in review.image_annotations(db, image.id, status)]


@router.post("/images/{image_id}/annotations", status_code=201)
def accept(
    project_id: int,
    image_id: int,
    body: NewAnnotationBody,
    response: Response,
    user: CurrentUser,
    db: Db,
    engine: Engine,
) -> dict[str, Any]:
    """Accept a mask the annotator made; a retry with the same idempotency_key answers 200 with the same row.
    The mask is credited to the server's model version (the model that assisted: the dashboard's per-version
    time per mask)."""
    with db.begin():
        projects.check_access(db, user, project_id, "annotate")
        image = projects.get_image(db, project_id, image_id)
        new = NewAnnotation(
            segmentation=body.mask.model_dump(),
            label=body.label,
            predicted_iou=body.predicted_iou,
            idempotency_key=body.idempotency_key,
            clicks=body.clicks,
            seconds=body.seconds,
            model_version_id=engine.model_version_id,  # the model served while the mask was made
        )
        row, created = annotating.create(db, image, new, user.id)
        if not created:
            response.status_code = 200
        return annotation_json(row)


@router.put("/annotations/{annotation_id}")
def edit(
    project_id: int, annotation_id: int, body: EditAnnotation, user: CurrentUser, db: Db
) -> dict[str, Any]:
    with db.begin():
        projects.check_access(db, user, project_id, "annotate")
        row = annotating.get(db, project_id, annotation_id)
        mask = body.mask.model_dump() if body.mask is not None else None
        changed = annotating.update_mask(
            db, row, body.version, user.id, mask, body.label, clicks=body.clicks, seconds=body.seconds
        )
        return annotation_json(changed)


@router.delete("/annotations/{annotation_id}")
def delete(
    project_id: int, annotation_id: int, user: CurrentUser, db: Db, version: int = Query(...)
) -> dict[str, Any]:
    with db.begin():
        projects.check_access(db, user, project_id, "annotate")
        row = annotating.get(db, project_id, annotation_id)
        return annotation_json(annotating.remove(db, row, version, user.id))


@router.post("/annotations/{annotation_id}/decision")
def decide(project_id: int, annotation_id: int, body: Decision, user: CurrentUser, db: Db) -> dict[str, Any]:
    """Keep or reject a proposed mask: annotators for pre-filled masks, reviewers for automatic ones."""
    with db.begin():
        projects.check_access(db, user, project_id, "read")
        row = annotating.get(db, project_id, annotation_id)
        projects.check_access(db, user, project_id, "review" if row.source == "automatic" else "annotate")
        return annotation_json(annotating.decide(db, row, body.version, user.id, body.decision == "keep"))


@router.post("/images/{image_id}/events", status_code=201)
def prompt_event(
    project_id: int, image_id: int, body: PromptEvent, user: CurrentUser, db: Db
) -> dict[str, Any]:
    """One prompt (click, box, brush stroke) of the mask being made: the clock and click count of the accept."""
    with db.begin():
        projects.check_access(db, user, project_id, "annotate")
        image = projects.get_image(db, project_id, image_id)
        event = annotating.record_event(db, project_id, body.kind, user.id, image.id, None, body.payload)
        db.flush()
        return {"id": event.id}


@router.get("/review")
def review_queue(
    project_id: int, user: CurrentUser, db: Db, count: int = Query(20, ge=1, le=500), seed: int = 0
) -> list[dict[str, Any]]:
    """A random sample of automatic masks nobody has decided on (uniform, reproducible with `seed`)."""
    projects.check_access(db, user, project_id, "review")
    return [annotation_json(row) for row in review.sample_queue(db, project_id, count, seed)]


@router.get("/review/precision")
def precision(
    project_id: int, user: CurrentUser, db: Db, thresholds: str = "0.5,0.7,0.8,0.88,0.9,0.95"
) -> list[dict[str, Any]]:
    projects.check_access(db, user, project_id, "read")
    return review.precision_by_threshold(db, project_id, review.parse_thresholds(thresholds))


@router.get("/stats")
def stats(project_id: int, user: CurrentUser, db: Db) -> dict[str, Any]:
    projects.check_access(db, user, project_id, "read")
    return review.project_stats(db, project_id)


@router.get("/dashboard")
def dashboard_numbers(project_id: int, user: CurrentUser, db: Db) -> dict[str, Any]:
    """Masks per image, seconds and clicks per mask by stage and model version, acceptance rates: all from
    the project's annotation events (see `segany.engine.dashboard`)."""
    projects.check_access(db, user, project_id, "read")
    return dashboard.dashboard(db, project_id)

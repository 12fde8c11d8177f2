"""Stage jobs of a project: pre-fill, automatic, detector boxes (admins start and cancel; members watch)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from segany.engine import jobs, projects
from segany.engine.api.deps import CurrentUser, Db, Engine
from segany.engine.api.schemas import NewJob, job_json
from segany.engine.errors import EngineError

router = APIRouter(prefix="/api/engine/projects/{project_id}/jobs", tags=["engine: jobs"])


class NoModel(EngineError):
    status = 409


@router.post("", status_code=202)
def start(project_id: int, body: NewJob, user: CurrentUser, db: Db, engine: Engine) -> dict[str, Any]:
    projects.check_access(db, user, project_id, "manage")
    db.commit()
    if engine.runner is None:
        raise NoModel("this server runs without a model: jobs cannot run here")
    job = jobs.submit(engine.store, project_id, body.kind, body.params, user.id, engine.model_version_id)
    engine.runner.wake()
    return job_json(job)


@router.get("/{job_id}")
def status(project_id: int, job_id: str, user: CurrentUser, db: Db) -> dict[str, Any]:
    projects.check_access(db, user, project_id, "read")
    job = jobs.get(db, project_id, job_id)
    return {**job_json(job), "masks": jobs.job_masks(db, job.id)}


@router.delete("/{job_id}")
def cancel(project_id: int, job_id: str, user: CurrentUser, db: Db, engine: Engine) -> dict[str, Any]:
    projects.check_access(db, user, project_id, "manage")
    db.commit()
    return job_json(jobs.cancel(engine.store, project_id, job_id))

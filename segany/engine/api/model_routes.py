"""Model versions: the registered ones (members see them) and the one this server serves (admins switch it)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from segany.engine.api.deps import CurrentUser, Db, Engine
from segany.engine.errors import Forbidden
from segany.engine.models import ModelVersion

router = APIRouter(prefix="/api/engine", tags=["engine: model versions"])


class ServeVersion(BaseModel):
    version: str = Field(min_length=1, max_length=128, description="name or id of a registered model version")


def version_json(row: ModelVersion, serving_id: int | None) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "model": row.model,
        "fingerprint": row.fingerprint,
        "parent_id": row.parent_id,
        "notes": row.notes,
        "created_at": row.created_at.isoformat(),
        "serving": row.id == serving_id,
    }


@router.get("/model-versions")
def list_versions(user: CurrentUser, db: Db, engine: Engine) -> list[dict[str, Any]]:
    rows = db.scalars(select(ModelVersion).order_by(ModelVersion.id))
    return [version_json(row, engine.model_version_id) for row in rows]


@router.get("/model-version")
def serving(request: Request, user: CurrentUser, db: Db, engine: Engine) -> dict[str, Any]:
    """The version this server serves, with the model information of `/api/info`."""
    row = db.get(ModelVersion, engine.model_version_id) if engine.model_version_id is not None else None
    return {
        "version": version_json(row, engine.model_version_id) if row is not None else None,
        "model": request.app.state.segany.model.to_dict(),
    }


@router.put("/model-version")
async def switch(body: ServeVersion, request: Request, user: CurrentUser, engine: Engine) -> dict[str, Any]:
    """Serve another registered version from now on (admins); no restart, requests in flight finish."""
    from segany.engine.switching import switch_model

    if user.role != "admin":
        raise Forbidden("only an admin may switch the served model version")
    version = await run_in_threadpool(switch_model, request.app, body.version)
    return {
        "version": version_json(version, engine.model_version_id),
        "model": request.app.state.segany.model.to_dict(),
    }

"""Projects, members and images of a project."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import Response
from sqlalchemy import select

from segany.engine import projects
from segany.engine.api.deps import CurrentUser, Db, Engine
from segany.engine.api.schemas import NewMember, NewProject, image_json, project_json
from segany.engine.errors import Forbidden, Invalid, NotFound
from segany.engine.models import User

router = APIRouter(prefix="/api/engine/projects", tags=["engine: projects"])
IMAGE_TYPES = {".jpg": "image/jpeg", ".png": "image/png"}


@router.get("")
def list_projects(user: CurrentUser, db: Db) -> list[dict[str, Any]]:
    return [project_json(project) for project in projects.visible_projects(db, user)]


@router.post("", status_code=201)
def create_project(body: NewProject, user: CurrentUser, db: Db) -> dict[str, Any]:
    if user.role != "admin":
        raise Forbidden("only an admin may create projects")
    with db.begin():
        return project_json(projects.create_project(db, body.name))


@router.post("/{project_id}/members", status_code=201)
def add_member(project_id: int, body: NewMember, user: CurrentUser, db: Db) -> dict[str, Any]:
    with db.begin():
        project = projects.check_access(db, user, project_id, "manage")
        member = db.scalar(select(User).where(User.username == body.username))
        if member is None:
            raise NotFound(f"unknown user {body.username!r}", "username")
        projects.add_member(db, project, member)
        return {"project_id": project.id, "username": member.username}


@router.get("/{project_id}/images")
def list_images(project_id: int, user: CurrentUser, db: Db) -> list[dict[str, Any]]:
    projects.check_access(db, user, project_id, "read")
    return [image_json(image) for image in projects.project_images(db, project_id)]


@router.post("/{project_id}/images", status_code=201)
async def upload_image(
    project_id: int, request: Request, user: CurrentUser, engine: Engine, file: Annotated[UploadFile, File()]
) -> dict[str, Any]:
    data = await file.read()
    if not data:
        raise Invalid("file is empty", "file")
    from starlette.concurrency import run_in_threadpool

    answer: dict[str, Any] = await run_in_threadpool(
        _add_image, engine, user, project_id, data, file.filename
    )
    hook = getattr(request.app.state, "engine_image_hook", None)
    if hook is not None:  # registers the bytes with the `segany serve` API (encode, predict)
        hook(engine.store.blobs.path(answer["blob_name"]), answer["file_name"])
    answer.pop("blob_name")
    return answer


def _add_image(engine: Any, user: User, project_id: int, data: bytes, name: str | None) -> dict[str, Any]:
    with engine.store.transaction() as db:
        project = projects.check_access(db, user, project_id, "add_images")
        image, _ = projects.add_image(db, engine.store.blobs, project, data, name or "upload")
        return {**image_json(image), "blob_name": image.blob_name}


@router.get("/{project_id}/images/{image_id}/file")
def image_file(project_id: int, image_id: int, user: CurrentUser, db: Db, engine: Engine) -> Response:
    projects.check_access(db, user, project_id, "read")
    image = projects.get_image(db, project_id, image_id)
    suffix = "." + image.blob_name.rsplit(".", 1)[-1]
    media = IMAGE_TYPES.get(suffix, "application/octet-stream")
    return Response(engine.store.blobs.read_bytes(image.blob_name), media_type=media)

"""Import (masks, or a detector's boxes -> a boxes job) and export (zip of the written files) of a project."""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from segany.engine import jobs, projects, transfer
from segany.engine.api.deps import CurrentUser, Db, Engine
from segany.engine.api.schemas import job_json
from segany.engine.errors import Invalid
from segany.engine.models import User
from segany.formats import FormatError

router = APIRouter(prefix="/api/engine/projects/{project_id}", tags=["engine: import/export"])
IMPORT_SUFFIX = {
    "coco": ".json",
    "sa1b": ".json",
    "coco_boxes": ".json",
    "yolo": ".txt",
    "yolo_boxes": ".txt",
}


@router.post("/import")
async def import_file(
    project_id: int,
    user: CurrentUser,
    engine: Engine,
    file: Annotated[UploadFile, File()],
    format: Annotated[str, Form()],
) -> dict[str, Any]:
    if format not in IMPORT_SUFFIX:
        raise Invalid(f"format must be one of {tuple(IMPORT_SUFFIX)}, got {format!r}", "format")
    data = await file.read()
    answer: dict[str, Any] = await run_in_threadpool(
        _import, engine, user, project_id, data, format, file.filename
    )
    return answer


def _import(
    engine: Any, user: User, project_id: int, data: bytes, fmt: str, name: str | None
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"upload{IMPORT_SUFFIX[fmt]}"  # our own name: the user's never reaches the disk
        path.write_bytes(data)
        try:
            with engine.store.transaction() as db:
                projects.check_access(db, user, project_id, "manage")
                if fmt in transfer.BOX_IMPORT_FORMATS:
                    boxes = transfer.read_detector_boxes(db, project_id, path, fmt, name)
                else:
                    return {"added": transfer.import_masks(db, project_id, path, fmt, user.id, name)}
        except FormatError as exc:
            raise Invalid(str(exc), "file") from None
    if engine.runner is None:
        raise Invalid("this server runs without a model: detector boxes cannot become masks here", "format")
    job = jobs.submit(engine.store, project_id, "boxes", {"boxes": boxes}, user.id, engine.model_version_id)
    engine.runner.wake()
    return {"job": job_json(job), "boxes": sum(len(rows) for rows in boxes.values())}


@router.get("/export")
def export(project_id: int, format: str, user: CurrentUser, db: Db) -> Response:
    """A zip of the project's accepted masks in `format` (coco, coco_polygons, yolo, sa1b, png)."""
    projects.check_access(db, user, project_id, "read")
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        transfer.export_project(db, project_id, format, root)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(root.rglob("*")):
                if path.is_file():
                    archive.write(path, path.relative_to(root).as_posix())
    return Response(
        buffer.getvalue(),
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="project{project_id}_{format}.zip"'},
    )

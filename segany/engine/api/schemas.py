"""Request and response bodies of the engine API (masks travel as COCO RLE: uncompressed lists or strings)."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from segany.engine.models import Annotation, Image, Job, Project, User


class Login(BaseModel):
    username: str = Field(max_length=64)
    password: str = Field(max_length=1024)


class NewUser(BaseModel):
    username: str = Field(max_length=64)
    password: str = Field(min_length=8, max_length=1024)
    role: Literal["admin", "annotator", "reviewer"]


class NewProject(BaseModel):
    name: str = Field(min_length=1, max_length=128)


class NewMember(BaseModel):
    username: str


class Rle(BaseModel):
    size: list[int] = Field(min_length=2, max_length=2)
    counts: list[int] | str


class NewAnnotationBody(BaseModel):
    idempotency_key: str = Field(min_length=1, max_length=128, description="client-made UUID per accept")
    mask: Rle
    label: str | None = Field(default=None, max_length=128)
    predicted_iou: float | None = None
    clicks: int | None = Field(default=None, ge=0)
    seconds: float | None = Field(default=None, ge=0)


class EditAnnotation(BaseModel):
    version: int
    mask: Rle | None = None
    label: str | None = Field(default=None, max_length=128)
    clicks: int | None = Field(default=None, ge=0, description="brush/eraser strokes of this fix")
    seconds: float | None = Field(default=None, ge=0, description="time the fix took, client-measured")


class Decision(BaseModel):
    version: int
    decision: Literal["keep", "reject"]


MAX_EVENT_PAYLOAD_CHARS = 16_384


class PromptEvent(BaseModel):
    kind: Literal["prompt"] = "prompt"
    payload: dict[str, Any] = Field(default_factory=dict)

    @field_validator("payload")
    @classmethod
    def _small(cls, value: dict[str, Any]) -> dict[str, Any]:
        size = len(json.dumps(value))
        if size > MAX_EVENT_PAYLOAD_CHARS:
            raise ValueError(f"at most {MAX_EVENT_PAYLOAD_CHARS} characters of JSON, got {size}")
        return value


class NewJob(BaseModel):
    kind: Literal["prefill", "automatic", "boxes"]
    params: dict[str, Any] = Field(default_factory=dict)


def user_json(user: User) -> dict[str, Any]:
    return {"id": user.id, "username": user.username, "role": user.role}


def project_json(project: Project) -> dict[str, Any]:
    return {"id": project.id, "name": project.name}


def image_json(image: Image) -> dict[str, Any]:
    # server_id: the id of the same bytes in the `segany serve` API (encode, predict, embedding).
    return {
        "id": image.id,
        "file_name": image.file_name,
        "width": image.width,
        "height": image.height,
        "sha256": image.sha256,
        "server_id": image.sha256[:16],
    }


def annotation_json(row: Annotation) -> dict[str, Any]:
    return {
        "id": row.id,
        "image_id": row.image_id,
        "mask": {"size": [row.height, row.width], "counts": row.rle_counts},
        "bbox": row.bbox["xywh"],
        "area": row.area,
        "predicted_iou": row.predicted_iou,
        "stability_score": row.stability_score,
        "source": row.source,
        "status": row.status,
        "label": row.label,
        "model_version_id": row.model_version_id,
        "clicks": row.clicks,
        "seconds": row.seconds,
        "version": row.version,
    }


def job_json(job: Job) -> dict[str, Any]:
    return {
        "job_id": job.id,
        "kind": job.kind,
        "state": job.state,
        "progress": job.progress,
        "error": job.error,
        "params": job.params,
        "model_version_id": job.model_version_id,
    }

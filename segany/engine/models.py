"""The engine's tables as SQLAlchemy 2 declarative models (the schema itself lives in Alembic migrations).

Masks are stored as COCO compressed RLE strings (`rle_counts`, column-major as pycocotools writes them) with
their size; boxes are XYWH pixels. Times are UTC. Every annotation carries a `version` that each change
increments (optimistic concurrency: a save naming an older version is refused with 409) and an optional
client-generated `idempotency_key` (unique): a retried create finds the first one instead of adding a twin.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, ClassVar

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

ROLES = ("admin", "annotator", "reviewer")
SOURCES = ("manual", "prefilled", "automatic")
# proposed: a model's mask nobody has decided on yet; accepted: kept by a person (or drawn by one);
# rejected: turned down in review or deleted by an annotator (kept for acceptance rates).
STATUSES = ("proposed", "accepted", "rejected")
EVENT_KINDS = ("prompt", "accept", "edit", "delete", "keep", "reject", "import", "prefill", "automatic")
JOB_KINDS = ("prefill", "automatic", "boxes")
JOB_STATES = ("queued", "running", "done", "failed", "cancelled")


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, datetime: DateTime(timezone=True)}


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))  # one of ROLES
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class AuthSession(Base):
    """A login: the cookie holds the token, the table only its sha256 (a leaked database grants nothing)."""

    __tablename__ = "auth_sessions"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    expires_at: Mapped[datetime]


class Project(Base):
    __tablename__ = "projects"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class Membership(Base):
    __tablename__ = "memberships"
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)


class Image(Base):
    """An image of a project; the bytes live in the content-addressed blob store under `sha256`."""

    __tablename__ = "images"
    __table_args__ = (UniqueConstraint("project_id", "sha256", name="uq_images_project_sha256"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    blob_name: Mapped[str] = mapped_column(String(80))  # "<sha256><suffix>" in the blob store
    file_name: Mapped[str] = mapped_column(String(255))  # display name only, never a path
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class ModelVersion(Base):
    __tablename__ = "model_versions"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    model: Mapped[str] = mapped_column(
        String(512)
    )  # what `segany --model` accepts: registry name or checkpoint
    fingerprint: Mapped[str | None] = mapped_column(String(64), default=None)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id"), default=None)
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class Annotation(Base):
    __tablename__ = "annotations"
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"), index=True)
    rle_counts: Mapped[str] = mapped_column(Text)  # COCO compressed RLE string
    height: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    bbox: Mapped[dict[str, Any]] = mapped_column(JSON)  # {"xywh": [x, y, w, h]} (XYWH pixels)
    area: Mapped[int] = mapped_column(Integer)
    predicted_iou: Mapped[float | None] = mapped_column(Float, default=None)
    stability_score: Mapped[float | None] = mapped_column(Float, default=None)
    source: Mapped[str] = mapped_column(String(16))  # one of SOURCES
    status: Mapped[str] = mapped_column(String(16), index=True)  # one of STATUSES
    label: Mapped[str | None] = mapped_column(String(128), default=None)
    model_version_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id"), default=None)
    job_id: Mapped[str | None] = mapped_column(String(32), default=None, index=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(128), unique=True, default=None)
    seconds: Mapped[float | None] = mapped_column(Float, default=None)  # annotator time for this mask
    clicks: Mapped[int | None] = mapped_column(Integer, default=None)  # prompts for this mask
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now)


class AnnotationEvent(Base):
    """One step of someone's work: a prompt, an accept, an edit, a delete, a review decision."""

    __tablename__ = "annotation_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    image_id: Mapped[int | None] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"), default=None)
    annotation_id: Mapped[int | None] = mapped_column(
        ForeignKey("annotations.id", ondelete="SET NULL"), default=None
    )
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    kind: Mapped[str] = mapped_column(String(16))  # one of EVENT_KINDS
    at: Mapped[datetime] = mapped_column(default=utc_now, index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Job(Base):
    """A long-running stage (pre-fill, automatic, detector boxes) that survives a restart."""

    __tablename__ = "jobs"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # one of JOB_KINDS
    state: Mapped[str] = mapped_column(String(16))  # one of JOB_STATES
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    model_version_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id"), default=None)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now)

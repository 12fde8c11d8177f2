"""Model versions in the store: register one (by weights fingerprint) and find one by name or id."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from segany.engine.errors import NotFound
from segany.engine.models import ModelVersion
from segany.engine.store import Store


def find_version(store: Store, name_or_id: str) -> ModelVersion:
    with store.session() as db:
        query = select(ModelVersion).where(ModelVersion.name == name_or_id)
        version = db.scalar(query)
        if version is None and name_or_id.isdigit():
            version = db.get(ModelVersion, int(name_or_id))
        if version is None:
            names = list(db.scalars(select(ModelVersion.name)))
            raise NotFound(f"unknown model version {name_or_id!r}; known: {names}", "model_version")
        return version


def register_model_version(
    store: Store,
    model: str,
    fingerprint: str,
    name: str | None = None,
    parent_id: int | None = None,
    notes: str = "",
) -> int:
    """The id of the model version with this fingerprint, registered on first sight."""
    with store.transaction() as db:
        known = db.scalar(select(ModelVersion).where(ModelVersion.fingerprint == fingerprint))
        if known is not None:
            return known.id
        version = ModelVersion(
            name=name or f"{Path(model).stem}-{fingerprint[:8]}",
            model=model,
            fingerprint=fingerprint,
            parent_id=parent_id,
            notes=notes,
        )
        db.add(version)
        db.flush()
        return version.id

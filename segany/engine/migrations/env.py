"""Alembic environment of the engine's database: run by `segany.engine.store.upgrade` on an open connection."""

from __future__ import annotations

from alembic import context

from segany.engine.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "the engine's migrations run through segany.engine.store.upgrade (no connection given)"
    )
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()

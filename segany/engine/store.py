"""Opening the engine's database: SQLite (WAL) in a project folder, or any SQLAlchemy URL (PostgreSQL).

`open_store` runs the Alembic migrations shipped in `segany/engine/migrations/` on every open, so a folder
made by an older segany is brought up to date before use. Sessions come from `Store.session()`; callers keep
one session per request and one transaction around each change (`with store.session.begin() as db:`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from segany.engine.blobs import BlobStore

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
DATABASE_FILE = "engine.sqlite3"
BLOBS_DIR = "images"
HEAD_REVISION = "0001"


@dataclass
class Store:
    """The database (engine + session factory) and the image blob store of one engine project folder."""

    engine: Engine
    session: sessionmaker[Session]
    blobs: BlobStore
    url: str

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session inside one transaction: committed on success, rolled back on any exception."""
        with self.session.begin() as db:
            yield db

    def close(self) -> None:
        self.engine.dispose()


def sqlite_url(project_dir: Path) -> str:
    return f"sqlite:///{(Path(project_dir) / DATABASE_FILE).resolve()}"


def open_store(project_dir: str | os.PathLike[str], url: str | None = None, create: bool = True) -> Store:
    """Open (and migrate) the engine store of `project_dir`.

    Args:
        project_dir: folder holding the image blobs (and, without `url`, the SQLite database).
        url: SQLAlchemy URL of the database (e.g. ``postgresql+psycopg://user@/segany?host=/run/postgresql``);
            None: ``<project_dir>/engine.sqlite3`` in WAL mode.
        create: make `project_dir` when missing (False: FileNotFoundError instead).
    """
    folder = Path(project_dir)
    if not folder.is_dir():
        if not create:
            raise FileNotFoundError(
                f"project_dir must be an engine project folder (make one with `segany engine init`), "
                f"got {str(folder)!r}"
            )
        folder.mkdir(parents=True)
    database_url = url or sqlite_url(folder)
    engine = make_engine(database_url)
    upgrade(engine)
    factory = sessionmaker(engine, expire_on_commit=False)
    return Store(engine, factory, BlobStore(folder / BLOBS_DIR), database_url)


def make_engine(url: str) -> Engine:
    """An SQLAlchemy engine; SQLite gets WAL, foreign keys and a busy timeout on every connection."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def _sqlite_pragmas(connection: Any, record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer; a crash keeps committed work
    cursor.execute("PRAGMA synchronous=FULL")  # an acknowledged commit survives power loss, not only kill -9
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Run the shipped Alembic migrations up to `revision` on `engine`."""
    try:
        from alembic import command
        from alembic.config import Config
    except ImportError as exc:  # pragma: no cover - the engine extra brings alembic
        raise ImportError(
            f'the data engine needs the engine extra: pip install "segany[engine]" ({exc})'
        ) from exc
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()

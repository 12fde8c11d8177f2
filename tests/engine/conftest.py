"""Engine test fixtures: a store on SQLite always, and on PostgreSQL when Debian's server is installed."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip(
    "sqlalchemy", reason='the engine tests need the engine extra: pip install "segany[engine]"'
)
pytest.importorskip("alembic", reason='the engine tests need the engine extra: pip install "segany[engine]"')

from pg_server import create_database, postgres_bin, running_postgres

from segany.engine.store import Store, open_store

_DATABASES = itertools.count()


@pytest.fixture(scope="session")
def postgres_socket() -> Iterator[str]:
    if postgres_bin() is None:
        pytest.skip(
            "PostgreSQL is not installed (apt-get install -y postgresql): PostgreSQL store tests skipped"
        )
    pytest.importorskip("psycopg", reason="psycopg is missing: pip install 'segany[engine]'")
    with running_postgres() as socket:
        yield socket


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """An empty, migrated engine store on each database."""
    url = None
    if request.param == "postgresql":
        socket = request.getfixturevalue("postgres_socket")
        url = create_database(socket, f"segany_test_{next(_DATABASES)}")
    opened = open_store(tmp_path / "project", url=url)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(tmp_path / "project")
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture(scope="session")
def tiny_sam():  # type: ignore[no-untyped-def]
    from engine_client import tiny_model

    return tiny_model()


@pytest.fixture(scope="session")
def seeded_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Made once (argon2 hashing is slow on purpose); each test gets a copy."""
    from engine_client import seeded_project_dir

    return seeded_project_dir(tmp_path_factory.mktemp("template") / "project")


@pytest.fixture
def engine_app(tmp_path: Path, tiny_sam, seeded_template: Path):  # type: ignore[no-untyped-def]
    """A project server (SQLite) with users admin, ann_a, ann_b, rev_a and projects A (id 1), B (id 2)."""
    pytest.importorskip("fastapi")
    import shutil

    from segany.engine.server import build_engine_app
    from segany.server.settings import ServerSettings

    folder = tmp_path / "project"
    shutil.copytree(seeded_template, folder)
    app = build_engine_app(
        folder,
        ServerSettings(cache_dir=tmp_path / "cache"),
        sam=tiny_sam,
        model_name="vit_tiny",
        model_source="random",
    )
    yield app
    app.state.engine.runner.stop()
    app.state.engine.store.close()
    app.state.segany.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def engine_app_any_db(request: pytest.FixtureRequest, tmp_path: Path, tiny_sam):  # type: ignore[no-untyped-def]
    """`engine_app` on each database (PostgreSQL: a fresh database on the test server)."""
    if request.param == "sqlite":
        yield request.getfixturevalue("engine_app")
        return
    from engine_client import seeded_project_dir

    from segany.engine.server import build_engine_app
    from segany.server.settings import ServerSettings

    url = create_database(request.getfixturevalue("postgres_socket"), f"segany_api_{next(_DATABASES)}")
    folder = seeded_project_dir(tmp_path / "project", url=url)
    app = build_engine_app(
        folder,
        ServerSettings(cache_dir=tmp_path / "cache"),
        url=url,
        sam=tiny_sam,
        model_name="vit_tiny",
        model_source="random",
    )
    yield app
    app.state.engine.runner.stop()
    app.state.engine.store.close()
    app.state.segany.close()

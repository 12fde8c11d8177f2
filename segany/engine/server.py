"""`build_engine_app`: one project's server = `segany serve` + the engine API + the stage job worker."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from segany.engine.api.app import mount_engine, refuse_open_listening
from segany.engine.jobs import JobRunner
from segany.engine.models import User
from segany.engine.store import Store, open_store
from segany.engine.versions import register_model_version
from segany.modeling.sam import Sam
from segany.server.settings import ServerSettings


def build_engine_app(
    project_dir: Path,
    settings: ServerSettings | None = None,
    url: str | None = None,
    sam: Sam | None = None,
    model_name: str | None = None,
    model_source: str | None = None,
    run_jobs: bool = True,
) -> Any:
    """The FastAPI app of a project server (a real process: `segany engine serve PROJECT_DIR`).

    Raises:
        ValueError: a non-loopback host while the project has no accounts.
    """
    from segany.server.app import create_app, load_model

    store = open_store(project_dir, url=url, create=False)
    settings = settings or ServerSettings()
    if settings.cache_dir is None:
        settings = replace(settings, cache_dir=Path(project_dir) / "cache")
    with store.session() as db:
        refuse_open_listening(settings.host, bool(db.scalar(select(func.count()).select_from(User))))
    if sam is None:
        sam, model_name, model_source = load_model(settings)
    app = create_app(settings, sam=sam, model_name=model_name, model_source=model_source)
    version_id = register_model_version(
        store, app.state.segany.model.name, app.state.segany.model.fingerprint
    )
    runner = JobRunner(store, sam, version_id) if run_jobs else None
    mount_engine(app, store, runner, version_id, secure_cookies=False)
    if runner is not None:
        runner.start()
    _stop_with_app(app, store, runner)
    return app


def _stop_with_app(app: Any, store: Store, runner: JobRunner | None) -> None:
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: Any) -> AsyncIterator[None]:
        first = application.state.segany
        async with inner(application):  # closes the state the app was built with
            yield
        if runner is not None:
            runner.stop()
        if application.state.segany is not first:  # a runtime model switch replaced it
            application.state.segany.close()
        store.close()

    app.router.lifespan_context = lifespan

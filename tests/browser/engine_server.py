"""A project server (`build_engine_app`) on a free loopback port in a thread of the test process, with a
tiny seeded random model, for the data-engine browser tests and the screenshot script."""

from __future__ import annotations

import shutil
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.browser.serve_process import free_port

PASSWORD = "correct horse battery"
USERS = (("admin", "admin"), ("ann", "annotator"), ("rev", "reviewer"), ("outsider", "annotator"))


def seed_project(root: Path, photos: list[Path], url: str | None = None) -> dict[str, int]:
    """A project folder: users of USERS (password PASSWORD), project "Photos" (ann, rev members) holding
    `photos`, and project "Other" (outsider). Returns the project ids by name."""
    from segany.engine.accounts import create_user
    from segany.engine.projects import add_image, add_member, create_project
    from segany.engine.store import open_store

    store = open_store(root, url=url)
    try:
        with store.transaction() as db:
            users = {name: create_user(db, name, PASSWORD, role) for name, role in USERS}
            photos_project, other = create_project(db, "Photos"), create_project(db, "Other")
            for name in ("ann", "rev"):
                add_member(db, photos_project, users[name])
            add_member(db, other, users["outsider"])
            for path in photos:
                add_image(db, store.blobs, photos_project, path.read_bytes(), path.name)
            return {"Photos": photos_project.id, "Other": other.id}
    finally:
        store.close()


@contextmanager
def engine_serving(
    project_dir: Path, sam: Any, cache_dir: Path, model_name: str = "vit_tiny", model_source: str = "random"
) -> Iterator[tuple[str, Any]]:
    """`with engine_serving(folder, sam, cache) as (url, app):` uvicorn in a thread, stopped on exit."""
    import uvicorn

    from segany.engine.server import build_engine_app
    from segany.server.settings import ServerSettings

    app = build_engine_app(
        project_dir,
        ServerSettings(cache_dir=cache_dir, export_decoder_at_start=False),
        sam=sam,
        model_name=model_name,
        model_source=model_source,
    )
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="engine-server", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{url}/api/info", timeout=5):
                break
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the engine server did not start") from None
            time.sleep(0.1)
    try:
        yield url, app
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def copy_photos(names: tuple[str, ...], source: Path, target: Path) -> list[Path]:
    target.mkdir(parents=True, exist_ok=True)
    return [Path(shutil.copy(source / name, target / name)) for name in names]

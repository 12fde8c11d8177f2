"""`create_engine_app`: the `segany serve` app with a data-engine project, accounts and the engine API.

The single-user server's own API (`/api/images/...`: encode, embedding, predict, everything) stays, behind
the engine's login: `EngineGate` lets a request through only with a valid session (and CSRF token on
changes), and only for images of projects the user may read. Listing and uploading through the single-user
routes is closed; images enter through the project API.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from segany.engine import accounts
from segany.engine.api import (
    annotation_routes,
    auth_routes,
    job_routes,
    model_routes,
    project_routes,
    transfer_routes,
)
from segany.engine.api.deps import CSRF_HEADER, MUTATING, SESSION_COOKIE, EngineState
from segany.engine.api.page_routes import add_engine_page
from segany.engine.errors import EngineError, Forbidden, NotFound, Unauthorized
from segany.engine.jobs import JobRunner
from segany.engine.models import Image, Membership
from segany.engine.store import Store

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]
# Single-user routes that stay open without a login (no data in them).
PUBLIC_API = ("/api/info", "/api/openapi.json", "/api/docs", "/api/decoder")
CLOSED_API = {("GET", "/api/images"), ("POST", "/api/images")}


def mount_engine(
    app: FastAPI,
    store: Store,
    runner: JobRunner | None,
    model_version_id: int | None,
    secure_cookies: bool = False,
) -> FastAPI:
    """Add the engine API and the login gate to a `segany serve` app (from `segany.server.create_app`)."""
    app.state.engine = EngineState(store, runner, model_version_id, secure_cookies)
    for module in (auth_routes, project_routes, annotation_routes, job_routes, transfer_routes, model_routes):
        app.include_router(module.router)
    add_engine_page(app)

    @app.exception_handler(EngineError)
    async def _engine_error(request: Request, exc: EngineError) -> JSONResponse:
        return JSONResponse({"detail": exc.detail, "field": exc.field}, status_code=exc.status)

    state = getattr(app.state, "segany", None)
    if state is not None:  # the single-user API serves project images by content hash
        app.state.engine_image_hook = state.images.add_file
        with store.session() as db:
            for image in db.scalars(select(Image)):
                state.images.add_file(store.blobs.path(image.blob_name), image.file_name)
    app.add_middleware(EngineGate, store=store)
    return app


class EngineGate:
    """Login (and CSRF) in front of the single-user API; per-project access for its image routes."""

    def __init__(self, app: ASGIApp, store: Store) -> None:
        self.app = app
        self.store = store

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if (
            scope["type"] != "http"
            or not path.startswith("/api/")
            or path.startswith("/api/engine/")
            or path.startswith(PUBLIC_API)
        ):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        refusal = await run_in_threadpool(self._refusal, request)
        if refusal is None:
            await self.app(scope, receive, send)
            return
        await JSONResponse({"detail": refusal.detail, "field": refusal.field}, status_code=refusal.status)(
            scope, receive, send
        )

    def _refusal(self, request: Request) -> EngineError | None:
        method, path = request.method, request.url.path.rstrip("/")
        try:
            with self.store.session() as db:
                user, login = accounts.session_user(db, request.cookies.get(SESSION_COOKIE))
                if method in MUTATING and not accounts.csrf_matches(login, request.headers.get(CSRF_HEADER)):
                    return Forbidden(f"missing or wrong {CSRF_HEADER} header (CSRF guard)", "csrf")
                if (method, path) in CLOSED_API:
                    return Forbidden("a project server lists and takes images through /api/engine/projects")
                parts = path.split("/")
                if len(parts) >= 4 and parts[2] == "images" and not _may_read_image(db, user, parts[3]):
                    return NotFound(f"unknown image {parts[3]!r}")
        except Unauthorized as exc:
            return exc
        return None


def _may_read_image(db: Any, user: Any, server_id: str) -> bool:
    """Is the image with this content-hash prefix in a project `user` may read?"""
    if len(server_id) != 16 or any(c not in "0123456789abcdef" for c in server_id):
        return False
    query = select(Image.project_id).where(Image.sha256.startswith(server_id, autoescape=True))
    if user.role != "admin":
        query = query.join(Membership, Membership.project_id == Image.project_id).where(
            Membership.user_id == user.id
        )
    return db.scalar(query.limit(1)) is not None


def refuse_open_listening(host: str, has_accounts: bool) -> None:
    """A project server must not be reachable beyond this machine without accounts."""
    from segany.server.settings import is_loopback

    if not is_loopback(host) and not has_accounts:
        raise ValueError(
            f"host {host!r} is not loopback: create an admin account first "
            "(`segany engine user add PROJECT_DIR NAME --role admin`)"
        )

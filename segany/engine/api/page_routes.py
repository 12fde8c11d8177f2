"""The project server's page: `/engine` (login, projects, project editor, review queue, dashboard), and `/`
sends the browser there (the single-user page lists images through a route a project server closes)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

# segany/server/static: the page files of `segany serve`, shared (no import: the engine API stays apart).
ENGINE_PAGE = Path(__file__).resolve().parents[2] / "server" / "static" / "engine.html"
_MISSING = "<!doctype html><title>segany</title><p>segany/server/static/engine.html is missing.</p>"


def add_engine_page(app: FastAPI) -> None:
    def page() -> Response:
        if ENGINE_PAGE.is_file():
            return FileResponse(ENGINE_PAGE, media_type="text/html", headers={"Cache-Control": "no-cache"})
        return HTMLResponse(_MISSING)

    def to_engine() -> Response:
        return RedirectResponse("/engine", status_code=307)

    app.add_api_route("/engine", page, methods=["GET"], include_in_schema=False, response_model=None)
    # Before `segany serve`'s own "/" (routes match in order).
    app.router.routes.insert(0, Route("/", lambda request: to_engine(), methods=["GET"]))

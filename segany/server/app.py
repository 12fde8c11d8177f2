"""`create_app(settings)`: the FastAPI application of `segany serve`.

The page (`segany/server/static/`, plain ES modules, no build step) is served at `/` and `/static/`; the
API lives under `/api/` (OpenAPI schema at `/api/openapi.json`, browsable at `/api/docs`).
"""

from __future__ import annotations

import mimetypes
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

from segany import __version__
from segany.modeling.sam import Sam
from segany.server.errors import install_error_handlers
from segany.server.routes import activity, decoder, export, images, info, jobs, predict
from segany.server.security import GuardMiddleware
from segany.server.settings import ServerSettings
from segany.server.state import ServerState

STATIC_DIR = Path(__file__).resolve().parent / "static"
# Multipart framing around an upload of max_upload_bytes; JSON bodies (exports) share the same bound.
BODY_OVERHEAD_BYTES = 64 * 1024
_MISSING_PAGE = (
    "<!doctype html><title>segany</title><p>The segany page is not installed "
    "(segany/server/static/index.html is missing); the API is at <a href='/api/docs'>/api/docs</a>.</p>"
)


def create_app(
    settings: ServerSettings | None = None,
    sam: Sam | None = None,
    model_name: str | None = None,
    model_source: str | None = None,
) -> FastAPI:
    """Build the app: load the model (or use `sam`), scan the images folder, start the workers.

    Args:
        settings: what to run (default `ServerSettings()`: best weights present offline, uploads only).
        sam / model_name / model_source: an already built model (tests, embedding in another program);
            otherwise the model comes from `settings.model` as `segany --model` resolves it.
    """
    settings = settings or ServerSettings()
    # Module workers refuse scripts of other types; some systems' mimetypes lack these two.
    mimetypes.add_type("text/javascript", ".mjs")
    mimetypes.add_type("application/wasm", ".wasm")
    if sam is None:
        sam, model_name, model_source = load_model(settings)
    state = ServerState.build(settings, sam.eval(), model_name or "custom", model_source or "checkpoint")
    if settings.export_decoder_at_start:
        state.decoder.start_in_background()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        state.close()

    app = FastAPI(
        title="segany",
        version=__version__,
        description="Segment Anything: the interactive app's API (masks as uncompressed COCO RLE).",
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.segany = state
    install_error_handlers(app)
    for module in (info, images, predict, activity, jobs, export, decoder):
        app.include_router(module.router)
    _add_page(app)
    app.add_middleware(
        GuardMiddleware,
        max_body_bytes=settings.max_upload_bytes + BODY_OVERHEAD_BYTES,
        check_host=settings.checks_host_header,
        allowed_hosts=settings.allowed_hosts,
    )
    return app


def _add_page(app: FastAPI) -> None:
    @app.get("/", include_in_schema=False, response_model=None)
    def page() -> Response:
        index = STATIC_DIR / "index.html"
        if index.is_file():
            return FileResponse(index, media_type="text/html", headers={"Cache-Control": "no-cache"})
        return HTMLResponse(_MISSING_PAGE)

    app.mount("/static", StaticFiles(directory=STATIC_DIR, check_dir=False), name="static")


def load_model(settings: ServerSettings) -> tuple[Sam, str, str]:
    """The model `settings` names, resolved as the CLI does: (model, name, source).

    Raises:
        segany.cli.common.CliError: unknown name, missing weights, a checkpoint that does not fit.
    """
    from segany.cli.models import random_model, resolve_device, resolve_model

    device = resolve_device(settings.device)
    if settings.random_weights:
        sam, description = random_model(settings.model or "vit_b")
        sam = sam.to(device)
    else:
        sam, description = resolve_model(settings.model, device, settings.arch)
    name = description.spec if description.source in ("official", "bundled") else description.arch
    return sam.eval(), name, description.source

"""Errors mapped to status codes in one place: every failure answers `{"detail": one line, "field": name}`.

Route handlers raise `ApiError` (or let a library error through); `install_error_handlers` turns each kind
into its status code. Library errors that reach here unmapped become 500 with a one-line reason, and the
server stays up.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from segany.errors import PromptError
from segany.formats import MaskFormatError
from segany.io import ImageLoadError
from segany.server.embeddings import ShuttingDown

LOGGER = logging.getLogger("segany.server")

# The predictor's argument names -> the request fields that carry them (see routes/predict.py).
PREDICTOR_FIELDS = {
    "point_coords": "points",
    "point_labels": "labels",
    "box": "box",
    "boxes": "box",
    "mask_input": "previous",
    "multimask_output": "multimask",
}


class ApiError(Exception):
    """A request that cannot be served: `status` with a one-line `detail`, naming `field` when one is at fault."""

    def __init__(self, status: int, detail: str, field: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = one_line(detail)
        self.field = field


def not_found(kind: str, key: str) -> ApiError:
    return ApiError(404, f"unknown {kind} {key!r}", None)


def one_line(text: object) -> str:
    return " ".join(str(text).split())


def error_body(detail: str, field: str | None) -> dict[str, Any]:
    return {"detail": one_line(detail), "field": field}


def field_from_location(location: Sequence[Any]) -> str | None:
    """("body", "previous", "index") -> "previous.index"; the body as a whole -> "body"."""
    parts = [str(part) for part in location if part not in ("body", "query", "path", "header")]
    if parts:
        return ".".join(parts)
    return str(location[0]) if location else None


def prompt_error(exc: ValueError | TypeError) -> ApiError:
    """A predictor's ValueError / TypeError (`PromptError` names its argument) -> 422 naming the request field."""
    message = one_line(exc)
    if isinstance(exc, PromptError):
        argument: str | None = exc.argument
    else:  # other checks name their argument first ("box must be ...")
        argument = next((name for name in PREDICTOR_FIELDS if message.startswith(name)), None)
    field = PREDICTOR_FIELDS.get(argument, argument) if argument else None
    return ApiError(422, message, field)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(error_body(exc.detail, exc.field), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first: dict[str, Any] = dict(errors[0]) if errors else {"loc": (), "msg": "invalid request"}
        field: str | None
        if first.get("type") == "json_invalid":
            context = first.get("ctx")
            reason = context.get("error", "") if isinstance(context, dict) else ""
            field = "body"
            detail = f"body is not valid JSON ({reason})" if reason else "body is not valid JSON"
        else:
            field = field_from_location(first.get("loc", ()))
            detail = f"{field}: {first.get('msg', 'invalid value')}" if field else str(first.get("msg"))
        if len(errors) > 1:
            detail += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
        return JSONResponse(error_body(detail, field), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            error_body(str(exc.detail), None), status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(ImageLoadError)
    async def _image(request: Request, exc: ImageLoadError) -> JSONResponse:
        status = 413 if exc.reason.startswith("too large") else 400
        return JSONResponse(error_body(exc.reason, "file"), status_code=status)

    @app.exception_handler(MaskFormatError)
    async def _mask(request: Request, exc: MaskFormatError) -> JSONResponse:
        return JSONResponse(error_body(str(exc), "objects"), status_code=422)

    @app.exception_handler(ShuttingDown)
    async def _shutting_down(request: Request, exc: ShuttingDown) -> JSONResponse:
        # The image's encoder closed under the request: the server stops, or switched to another model
        # version while the request was in flight. Asking again reaches the new model.
        return JSONResponse(
            error_body(f"{exc}; try again", None), status_code=503, headers={"Retry-After": "1"}
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        LOGGER.exception("unexpected error on %s %s", request.method, request.url.path)
        return JSONResponse(error_body(f"internal error: {type(exc).__name__}: {exc}", None), status_code=500)

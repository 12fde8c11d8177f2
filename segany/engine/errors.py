"""The engine's errors; each carries the HTTP status the API answers with (mapped in one place, api/app.py)."""

from __future__ import annotations


class EngineError(Exception):
    status = 400

    def __init__(self, detail: str, field: str | None = None) -> None:
        super().__init__(detail)
        self.detail = " ".join(detail.split())
        self.field = field


class NotFound(EngineError):
    status = 404


class Conflict(EngineError):
    """A save naming an outdated version, or an idempotency key reused for something else."""

    status = 409


class Forbidden(EngineError):
    status = 403


class Unauthorized(EngineError):
    status = 401


class Invalid(EngineError):
    status = 422

"""The request guards, as one ASGI middleware wrapped around the whole app.

- Host header must name a loopback address (DNS-rebinding guard) unless the server was bound elsewhere on
  purpose (`ServerSettings.checks_host_header`) or the name is in `allowed_hosts`.
- Mutating requests (POST, PUT, PATCH, DELETE) must carry `X-Segany-Client: 1`: a cross-site form or a
  simple cross-origin fetch cannot set a custom header, so this stops CSRF.
- Request bodies are counted as they stream in; past `max_body_bytes` the request ends with 413 before the
  rest is read (Content-Length is checked first when present).
- Every response carries the cross-origin isolation headers browser wasm threads need.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.exceptions import HTTPException

from segany.server.errors import error_body
from segany.server.settings import is_loopback

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CSRF_HEADER = "x-segany-client"
MUTATING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
ISOLATION_HEADERS = (
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-embedder-policy", b"require-corp"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"x-content-type-options", b"nosniff"),
)


class BodyTooLarge(HTTPException):
    """Raised inside `receive` when a body passes the limit; an HTTPException so that FastAPI's body parsing
    passes it through (it turns other exceptions into 400) and the error handlers answer 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body is larger than the limit of {limit:,} bytes")


class GuardMiddleware:
    def __init__(
        self, app: ASGIApp, max_body_bytes: int, check_host: bool, allowed_hosts: tuple[str, ...] = ()
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.check_host = check_host
        self.allowed_hosts = frozenset(name.lower() for name in allowed_hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {key.decode("latin-1").lower(): value.decode("latin-1") for key, value in scope["headers"]}
        refusal = self._refusal(scope["method"], headers)
        if refusal is not None:
            await _answer(send, *refusal)
            return
        started = False

        async def send_isolated(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", []), *ISOLATION_HEADERS]
            await send(message)

        received = 0

        async def receive_counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise BodyTooLarge(self.max_body_bytes)
            return message

        try:
            await self.app(scope, receive_counted, send_isolated)
        except BodyTooLarge as exc:
            if not started:
                await _answer(send, 413, str(exc.detail), None)

    def _refusal(self, method: str, headers: dict[str, str]) -> tuple[int, str, str | None] | None:
        if self.check_host:
            host = _host_name(headers.get("host", ""))
            if not (is_loopback(host) or host in self.allowed_hosts):
                return 403, f"Host {host!r} is not a loopback name (DNS-rebinding guard)", "host"
        if method in MUTATING_METHODS and headers.get(CSRF_HEADER) != "1":
            return 403, "missing header X-Segany-Client: 1 (required on POST, PUT, PATCH, DELETE)", None
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
            return 413, str(BodyTooLarge(self.max_body_bytes).detail), None
        return None


def _host_name(host: str) -> str:
    """ "127.0.0.1:8000" -> "127.0.0.1", "[::1]:8000" -> "::1"."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


async def _answer(send: Send, status: int, detail: str, field: str | None) -> None:
    body = json.dumps(error_body(detail, field)).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": [*headers, *ISOLATION_HEADERS]})
    await send({"type": "http.response.body", "body": body})

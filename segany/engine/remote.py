"""A small client of a running project server (standard library only): log in, then JSON requests with the
session cookie and the CSRF headers. Used by `segany engine use-model`."""

from __future__ import annotations

import http.cookiejar
import json
import urllib.error
import urllib.request
from typing import Any


class RemoteError(Exception):
    """The server could not be reached or refused the request (the message names the status and detail)."""


class EngineClient:
    def __init__(self, server: str, timeout: float = 60.0) -> None:
        if not server.startswith(("http://", "https://")):
            raise RemoteError(f"server must be an http:// or https:// URL, got {server!r}")
        self.server = server.rstrip("/")
        self.timeout = timeout
        self.csrf = ""
        self._opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def login(self, username: str, password: str) -> dict[str, Any]:
        answer = self.request("POST", "/api/engine/login", {"username": username, "password": password})
        self.csrf = str(answer.get("csrf_token", ""))
        return answer

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"X-Segany-Client": "1", "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        if self.csrf:
            headers["X-CSRF-Token"] = self.csrf
        request = urllib.request.Request(self.server + path, data=data, headers=headers, method=method)
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                answer: dict[str, Any] = json.loads(response.read() or b"{}")
                return answer
        except urllib.error.HTTPError as exc:
            try:
                detail = json.loads(exc.read()).get("detail", "")
            except (ValueError, AttributeError):
                detail = exc.reason
            raise RemoteError(f"{method} {path}: HTTP {exc.code}: {detail}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise RemoteError(f"cannot reach {self.server}: {exc}") from None

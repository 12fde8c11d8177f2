"""`segany serve`: the interactive Segment Anything web app (FastAPI back end + the page in `static/`).

Needs the `server` extra (`pip install "segany[server]"`)::

    from segany.server import ServerSettings, create_app
    app = create_app(ServerSettings(model="segany_small", images_dir=Path("photos")))
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from segany.server.settings import ServerSettings

if TYPE_CHECKING:
    from segany.server.app import create_app

SERVER_EXTRA_HINT = 'the web app needs the server extra: pip install "segany[server]"'


def __getattr__(name: str) -> Any:
    if name == "create_app":
        try:
            from segany.server.app import create_app
        except ImportError as exc:
            raise ImportError(f"{SERVER_EXTRA_HINT} ({exc})") from exc
        return create_app
    raise AttributeError(f"module 'segany.server' has no attribute {name!r}")


__all__ = ["SERVER_EXTRA_HINT", "ServerSettings", "create_app"]

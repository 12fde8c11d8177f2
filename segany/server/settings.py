"""What a `segany serve` process runs with: model, folders, limits and the address it binds to."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_MAX_UPLOAD_BYTES = 50 * 2**20
# A server answers strangers' files: far below segany.io's default (Pillow's bomb threshold, ~179 MP).
DEFAULT_MAX_PIXELS = 40_000_000
DEFAULT_MEMORY_CACHE_BYTES = 1 * 2**30
DEFAULT_PREDICTION_CACHE_BYTES = 64 * 2**20
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


@dataclass(frozen=True)
class ServerSettings:
    """Everything `create_app` needs; the CLI fills it from flags (None = the library's default model).

    Args:
        model: registry name or checkpoint path, as `segany --model` (None: best weights present offline).
        random_weights: build `model` (an architecture name) with seeded random weights (tests, benchmarks).
        images_dir: folder whose images the gallery lists (None: uploads only).
        cache_dir: where embeddings, uploads and the exported decoder are kept (None: the weights cache's
            `serve/` folder).
        host: address the server binds to; a non-loopback host also disables the Host-header check.
        memory_cache_bytes: bound of the in-memory embedding cache (embeddings plus their decoder caches).
        prediction_cache_bytes: bound of the low-res logits kept for "previous" refinement.
        max_upload_bytes / max_pixels: limits on uploaded files (bytes) and on any image (width * height).
        allowed_hosts: further names the Host header may carry (e.g. a name in /etc/hosts for this machine).
        export_decoder_at_start: export the browser decoder in the background as the server starts.
    """

    model: str | None = None
    arch: str | None = None
    random_weights: bool = False
    device: str | None = None
    images_dir: Path | None = None
    cache_dir: Path | None = None
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    memory_cache_bytes: int = DEFAULT_MEMORY_CACHE_BYTES
    prediction_cache_bytes: int = DEFAULT_PREDICTION_CACHE_BYTES
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    max_pixels: int = DEFAULT_MAX_PIXELS
    allowed_hosts: tuple[str, ...] = field(default=())
    export_decoder_at_start: bool = False

    def __post_init__(self) -> None:
        for name in (
            "memory_cache_bytes",
            "prediction_cache_bytes",
            "max_upload_bytes",
            "max_pixels",
            "port",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"ServerSettings.{name} must be a positive int, got {value!r}")
        if self.images_dir is not None and not Path(self.images_dir).is_dir():
            raise ValueError(f"images_dir must be an existing folder, got {str(self.images_dir)!r}")

    @property
    def checks_host_header(self) -> bool:
        """The DNS-rebinding guard is on unless the server was bound to a non-loopback address on purpose."""
        return is_loopback(self.host)

    def resolved_cache_dir(self) -> Path:
        if self.cache_dir is not None:
            return Path(self.cache_dir)
        from segany.weights import cache_dir

        return cache_dir() / "serve"


def is_loopback(host: str) -> bool:
    """localhost, 127.0.0.0/8 or ::1 (brackets allowed)."""
    name = host.strip().strip("[]").lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False

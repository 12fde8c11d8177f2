"""Content-addressed image bytes: `<root>/<sha256><suffix>`, written once, atomically, never by user name.

An image is decoded with `segany.io.load_image` (pixel limit checked) before it is kept, so everything in
the store can be opened later; the database keeps the display name and size.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from segany.io import ImageLoadError, load_image

DEFAULT_MAX_PIXELS = 40_000_000
_SUFFIXES = {"jpeg": ".jpg", "png": ".png", "webp": ".webp", "bmp": ".bmp", "tiff": ".tif", "gif": ".gif"}


@dataclass(frozen=True)
class StoredImage:
    sha256: str
    blob_name: str
    width: int
    height: int


class BlobStore:
    def __init__(self, root: Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> None:
        self.root = Path(root)
        self.max_pixels = max_pixels

    def put(self, data: bytes, name: str = "upload") -> StoredImage:
        """Validate `data` as an image and keep it under its sha256 (idempotent).

        Raises:
            ImageLoadError: not an image, corrupt, or more pixels than `max_pixels`.
        """
        digest = hashlib.sha256(data).hexdigest()
        self.root.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.root, prefix=".upload-")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            pixels = load_image(temporary, max_pixels=self.max_pixels)
            blob_name = digest + _suffix(data, name)
            target = self.root / blob_name
            if not target.exists():
                os.replace(temporary, target)
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)
        return StoredImage(digest, blob_name, int(pixels.shape[1]), int(pixels.shape[0]))

    def path(self, blob_name: str) -> Path:
        """Where a blob is; `blob_name` must be one this store made (hex digest + known suffix)."""
        stem, _, suffix = blob_name.partition(".")
        if (
            len(stem) != 64
            or any(c not in "0123456789abcdef" for c in stem)
            or f".{suffix}"
            not in (
                *_SUFFIXES.values(),
                ".img",
            )
        ):
            raise ValueError(f"blob_name must be '<sha256 hex><suffix>', got {blob_name!r}")
        return self.root / blob_name

    def load(self, blob_name: str) -> np.ndarray:
        """H x W x 3 uint8 RGB, EXIF orientation applied."""
        return load_image(self.path(blob_name), max_pixels=self.max_pixels)

    def read_bytes(self, blob_name: str) -> bytes:
        return self.path(blob_name).read_bytes()


def _suffix(data: bytes, name: str) -> str:
    try:
        with Image.open(io.BytesIO(data)) as image:
            fmt = (image.format or "").lower()
    except (OSError, ValueError) as exc:
        raise ImageLoadError(name, f"not an image file Pillow can identify ({type(exc).__name__})") from None
    return _SUFFIXES.get(fmt, ".img")

"""The gallery's images, content-addressed: an image's id is the first 16 hex digits of sha256(its bytes).

Images come from the `--images` folder (listed at start, read on demand) and from uploads. Uploaded bytes
are written under `<cache>/uploads/<sha256><ext>`: the user's file name is kept for display only and never
touches the filesystem. Every upload is decoded once with `segany.io.load_image` (pixel limit checked on the
header before decoding) before it is accepted.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from segany.io import ImageLoadError, iter_image_paths, load_image

ID_CHARS = 16
MAX_NAME_CHARS = 200
# Formats a browser shows as they are; anything else (or a rotated JPEG) is served re-encoded as PNG.
_BROWSER_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png"}
_BROWSER_MODES = frozenset({"RGB", "RGBA", "L", "LA", "P"})
_EXIF_ORIENTATION = 0x0112


@dataclass(frozen=True)
class ImageEntry:
    id: str
    name: str  # display name (the file name as given; never used as a path)
    path: Path  # where the bytes are: the --images folder or the content-addressed upload store
    sha256: str
    width: int  # displayed size (EXIF orientation applied), as load_image returns it
    height: int


class ImageStore:
    """Thread-safe registry of images by id; `add_bytes` validates and stores an upload."""

    def __init__(self, upload_dir: Path, max_pixels: int) -> None:
        self.upload_dir = upload_dir
        self.max_pixels = max_pixels
        self._entries: dict[str, ImageEntry] = {}
        self._lock = threading.Lock()

    def scan_folder(self, folder: Path) -> list[str]:
        """Register the images of `folder` (sorted by name); files that cannot be read are skipped.

        Returns the one-line reasons of the skipped files.
        """
        skipped = []
        for path in iter_image_paths(folder):
            try:
                data = path.read_bytes()
                width, height = displayed_size(data, path.name, self.max_pixels)
            except (OSError, ImageLoadError) as exc:
                skipped.append(f"{path.name}: {exc}")
                continue
            self._register(data, path.name, path, width, height)
        return skipped

    def add_bytes(self, data: bytes, name: str) -> ImageEntry:
        """Validate an upload (decodable image within the pixel limit) and store it under its content hash.

        Raises:
            ImageLoadError: not an image, corrupt, or more pixels than the limit (reason names it).
        """
        digest = hashlib.sha256(data).hexdigest()
        with self._lock:
            known = self._entries.get(digest[:ID_CHARS])
        if known is not None:
            return known
        self.upload_dir.mkdir(parents=True, exist_ok=True)
        # Decoded from a temporary file of our own naming; kept only once load_image accepted it.
        handle, temporary = tempfile.mkstemp(dir=self.upload_dir, prefix=".upload-")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(data)
            pixels = load_image(temporary, max_pixels=self.max_pixels)
            suffix = _suffix(data)
            target = self.upload_dir / f"{digest}{suffix}"
            os.replace(temporary, target)
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)
        return self._register(data, clean_name(name), target, pixels.shape[1], pixels.shape[0])

    def add_file(self, path: Path, name: str) -> ImageEntry:
        """Register an image file kept elsewhere (the data engine's content-addressed store) under its hash."""
        data = path.read_bytes()
        width, height = displayed_size(data, name, self.max_pixels)
        return self._register(data, clean_name(name), path, width, height)

    def get(self, image_id: str) -> ImageEntry | None:
        with self._lock:
            return self._entries.get(image_id)

    def entries(self) -> list[ImageEntry]:
        with self._lock:
            return list(self._entries.values())

    def ids(self) -> list[str]:
        with self._lock:
            return list(self._entries)

    def load_pixels(self, entry: ImageEntry) -> np.ndarray:
        """H x W x 3 uint8 RGB, EXIF orientation applied (ImageLoadError for a file gone bad)."""
        return load_image(entry.path, max_pixels=self.max_pixels)

    def _register(self, data: bytes, name: str, path: Path, width: int, height: int) -> ImageEntry:
        digest = hashlib.sha256(data).hexdigest()
        entry = ImageEntry(digest[:ID_CHARS], name, path, digest, int(width), int(height))
        with self._lock:
            return self._entries.setdefault(entry.id, entry)


def clean_name(name: str | None) -> str:
    """A display name: the last path component, control characters dropped, at most MAX_NAME_CHARS."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    text = "".join(char for char in base if char.isprintable()).strip()
    return text[:MAX_NAME_CHARS] or "upload"


def displayed_size(data: bytes, name: str, max_pixels: int) -> tuple[int, int]:
    """(width, height) as shown (EXIF rotation applied), from the header only; ImageLoadError when unreadable
    or larger than `max_pixels`."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            orientation = image.getexif().get(_EXIF_ORIENTATION, 1)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise ImageLoadError(name, f"not an image file Pillow can identify ({type(exc).__name__})") from None
    if width * height > max_pixels:
        raise ImageLoadError(
            name, f"too large: {width}x{height} (WxH) = {width * height:,} pixels, above {max_pixels:,}"
        )
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)


def browser_image(entry: ImageEntry, pixels: Callable[[], np.ndarray]) -> tuple[bytes, str]:
    """The bytes to show in a browser and their media type: the file itself when a browser displays it with
    the same pixels load_image gives, else a PNG of load_image's array."""
    data = entry.path.read_bytes()
    with Image.open(io.BytesIO(data)) as image:
        media = _BROWSER_FORMATS.get(image.format or "")
        upright = image.getexif().get(_EXIF_ORIENTATION, 1) in (None, 1)
        plain = image.mode in _BROWSER_MODES and getattr(image, "n_frames", 1) == 1
    if media is not None and upright and plain:
        return data, media
    buffer = io.BytesIO()
    Image.fromarray(pixels()).save(buffer, format="PNG")
    return buffer.getvalue(), "image/png"


def _suffix(data: bytes) -> str:
    with Image.open(io.BytesIO(data)) as image:
        fmt = (image.format or "").lower()
    return {"jpeg": ".jpg", "png": ".png", "webp": ".webp", "bmp": ".bmp", "tiff": ".tif", "gif": ".gif"}.get(
        fmt, ".img"
    )

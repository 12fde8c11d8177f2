"""Read image files into H x W x 3 uint8 RGB arrays, and resolve a file / folder / glob to image paths.

``load_image`` is careful with what it is given:

- EXIF orientation is applied (``PIL.ImageOps.exif_transpose``), so the array is the image as viewers show it.
- Every Pillow mode goes through ``as_rgb_uint8``: 16-bit grayscale is scaled with ``round(v / 257)``, CMYK
  and palette images are converted, alpha is dropped. Pillow itself reduces 16-bit *colour* PNGs to 8 bits by
  keeping the high byte (``v >> 8``), which can differ from ``round(v / 257)`` by one level.
- Decompression bombs: the pixel count declared in the file header is checked against a limit before any pixel
  is decoded. The limit is ``max_pixels`` when given, else the environment variable
  ``SEGANY_MAX_IMAGE_PIXELS`` (a positive integer, or ``none`` / ``0`` for no limit), else
  ``DEFAULT_MAX_PIXELS`` (Pillow's error threshold). This check replaces Pillow's global
  ``Image.MAX_IMAGE_PIXELS`` one for the files read here.
- Multi-frame files (GIF, TIFF, ...) give their first frame. Tiny images (even 1 x 1) load normally; whether
  they are worth segmenting is the caller's decision.
- Every failure is one ``ImageLoadError`` (a ``ValueError``) whose message is a single line naming the file
  and the reason: missing, a directory, unreadable, empty, not an image, too large, truncated or corrupt.
"""

from __future__ import annotations

import enum
import glob
import os
import struct
import threading
import warnings
from pathlib import Path
from typing import Final

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from segany.io.image_convert import as_rgb_uint8

PathLike = str | os.PathLike[str]

DEFAULT_MAX_PIXELS: Final = 178_956_970
MAX_PIXELS_ENV_VAR: Final = "SEGANY_MAX_IMAGE_PIXELS"
IMAGE_EXTENSIONS: Final = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".ppm", ".pgm", ".pbm", ".pnm"}
)
_GLOB_CHARS: Final = frozenset("*?[")
# Pillow's bomb check reads a module global; it is lifted only to read a header we then check ourselves.
_PIL_LIMIT_LOCK = threading.Lock()
_EXIF_ERRORS: Final = (OSError, SyntaxError, ValueError, TypeError, KeyError, IndexError, struct.error)


class DefaultLimitType(enum.Enum):
    """Sentinel type for "use the environment variable or DEFAULT_MAX_PIXELS"."""

    TOKEN = "default"


DEFAULT_LIMIT: Final = DefaultLimitType.TOKEN


class ImageLoadError(ValueError):
    """An image file could not be loaded; its message is one line: ``cannot load image <path>: <reason>``."""

    def __init__(self, path: PathLike, reason: str) -> None:
        self.path = Path(path)
        self.reason = _one_line(reason)
        super().__init__(_one_line(f"cannot load image {self.path}: {self.reason}"))


def resolve_max_pixels(max_pixels: int | None | DefaultLimitType = DEFAULT_LIMIT) -> int | None:
    """Return the effective pixel limit (``None`` = no limit) for a ``load_image(max_pixels=...)`` value.

    Raises:
        TypeError / ValueError: ``max_pixels`` is not a positive int or None, or the environment variable
            ``SEGANY_MAX_IMAGE_PIXELS`` is set to something other than a positive integer, "none" or "0".
    """
    if max_pixels is DEFAULT_LIMIT:
        raw = os.environ.get(MAX_PIXELS_ENV_VAR)
        if raw is None or raw.strip() == "":
            return DEFAULT_MAX_PIXELS
        text = raw.strip().lower()
        if text in ("none", "0"):
            return None
        if not text.isdigit():
            raise ValueError(
                f"environment variable {MAX_PIXELS_ENV_VAR} must be a positive integer, 'none' or '0' "
                f"(no limit), got {raw!r}"
            )
        return int(text)
    if max_pixels is None:
        return None
    if isinstance(max_pixels, bool) or not isinstance(max_pixels, int):
        raise TypeError(f"max_pixels must be a positive int or None, got {type(max_pixels).__name__}")
    if max_pixels <= 0:
        raise ValueError(f"max_pixels must be a positive int or None (no limit), got {max_pixels}")
    return max_pixels


def load_image(path: PathLike, max_pixels: int | None | DefaultLimitType = DEFAULT_LIMIT) -> np.ndarray:
    """Load an image file as an H x W x 3 uint8 RGB array with its EXIF orientation applied.

    Args:
        path: image file.
        max_pixels: largest width * height accepted, checked on the header before decoding; ``None`` disables
            the check; by default ``SEGANY_MAX_IMAGE_PIXELS`` or ``DEFAULT_MAX_PIXELS`` (see module
            docstring).

    Returns:
        H x W x 3 uint8 RGB array, C-contiguous; H x W is the displayed (EXIF-rotated) size.

    Raises:
        ImageLoadError: the file is missing, a directory, unreadable, empty, not an image, larger than the
            limit, truncated or corrupt. The message is one line naming the file and the reason.
    """
    limit = resolve_max_pixels(max_pixels)
    file = Path(path)
    _check_file(file)
    image = _open_lazily(file)
    with image:
        width, height = image.size
        if limit is not None and width * height > limit:
            raise ImageLoadError(
                file,
                f"too large: header declares {width}x{height} (WxH) = {width * height:,} pixels, above the "
                f"limit of {limit:,} (raise max_pixels or {MAX_PIXELS_ENV_VAR} if the file is trusted)",
            )
        try:
            image.load()
        except MemoryError as exc:
            raise ImageLoadError(file, f"not enough memory to decode {width}x{height} (WxH) pixels") from exc
        except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError) as exc:
            raise ImageLoadError(file, f"truncated or corrupt image data ({_describe(exc)})") from exc
        try:
            ImageOps.exif_transpose(image, in_place=True)
        except _EXIF_ERRORS as exc:  # a broken EXIF block; the pixels themselves are fine
            warnings.warn(
                _one_line(f"{file}: ignoring unreadable EXIF orientation ({_describe(exc)})"), stacklevel=2
            )
        try:
            return as_rgb_uint8(image)
        except (ValueError, TypeError) as exc:
            raise ImageLoadError(file, f"unsupported pixel data ({exc})") from exc


def iter_image_paths(spec: PathLike, recursive: bool = False) -> list[Path]:
    """Resolve ``spec`` to a sorted list of image files.

    - An existing file: ``[spec]`` whatever its extension (it was named explicitly).
    - A directory: its files with an image extension (``IMAGE_EXTENSIONS``, any case), sorted; subfolders too
      when ``recursive``. Hidden files (name starting with ".") are skipped.
    - Otherwise, a glob pattern (``*``, ``?``, ``[``; ``**`` spans folders when ``recursive``): the matching
      files with an image extension, sorted.

    A directory or glob with no image gives an empty list.

    Raises:
        ValueError: ``spec`` is neither an existing file or directory nor a glob pattern.
    """
    text = os.fspath(spec)
    root = Path(text)
    if root.is_file():
        return [root]
    if root.is_dir():
        candidates = root.rglob("*") if recursive else root.iterdir()
    elif _GLOB_CHARS & set(text):
        candidates = (Path(match) for match in glob.glob(text, recursive=recursive))
    else:
        raise ValueError(
            f"spec must be an image file, a directory or a glob pattern, got {text!r}, "
            "which does not exist and has no glob characters (* ? [)"
        )
    return sorted(
        candidate
        for candidate in candidates
        if candidate.suffix.lower() in IMAGE_EXTENSIONS
        and not candidate.name.startswith(".")
        and candidate.is_file()
    )


def _check_file(file: Path) -> None:
    """Raise ImageLoadError for a missing path, a directory, an unreadable or an empty file."""
    try:
        stat = file.stat()
    except FileNotFoundError:
        raise ImageLoadError(file, "file not found") from None
    except OSError as exc:
        raise ImageLoadError(file, f"cannot access the file ({_describe(exc)})") from exc
    if file.is_dir():
        raise ImageLoadError(file, "is a directory, not an image file")
    if stat.st_size == 0:
        raise ImageLoadError(file, "file is empty (0 bytes)")


def _open_lazily(file: Path) -> Image.Image:
    """Open ``file`` reading only its header; Pillow's own bomb check is replaced by the caller's."""
    try:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                return Image.open(file)
        except Image.DecompressionBombError:
            with _PIL_LIMIT_LOCK:
                saved = Image.MAX_IMAGE_PIXELS
                Image.MAX_IMAGE_PIXELS = None
                try:
                    return Image.open(file)
                finally:
                    Image.MAX_IMAGE_PIXELS = saved
    except UnidentifiedImageError:
        raise ImageLoadError(
            file, "not an image file Pillow can identify (wrong extension or corrupt)"
        ) from None
    except PermissionError as exc:
        raise ImageLoadError(file, f"permission denied ({_describe(exc)})") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageLoadError(file, f"corrupt image header ({_describe(exc)})") from exc


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _one_line(text: str) -> str:
    return text.replace("\r\n", " ").replace("\n", " ").replace("\r", " ")


def relative_image_names(paths: list[Path]) -> list[Path]:
    """Each path relative to the common folder of all of them (``sub/photo.jpg``): names for outputs."""
    if not paths:
        return []
    root = Path(os.path.commonpath([str(path.resolve().parent) for path in paths]))
    return [path.resolve().relative_to(root) for path in paths]

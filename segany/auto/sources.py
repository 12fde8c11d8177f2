"""Read one image of a run from a local path or a filesystem URL, with `segany.io.load_image`'s checks.

URLs (``scheme://...``) are opened with pyarrow's filesystems (``pyarrow.fs.FileSystem.from_uri``: s3, gs,
hdfs, file, ...; credentials come from the usual environment / config files of each store), falling back to
fsspec when pyarrow does not know the scheme. The bytes go through a temporary file so that the same
header-first pixel limit, EXIF handling and error messages apply as for local files.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from segany.io import ImageLoadError, load_image

# Largest encoded file read from a URL (a decompression bomb is caught later, on the header's pixel count).
MAX_REMOTE_BYTES = 512 * 2**20


def is_url(uri: str) -> bool:
    return "://" in uri


def read_image(uri: str) -> np.ndarray:
    """H x W x 3 uint8 RGB of the image at ``uri`` (a local path or a URL).

    Raises:
        ImageLoadError: missing, unreadable, not an image, too large, corrupt; the message names ``uri``.
    """
    if not is_url(uri):
        return load_image(uri)
    data = _read_url(uri)
    suffix = Path(uri.split("?", 1)[0]).suffix[:10]
    handle, temporary = tempfile.mkstemp(prefix="segany-auto-", suffix=suffix)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        try:
            return load_image(temporary)
        except ImageLoadError as exc:  # name the URL, not the temporary copy
            raise ImageLoadError(uri, exc.reason) from None
    finally:
        os.unlink(temporary)


def read_bytes(uri: str) -> bytes:
    """The encoded bytes of the file at ``uri`` (a local path or a URL), e.g. to store them elsewhere.

    Raises:
        ImageLoadError: missing, unreadable or too large; the message names ``uri``.
    """
    if is_url(uri):
        return _read_url(uri)
    path = Path(uri)
    try:
        size = path.stat().st_size
        if size > MAX_REMOTE_BYTES:
            raise ImageLoadError(uri, f"file of {size:,} bytes is above {MAX_REMOTE_BYTES:,}")
        return path.read_bytes()
    except FileNotFoundError:
        raise ImageLoadError(uri, "file not found") from None
    except OSError as exc:
        raise ImageLoadError(uri, f"cannot read ({exc})") from exc


def _read_url(uri: str) -> bytes:
    try:
        return _read_with_pyarrow(uri)
    except ImportError:
        pass
    except _SchemeUnknown:
        pass
    return _read_with_fsspec(uri)


class _SchemeUnknown(Exception):
    pass


def _read_with_pyarrow(uri: str) -> bytes:
    import pyarrow  # type: ignore[import-untyped]
    import pyarrow.fs  # type: ignore[import-untyped]

    try:
        filesystem, path = pyarrow.fs.FileSystem.from_uri(uri)
    except pyarrow.ArrowInvalid as exc:
        raise _SchemeUnknown(str(exc)) from exc
    try:
        info = filesystem.get_file_info(path)
        if info.type == pyarrow.fs.FileType.NotFound:
            raise ImageLoadError(uri, "file not found")
        if info.type != pyarrow.fs.FileType.File:
            raise ImageLoadError(uri, "is not a file")
        if info.size is not None and info.size > MAX_REMOTE_BYTES:
            raise ImageLoadError(uri, f"file of {info.size:,} bytes is above {MAX_REMOTE_BYTES:,}")
        with filesystem.open_input_stream(path) as stream:
            return bytes(stream.read())
    except (OSError, pyarrow.ArrowException) as exc:
        raise ImageLoadError(uri, f"cannot read ({exc})") from exc


def _read_with_fsspec(uri: str) -> bytes:
    try:
        import fsspec  # type: ignore[import-untyped]
    except ImportError as exc:
        raise ImageLoadError(
            uri, "reading URLs needs pyarrow or fsspec with the store's driver: pip install 'segany[scale]'"
        ) from exc
    try:
        with fsspec.open(uri, "rb") as file:
            data = file.read(MAX_REMOTE_BYTES + 1)
    except (OSError, ValueError, ImportError) as exc:
        raise ImageLoadError(uri, f"cannot read ({exc})") from exc
    if len(data) > MAX_REMOTE_BYTES:
        raise ImageLoadError(uri, f"file is above {MAX_REMOTE_BYTES:,} bytes")
    return bytes(data)

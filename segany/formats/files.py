"""File helpers shared by the format modules: the format error type and json reading / writing."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

PathLike = str | os.PathLike[str]


class FormatError(ValueError):
    """A file on disk does not follow the format it is read as; the message names the file."""


def load_json(file: Path) -> Any:
    """Parse a json file; a missing file or invalid json raises FormatError naming the file."""
    try:
        with file.open("r", encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        raise FormatError(f"{file}: file not found") from None
    except IsADirectoryError:
        raise FormatError(f"{file}: is a directory, expected a json file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise FormatError(f"{file}: not valid json ({exc})") from exc


def write_json(document: Any, file: Path) -> Path:
    """Write ``document`` as compact json, atomically (temporary file + rename), creating parent folders."""
    file.parent.mkdir(parents=True, exist_ok=True)
    temporary = file.with_name(f".{file.name}.tmp{os.getpid()}")
    try:
        with temporary.open("w", encoding="utf-8") as handle:
            json.dump(document, handle, allow_nan=False)
        os.replace(temporary, file)
    finally:
        temporary.unlink(missing_ok=True)
    return file

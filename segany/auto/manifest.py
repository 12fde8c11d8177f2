"""What an automatic run segments: the image list (folder, glob, list file or manifest), cut into shards.

Input forms (``read_manifest``):

- a folder (``recursive`` for subfolders), a glob pattern or one image file: ids are the paths relative to
  the images' common folder (``sub/photo.jpg``), in sorted order;
- a list file (``.txt`` / ``.lst`` / ``.list``): one path or URL per line (blank lines and ``#`` comments
  skipped); the id is the line itself;
- a manifest with ``id`` and ``uri`` columns: Parquet (``.parquet``), CSV (``.csv``) or JSON Lines
  (``.jsonl``), in the file's order.

A ``uri`` is a local path (relative ones are taken from the list file's folder) or a filesystem URL that
pyarrow reads (``s3://``, ``gs://``, ``file://`` ...; see :mod:`segany.auto.sources`).

Shards are runs of ``shard_size`` consecutive entries: shard k holds entries ``k * shard_size`` onwards. The
same input and shard size always give the same shards, which is what lets a re-run skip finished ones.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

LIST_SUFFIXES = (".txt", ".lst", ".list")
MANIFEST_SUFFIXES = (".parquet", ".csv", ".jsonl")
SHARD_NAME_DIGITS = 6


class ManifestError(ValueError):
    """The input list cannot be read, or its entries are malformed; the message names the file and row."""


@dataclass(frozen=True)
class ImageEntry:
    """One image of a run: its id (unique in the run), where to read it, and its 1-based position."""

    id: str
    uri: str
    image_id: int  # position in the input, 1-based: the SA-1B image_id


@dataclass(frozen=True)
class Shard:
    """A run of consecutive entries: the unit of work that is written, renamed and marked done at once."""

    index: int
    entries: tuple[ImageEntry, ...]

    @property
    def name(self) -> str:
        return f"{self.index:0{SHARD_NAME_DIGITS}d}"


def read_manifest(spec: str | os.PathLike[str], recursive: bool = False) -> list[ImageEntry]:
    """The images named by ``spec`` (see the module docstring), in run order.

    Raises:
        ManifestError: nothing found, an unreadable or malformed list / manifest, duplicate ids.
    """
    text = os.fspath(spec)
    path = Path(text)
    suffix = path.suffix.lower()
    if path.is_file() and suffix in MANIFEST_SUFFIXES:
        pairs = _read_table(path, suffix)
    elif path.is_file() and suffix in LIST_SUFFIXES:
        pairs = _read_list(path)
    else:
        pairs = _read_images(text, recursive)
    if not pairs:
        hint = " (add --recursive to search subfolders)" if path.is_dir() and not recursive else ""
        raise ManifestError(f"no images found in {text}{hint}")
    seen: set[str] = set()
    for image_id, uri in pairs:
        if image_id in seen:
            raise ManifestError(f"{text}: id {image_id!r} appears more than once; ids must be unique")
        seen.add(image_id)
    return [ImageEntry(image_id, uri, position) for position, (image_id, uri) in enumerate(pairs, start=1)]


def make_shards(entries: Sequence[ImageEntry], shard_size: int) -> list[Shard]:
    """Consecutive runs of ``shard_size`` entries (the last one may be shorter)."""
    if isinstance(shard_size, bool) or not isinstance(shard_size, int) or shard_size <= 0:
        raise ValueError(f"shard_size must be a positive int, got {shard_size!r}")
    return [
        Shard(start // shard_size, tuple(entries[start : start + shard_size]))
        for start in range(0, len(entries), shard_size)
    ]


def _read_images(spec: str, recursive: bool) -> list[tuple[str, str]]:
    from segany.io import iter_image_paths, relative_image_names

    try:
        paths = iter_image_paths(spec, recursive=recursive)
    except ValueError as exc:
        raise ManifestError(
            f"INPUT must be an image, a folder, a glob, a list file ({', '.join(LIST_SUFFIXES)}) or a "
            f"manifest ({', '.join(MANIFEST_SUFFIXES)}), got {spec!r}, which does not exist"
        ) from exc
    return [(name.as_posix(), str(path)) for path, name in zip(paths, relative_image_names(paths))]


def _read_list(path: Path) -> list[tuple[str, str]]:
    pairs = []
    for line in _read_text(path).splitlines():
        item = line.strip()
        if item and not item.startswith("#"):
            pairs.append((item, _resolve_uri(item, path.parent)))
    return pairs


def _read_table(path: Path, suffix: str) -> list[tuple[str, str]]:
    if suffix == ".parquet":
        rows = _parquet_rows(path)
    elif suffix == ".csv":
        rows = list(csv.DictReader(_read_text(path).splitlines()))
    else:
        rows = []
        for number, line in enumerate(_read_text(path).splitlines(), start=1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except ValueError as exc:
                    raise ManifestError(f"{path}: line {number} is not json ({exc})") from exc
    pairs = []
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, dict) or not row.get("id") or not row.get("uri"):
            shown = sorted(map(str, row)) if isinstance(row, dict) else type(row).__name__
            raise ManifestError(
                f"{path}: row {number} needs non-empty 'id' and 'uri' columns, got {shown}"[:300]
            )
        pairs.append((str(row["id"]), _resolve_uri(str(row["uri"]), path.parent)))
    return pairs


def _parquet_rows(path: Path) -> list[dict[str, object]]:
    try:
        from pyarrow import parquet  # type: ignore[import-untyped]
    except ImportError as exc:
        raise ManifestError(
            f"{path}: reading Parquet manifests needs pyarrow: pip install 'segany[scale]'"
        ) from exc
    try:
        table = parquet.read_table(path)
    except (OSError, ValueError) as exc:
        raise ManifestError(f"{path}: not a readable Parquet file ({exc})") from exc
    missing = [name for name in ("id", "uri") if name not in table.column_names]
    if missing:
        raise ManifestError(f"{path}: a manifest needs columns 'id' and 'uri', missing {missing}")
    rows: list[dict[str, object]] = table.select(["id", "uri"]).to_pylist()
    return rows


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"cannot read {path} ({exc})") from exc


def _resolve_uri(uri: str, folder: Path) -> str:
    """URLs stay as given; relative local paths are taken from the list file's folder."""
    if "://" in uri or Path(uri).is_absolute():
        return uri
    return str(folder / uri)

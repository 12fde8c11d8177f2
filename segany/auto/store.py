"""The output folder of an automatic run: staging, atomic shard commits, done markers, the run identity.

Layout of OUT::

    run.json                    settings, settings hash, model fingerprint (no timestamps: same run, same bytes)
    staging/<shard>/            images finished in an unfinished shard (each file written atomically)
        <key>.json              the image's SA-1B json
        <key>.error.json        or its error row
    shards/<shard>/             a finished shard: its staging folder, renamed (SA-1B output)
    shards/<shard>.parquet      or (Parquet output) the shard's mask table, built from its staging folder
    shards/<shard>.done.json    written last: model fingerprint, settings hash and one row per image
    index.jsonl                 the results index (see segany.auto.index)
    run_log.jsonl               one line per invocation: engine, times, summary (the only varying file)

A shard counts as done only when its marker exists and names the run's model, settings and exactly the
shard's image ids; otherwise it is redone, reusing the images already staged. ``<key>`` is the image id made
safe as a file name (see ``file_key``). Both output formats stage each image as its SA-1B json; a Parquet run
turns a complete staging folder into ``<shard>.parquet`` (written under a temporary name, renamed), writes the
marker, then removes the staging folder.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from segany.auto.manifest import Shard
from segany.auto.settings import canonical_json, sha256_json
from segany.auto.work import ImageRow, ImageTask
from segany.formats.auto_run import INDEX_FILE, PARQUET_SUFFIX

RUN_FILE = "run.json"
STAGING_DIR = "staging"
SHARDS_DIR = "shards"
DONE_SUFFIX = ".done.json"
ERROR_SUFFIX = ".error.json"
RUN_LOG_FILE = "run_log.jsonl"
_MAX_KEY_LENGTH = 180  # file names stay well under the usual 255-byte limit


class RunMismatchError(ValueError):
    """The output folder holds results of another model or other settings."""


def file_key(image_id: str) -> str:
    """A file-name-safe, reversible-looking key for an image id (``sub/a b.jpg`` -> ``sub%2Fa%20b.jpg``).

    Ids never reach the filesystem as paths: separators, ``..`` and other specials are percent-encoded, a
    leading dot is encoded, and long ids are cut and suffixed with a hash of the full id.
    """
    key = quote(image_id, safe="-_.")
    if key.startswith("."):
        key = "%2E" + key[1:]
    if len(key) > _MAX_KEY_LENGTH:
        key = f"{key[:100]}~{sha256_json(image_id)[:32]}"
    return key


class ShardStore:
    """Reads and writes one run's output folder (see the module docstring)."""

    def __init__(self, out: Path, identity: dict[str, Any]) -> None:
        """``identity``: the run's settings, settings hash and model fingerprint (written to run.json)."""
        self.out = Path(out)
        self.identity = identity
        self.output_format: str = identity["settings"].get("output_format", "sa1b")

    # ------------------------------------------------------------------ run identity
    def check_identity(self, overwrite: bool) -> None:
        """Refuse another run's folder (unless ``overwrite``, which clears its results); write run.json.

        Raises:
            RunMismatchError: run.json names another model or other settings.
        """
        path = self.out / RUN_FILE
        if path.is_file() and not overwrite:
            previous = _load(path)
            changed = [
                key
                for key in ("settings_sha256", "model_fingerprint")
                if previous.get(key) != self.identity[key]
            ]
            if changed:
                what = " and ".join("settings" if key == "settings_sha256" else "model" for key in changed)
                raise RunMismatchError(
                    f"{self.out} holds results made with another {what} (see {path}); use another --out, "
                    "or --overwrite to discard them"
                )
        if overwrite:
            for name in (STAGING_DIR, SHARDS_DIR):
                shutil.rmtree(self.out / name, ignore_errors=True)
            (self.out / INDEX_FILE).unlink(missing_ok=True)
        write_atomic(
            self.out / RUN_FILE, (json.dumps(self.identity, indent=2, sort_keys=True) + "\n").encode()
        )

    # ------------------------------------------------------------------ paths
    def staging_dir(self, shard: str) -> Path:
        return self.out / STAGING_DIR / shard

    def shard_dir(self, shard: str) -> Path:
        return self.out / SHARDS_DIR / shard

    def marker(self, shard: str) -> Path:
        return self.out / SHARDS_DIR / f"{shard}{DONE_SUFFIX}"

    def table(self, shard: str) -> Path:
        """The shard's Parquet mask table (Parquet output)."""
        return self.out / SHARDS_DIR / f"{shard}{PARQUET_SUFFIX}"

    # ------------------------------------------------------------------ state
    def done_rows(self, shard: Shard) -> list[ImageRow] | None:
        """The shard's rows when its marker is valid for this run and these images, else None."""
        path = self.marker(shard.name)
        if not path.is_file():
            return None
        try:
            marker = _load(path)
            rows = [ImageRow.from_dict(row) for row in marker["images"]]
        except (ValueError, KeyError, TypeError):
            return None
        if (
            marker.get("settings_sha256") != self.identity["settings_sha256"]
            or marker.get("model_fingerprint") != self.identity["model_fingerprint"]
            or [row.id for row in rows] != [entry.id for entry in shard.entries]
        ):
            return None
        return rows

    def staged_rows(self, tasks: Iterable[ImageTask]) -> dict[str, ImageRow]:
        """Rows of the images of an unfinished shard already staged (by an interrupted earlier run).

        A committed shard folder without a marker (interrupted between rename and marker) is moved back to
        staging first; a stale marker (other ids) is removed.
        """
        task_list = list(tasks)
        if not task_list:
            return {}
        shard = task_list[0].shard
        self.marker(shard).unlink(missing_ok=True)
        self.table(shard).unlink(missing_ok=True)  # a table without its marker: rebuilt at the commit
        committed, staging = self.shard_dir(shard), self.staging_dir(shard)
        if committed.is_dir():
            if staging.exists():
                shutil.rmtree(committed)
            else:
                staging.parent.mkdir(parents=True, exist_ok=True)
                os.replace(committed, staging)
        rows = {}
        for task in task_list:
            row = self._staged_row(task)
            if row is not None:
                rows[task.id] = row
        return rows

    def _staged_row(self, task: ImageTask) -> ImageRow | None:
        folder = self.staging_dir(task.shard)
        key = file_key(task.id)
        try:
            if (folder / f"{key}.json").is_file():
                document = _load(folder / f"{key}.json")
                image = document["image"]
                return ImageRow(
                    task.id,
                    task.image_id,
                    task.uri,
                    image["width"],
                    image["height"],
                    len(document["annotations"]),
                    None,
                )
            if (folder / f"{key}{ERROR_SUFFIX}").is_file():
                return ImageRow.from_dict(_load(folder / f"{key}{ERROR_SUFFIX}"))
        except (ValueError, KeyError, TypeError):
            return None  # unreadable: redo the image
        return None

    # ------------------------------------------------------------------ writing
    def stage(self, task: ImageTask, document: bytes | None, row: ImageRow) -> None:
        """Write one image's outcome into its shard's staging folder (atomically; a redo writes the same)."""
        folder = self.staging_dir(task.shard)
        key = file_key(task.id)
        if document is not None:
            write_atomic(folder / f"{key}.json", document)
        else:
            write_atomic(folder / f"{key}{ERROR_SUFFIX}", canonical_json(row.to_dict()).encode())

    def commit(self, shard: Shard, rows: list[ImageRow]) -> None:
        """Publish the shard (rename its staging folder to shards/<shard>, or write shards/<shard>.parquet
        from it), then write its done marker."""
        staging, target = self.staging_dir(shard.name), self.shard_dir(shard.name)
        staging.mkdir(parents=True, exist_ok=True)  # a shard may have no staged file only if it is empty
        for leftover in staging.glob(".*.tmp"):  # a writer killed mid-write (its image was redone)
            leftover.unlink(missing_ok=True)
        if self.output_format == "parquet":
            self._write_table(shard.name, rows)
        else:
            if target.exists():
                shutil.rmtree(target)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging, target)
        marker = {
            "shard": shard.name,
            "settings_sha256": self.identity["settings_sha256"],
            "model_fingerprint": self.identity["model_fingerprint"],
            "images": [row.to_dict() for row in rows],
        }
        write_atomic(self.marker(shard.name), (canonical_json(marker) + "\n").encode())
        self.discard_staging(shard.name)

    def _write_table(self, shard: str, rows: list[ImageRow]) -> None:
        """shards/<shard>.parquet from the staged SA-1B jsons of the shard's images, in input order."""
        from segany.formats.mask_table import mask_table_bytes, sa1b_document_rows

        folder = self.staging_dir(shard)
        table_rows = []
        for row in rows:
            if row.error is None:
                table_rows.extend(sa1b_document_rows(_load(folder / f"{file_key(row.id)}.json")))
        write_atomic(self.table(shard), mask_table_bytes(table_rows))

    def discard_staging(self, shard: str) -> None:
        """Remove the staging folder of a finished shard (Parquet output keeps none once the marker is in)."""
        if self.output_format == "parquet":
            shutil.rmtree(self.staging_dir(shard), ignore_errors=True)

    def tidy(self) -> None:
        """Remove staging folders left empty by committed shards."""
        staging = self.out / STAGING_DIR
        if staging.is_dir():
            for folder in staging.iterdir():
                if folder.is_dir() and not any(folder.iterdir()):
                    folder.rmdir()
            if not any(staging.iterdir()):
                staging.rmdir()

    def append_log(self, entry: dict[str, Any]) -> None:
        with (self.out / RUN_LOG_FILE).open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry, sort_keys=True) + "\n")


def output_file(shard: str, image_id: str, error: bool, output_format: str = "sa1b") -> str:
    """Path of an image's committed output relative to OUT (posix); for Parquet output, its shard's table
    (which has no rows for an image with an error: its error is in the index and the marker)."""
    if output_format == "parquet":
        return f"{SHARDS_DIR}/{shard}{PARQUET_SUFFIX}"
    suffix = ERROR_SUFFIX if error else ".json"
    return f"{SHARDS_DIR}/{shard}/{file_key(image_id)}{suffix}"


def write_atomic(target: Path, data: bytes) -> None:
    """Write ``data`` to a unique temporary sibling, then rename it over ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        temporary.write_bytes(data)
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def _load(path: Path) -> dict[str, Any]:
    with path.open("r", encoding="utf-8") as handle:
        document = json.load(handle)
    if not isinstance(document, dict):
        raise ValueError(f"{path}: expected a json object")  # noqa: TRY004 - a malformed file, not a bad argument
    return document

"""The results index of an automatic run: one JSON line per image, in input order, for readers and importers.

``OUT/index.jsonl`` (its rows: see :mod:`segany.formats.auto_run`, which reads it): each image's id, SA-1B
image_id, uri, shard, output file (its SA-1B json, its error row, or its shard's Parquet mask table), size,
mask count and error. The index is the contract for later stages (the data engine's import, ``segany.formats``
readers): ``read_index`` gives the rows, ``iter_results`` each image with its records, ``export_coco`` one
COCO json of the whole run. Its bytes depend only on the inputs, model and settings (no timestamps).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from segany.auto.settings import canonical_json
from segany.auto.store import output_file, write_atomic
from segany.auto.work import ImageRow
from segany.formats.auto_run import INDEX_FILE, IndexRow, iter_results, read_index

__all__ = ["INDEX_FILE", "IndexRow", "export_coco", "index_rows", "iter_results", "read_index", "write_index"]


def index_rows(shard_rows: Sequence[tuple[str, Sequence[ImageRow]]], output_format: str) -> list[IndexRow]:
    """IndexRows of finished shards ((shard name, its rows) in shard order), sorted by image_id."""
    rows = [
        IndexRow(
            row.id,
            row.image_id,
            row.uri,
            shard,
            output_file(shard, row.id, error=row.error is not None, output_format=output_format),
            row.width,
            row.height,
            row.masks,
            row.error,
        )
        for shard, rows_of_shard in shard_rows
        for row in rows_of_shard
    ]
    return sorted(rows, key=lambda row: row.image_id)


def write_index(out: Path, rows: Sequence[IndexRow]) -> Path:
    path = Path(out) / INDEX_FILE
    write_atomic(path, "".join(canonical_json(row.to_dict()) + "\n" for row in rows).encode())
    return path


def export_coco(out: str | Path, path: str | Path) -> Path:
    """One COCO instances json of the run's masks (image ids as in the index)."""
    from segany.formats import write_coco

    return write_coco(((info, records) for _, info, records in iter_results(out)), path)

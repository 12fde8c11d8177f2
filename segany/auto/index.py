"""The results index of an automatic run: one JSON line per image, in input order, for readers and importers.

``OUT/index.jsonl`` rows::

    {"id": str, "image_id": int, "uri": str, "shard": "000000", "file": "shards/000000/<key>.json",
     "width": int, "height": int, "masks": int, "error": str | null}

``file`` is the image's SA-1B json relative to OUT (its error row for a failed image). The index is the
contract for later stages (the data engine's import, ``segany.formats`` readers): ``read_index`` gives the
rows, ``iter_results`` each image with its records (via ``segany.formats.read_sa1b``), ``export_coco`` one
COCO json of the whole run. Its bytes depend only on the inputs, model and settings (no timestamps).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from segany.auto.settings import canonical_json
from segany.auto.store import INDEX_FILE, output_file, write_atomic
from segany.auto.work import ImageRow


@dataclass(frozen=True)
class IndexRow:
    id: str
    image_id: int
    uri: str
    shard: str
    file: str  # relative to the run folder (posix)
    width: int
    height: int
    masks: int
    error: str | None

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def index_rows(shard_rows: Sequence[tuple[str, Sequence[ImageRow]]]) -> list[IndexRow]:
    """IndexRows of finished shards ((shard name, its rows) in shard order), sorted by image_id."""
    rows = [
        IndexRow(
            row.id,
            row.image_id,
            row.uri,
            shard,
            output_file(shard, row.id, error=row.error is not None),
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


def read_index(out: str | Path) -> list[IndexRow]:
    """The rows of ``OUT/index.jsonl``.

    Raises:
        ValueError: no index in ``out`` (the run has not finished a shard yet) or a malformed line.
    """
    path = Path(out) / INDEX_FILE
    if not path.is_file():
        raise ValueError(f"{out} has no {INDEX_FILE}: not the output folder of a `segany auto` run")
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            rows.append(IndexRow(**json.loads(line)))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{path} line {number}: not an index row ({exc})") from exc
    return rows


def iter_results(
    out: str | Path, output_mode: str = "coco_rle"
) -> Iterator[tuple[IndexRow, Any, list[dict[str, Any]]]]:
    """(index row, ImageInfo, records) for every image segmented without error, in input order.

    Records are the generator's (``segmentation`` in ``output_mode``) plus each annotation's ``id``.
    """
    from segany.formats import read_sa1b

    for row in read_index(out):
        if row.error is None:
            info, records = read_sa1b(Path(out) / row.file, output_mode=output_mode)
            yield row, info, records


def export_coco(out: str | Path, path: str | Path) -> Path:
    """One COCO instances json of the run's masks (image ids as in the index)."""
    from segany.formats import write_coco

    return write_coco(((info, records) for _, info, records in iter_results(out)), path)

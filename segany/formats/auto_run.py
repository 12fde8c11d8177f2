"""Reading the output folder of a `segany auto` run through its results index, ``OUT/index.jsonl``.

One JSON line per image, in input order::

    {"id": str, "image_id": int, "uri": str, "shard": "000000", "file": str,
     "width": int, "height": int, "masks": int, "error": str | null}

``file`` is relative to OUT (posix): the image's SA-1B json (``shards/<shard>/<key>.json``), its error row
(``...error.json``), or, for a run written as Parquet, the shard's mask table (``shards/<shard>.parquet``,
see :mod:`segany.formats.mask_table`) that holds the image's rows. ``segany.auto`` writes the index; this
module only reads it, so that readers (the data engine's import, scripts) need nothing of the run machinery.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from segany.formats.files import PathLike
from segany.formats.records import ImageInfo

INDEX_FILE = "index.jsonl"
PARQUET_SUFFIX = ".parquet"


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


def read_index(out: PathLike) -> list[IndexRow]:
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


class ResultReader:
    """The records of one run's images, one image at a time (each Parquet table read once for its images).

    Args:
        out: the run folder.
        output_mode: form of each record's ``segmentation`` (see ``segany.formats.OUTPUT_MODES``).
    """

    def __init__(self, out: PathLike, output_mode: str = "coco_rle") -> None:
        from segany.formats.masks_codec import check_output_mode

        check_output_mode(output_mode)
        self.folder = Path(out)
        self.output_mode = output_mode
        self._table_file: str | None = None
        self._table: dict[int, tuple[ImageInfo, list[dict[str, Any]]]] = {}

    def records(self, row: IndexRow) -> tuple[ImageInfo, list[dict[str, Any]]]:
        """(ImageInfo, records) of an image segmented without error: the generator's records (``segmentation``
        in ``output_mode``) plus each annotation's ``id``.

        Raises:
            FormatError: its output file is missing or malformed, or holds another number of masks.
            ValueError: ``row`` is an error row.
        """
        from segany.formats.files import FormatError
        from segany.formats.mask_table import read_mask_table
        from segany.formats.sa1b import read_sa1b

        if row.error is not None:
            raise ValueError(f"row must be an image segmented without error, got the error row of {row.id!r}")
        if not row.file.endswith(PARQUET_SUFFIX):
            return read_sa1b(self.folder / row.file, output_mode=self.output_mode)
        if row.file != self._table_file:
            self._table_file, self._table = None, {}
            self._table = read_mask_table(self.folder / row.file, self.output_mode)
            self._table_file = row.file
        info, records = self._table.get(
            row.image_id, (ImageInfo(row.id, row.width, row.height, row.image_id), [])
        )
        if len(records) != row.masks:
            raise FormatError(
                f"{self.folder / row.file}: image_id {row.image_id} has {len(records)} mask rows, the index "
                f"says {row.masks}"
            )
        return info, records


def iter_results(
    out: PathLike, output_mode: str = "coco_rle"
) -> Iterator[tuple[IndexRow, ImageInfo, list[dict[str, Any]]]]:
    """(index row, ImageInfo, records) for every image segmented without error, in input order.

    Records are the generator's (``segmentation`` in ``output_mode``) plus each annotation's ``id``, from the
    image's SA-1B json or from its shard's Parquet mask table (see ``ResultReader``).

    Raises:
        FormatError: an output file that is missing or malformed.
    """
    reader = ResultReader(out, output_mode)
    for row in read_index(out):
        if row.error is None:
            info, records = reader.records(row)
            yield row, info, records

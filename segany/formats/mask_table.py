"""Masks as Parquet rows: one row per mask, for runs too large for a json file per image (`segany auto`).

Columns (``MASK_TABLE_COLUMNS``, in this order):

- ``image_id`` (int64, the SA-1B image_id) and ``file_name`` (string, the image's name / run id);
- ``annotation_id`` (int64, 1, 2, ... within the image, as the SA-1B json's ``id``);
- ``height``, ``width`` (int32): the mask's (and image's) size, as COCO RLE's ``size`` = [height, width];
- ``counts`` (string): COCO compressed RLE counts (column-major, as pycocotools writes them);
- ``bbox`` (list<double>, XYWH pixels), ``area`` (int64, pixels);
- ``predicted_iou``, ``stability_score`` (double, null when unknown);
- ``point_coords`` (list<list<double>>, [[x, y], ...] pixels, null when the mask came from a box);
- ``crop_box`` (list<double>, XYWH pixels, null when unknown).

Rows keep the order given (image after image, masks in the generator's order). Written with fixed options
(zstd, no pandas metadata, one row group), so the same rows give the same bytes with the same pyarrow.
pyarrow is needed (the ``scale`` extra); it is imported only here, when a table is written or read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from segany.formats.files import FormatError, PathLike
from segany.formats.masks_codec import check_output_mode, convert_segmentation
from segany.formats.records import ImageInfo, normalize_records

MASK_TABLE_COLUMNS = (
    "image_id",
    "file_name",
    "annotation_id",
    "height",
    "width",
    "counts",
    "bbox",
    "area",
    "predicted_iou",
    "stability_score",
    "point_coords",
    "crop_box",
)


def require_pyarrow() -> Any:
    """The pyarrow module (with parquet); ImportError naming the extra when it is missing."""
    try:
        import pyarrow  # type: ignore[import-untyped]
        import pyarrow.parquet  # type: ignore[import-untyped]
    except ImportError as exc:
        raise ImportError("Parquet mask tables need pyarrow: pip install 'segany[scale]'") from exc
    return pyarrow


def mask_table_schema() -> Any:
    pa = require_pyarrow()
    floats = pa.list_(pa.float64())
    return pa.schema(
        [
            ("image_id", pa.int64()),
            ("file_name", pa.string()),
            ("annotation_id", pa.int64()),
            ("height", pa.int32()),
            ("width", pa.int32()),
            ("counts", pa.string()),
            ("bbox", floats),
            ("area", pa.int64()),
            ("predicted_iou", pa.float64()),
            ("stability_score", pa.float64()),
            ("point_coords", pa.list_(floats)),
            ("crop_box", floats),
        ]
    )


def mask_table_rows(
    images: Iterable[tuple[ImageInfo | Mapping[str, Any], Sequence[Mapping[str, Any]]]],
) -> list[dict[str, Any]]:
    """Table rows of (image info, records) pairs; records in any ``segmentation`` form, validated."""
    rows = []
    for image_info, records in images:
        image = ImageInfo.coerce(image_info)
        for offset, record in enumerate(normalize_records(records, image)):
            rle = record.coco_rle()
            rows.append(
                _row(
                    image,
                    offset + 1,
                    rle["counts"],
                    record.bbox,
                    record.area,
                    record.predicted_iou,
                    record.stability_score,
                    record.point_coords,
                    record.crop_box,
                )
            )
    return rows


def sa1b_document_rows(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Table rows of one SA-1B json document as ``sa1b_document`` builds it (trusted: not validated again,
    which would decode every mask; annotation ids are taken from the document)."""
    image = ImageInfo.coerce(document["image"])
    return [
        _row(
            image,
            int(annotation["id"]),
            annotation["segmentation"]["counts"],
            annotation["bbox"],
            int(annotation["area"]),
            annotation.get("predicted_iou"),
            annotation.get("stability_score"),
            annotation.get("point_coords"),
            annotation.get("crop_box"),
        )
        for annotation in document["annotations"]
    ]


def _row(
    image: ImageInfo,
    annotation_id: int,
    counts: str | bytes,
    bbox: Sequence[float],
    area: int,
    predicted_iou: float | None,
    stability_score: float | None,
    point_coords: Sequence[Sequence[float]] | None,
    crop_box: Sequence[float] | None,
) -> dict[str, Any]:
    return {
        "image_id": image.image_id,
        "file_name": image.file_name,
        "annotation_id": annotation_id,
        "height": image.height,
        "width": image.width,
        "counts": counts.decode("ascii") if isinstance(counts, bytes) else str(counts),
        "bbox": [float(value) for value in bbox],
        "area": int(area),
        "predicted_iou": None if predicted_iou is None else float(predicted_iou),
        "stability_score": None if stability_score is None else float(stability_score),
        "point_coords": None
        if point_coords is None
        else [[float(value) for value in point] for point in point_coords],
        "crop_box": None if crop_box is None else [float(value) for value in crop_box],
    }


def mask_table_bytes(rows: Sequence[Mapping[str, Any]]) -> bytes:
    """The Parquet file of ``rows`` (see ``mask_table_rows``) as bytes: fixed writer options, one row group."""
    pa = require_pyarrow()
    schema = mask_table_schema()
    table = pa.Table.from_pylist([dict(row) for row in rows], schema=schema)
    sink = pa.BufferOutputStream()
    pa.parquet.write_table(
        table,
        sink,
        compression="zstd",
        row_group_size=max(1, len(rows)),
        store_schema=False,  # no Arrow schema blob: the bytes depend on the rows and the Parquet schema only
    )
    return bytes(sink.getvalue().to_pybytes())


def write_mask_table(
    images: Iterable[tuple[ImageInfo | Mapping[str, Any], Sequence[Mapping[str, Any]]]], path: PathLike
) -> Path:
    """Write the masks of (image info, records) pairs as one Parquet file; returns its path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(mask_table_bytes(mask_table_rows(images)))
    return target


def read_mask_table(
    path: PathLike, output_mode: str = "binary_mask", image_ids: Iterable[int] | None = None
) -> dict[int, tuple[ImageInfo, list[dict[str, Any]]]]:
    """The masks of a Parquet mask table by image_id: (image info, records), records in table order.

    Records are the generator's (``segmentation`` in ``output_mode``) plus each mask's ``id`` (annotation_id),
    as ``read_sa1b`` gives them. ``image_ids`` keeps only those images (others are not decoded).

    Raises:
        FormatError: not a readable Parquet file, or columns missing.
    """
    check_output_mode(output_mode)
    pa = require_pyarrow()
    file = Path(path)
    try:
        table = pa.parquet.read_table(file)
    except (OSError, pa.ArrowException) as exc:
        raise FormatError(f"{file}: not a readable Parquet mask table ({exc})") from exc
    missing = [name for name in MASK_TABLE_COLUMNS if name not in table.column_names]
    if missing:
        raise FormatError(f"{file}: a mask table needs columns {list(MASK_TABLE_COLUMNS)}, missing {missing}")
    wanted = None if image_ids is None else set(image_ids)
    result: dict[int, tuple[ImageInfo, list[dict[str, Any]]]] = {}
    for number, row in enumerate(table.select(list(MASK_TABLE_COLUMNS)).to_pylist(), start=1):
        image_id = int(row["image_id"])
        if wanted is not None and image_id not in wanted:
            continue
        try:
            info = ImageInfo(str(row["file_name"]), int(row["width"]), int(row["height"]), image_id)
            rle = {"size": [int(row["height"]), int(row["width"])], "counts": str(row["counts"])}
            record = {
                "segmentation": convert_segmentation(rle, output_mode, where=f"{file} row {number}"),
                "area": int(row["area"]),
                "bbox": list(row["bbox"]),
                "predicted_iou": row["predicted_iou"],
                "point_coords": row["point_coords"],
                "stability_score": row["stability_score"],
                "crop_box": row["crop_box"],
                "id": int(row["annotation_id"]),
            }
        except (TypeError, ValueError) as exc:
            raise FormatError(f"{file} row {number}: {exc}") from exc
        result.setdefault(image_id, (info, []))[1].append(record)
    return result

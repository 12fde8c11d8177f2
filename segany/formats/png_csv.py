"""One folder per image: ``0.png``, ``1.png``, ... (one 8-bit mask each, 0 / 255) plus ``metadata.csv``.

This is the layout the official ``scripts/amg.py`` writes. ``metadata.csv`` has the header ``CSV_HEADER`` and
one row per mask: its id (the PNG's number), area, bbox XYWH, the first prompt point (x, y), predicted_iou,
stability_score and crop_box XYWH. Numbers are written with Python's ``str`` (shortest round-trip form), so
reading gives back the same ints and floats; a field a record lacks is an empty cell and reads back as None.
The PNGs are written first and ``metadata.csv`` last, so a folder with a metadata file is complete; PNGs that
``metadata.csv`` does not list (e.g. left over from an earlier run with more masks) are ignored when reading.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from segany.formats.files import FormatError, PathLike
from segany.formats.masks_codec import check_output_mode, convert_segmentation
from segany.formats.records import ImageInfo, Number, normalize_record, normalize_records

CSV_HEADER = (
    "id,area,bbox_x0,bbox_y0,bbox_w,bbox_h,point_input_x,point_input_y,predicted_iou,stability_score,"
    "crop_box_x0,crop_box_y0,crop_box_w,crop_box_h"
)
METADATA_FILE = "metadata.csv"
_COLUMNS = CSV_HEADER.split(",")


def write_png_csv(
    records: Sequence[Mapping[str, Any]], image_info: ImageInfo | Mapping[str, Any], out_dir: PathLike
) -> Path:
    """Write one image's masks as ``out_dir/<i>.png`` plus ``out_dir/metadata.csv``; returns ``out_dir``."""
    image = ImageInfo.coerce(image_info)
    validated = normalize_records(records, image)
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    rows = [CSV_HEADER]
    for index, record in enumerate(validated):
        pixels = record.mask().astype(np.uint8) * np.uint8(255)
        Image.fromarray(pixels).save(folder / f"{index}.png", compress_level=1)
        point = record.point_coords[0] if record.point_coords else [None, None]
        crop = record.crop_box if record.crop_box is not None else [None] * 4
        cells = [
            index,
            record.area,
            *record.bbox,
            *point,
            record.predicted_iou,
            record.stability_score,
            *crop,
        ]
        rows.append(",".join(_cell(value) for value in cells))
    temporary = folder / f".{METADATA_FILE}.tmp{os.getpid()}"
    temporary.write_text("\n".join(rows) + "\n", encoding="utf-8")
    os.replace(temporary, folder / METADATA_FILE)
    return folder


def read_png_csv(
    folder: PathLike, output_mode: str = "binary_mask", image_size: tuple[int, int] | None = None
) -> tuple[ImageInfo, list[dict[str, Any]]]:
    """Read a folder written by ``write_png_csv`` (or the official ``scripts/amg.py``).

    Args:
        folder: the per-image folder.
        output_mode: form of each ``segmentation``: "binary_mask" (H x W bool), "coco_rle" or
            "uncompressed_rle".
        image_size: (H, W) of the image; needed only when the folder holds no mask, else taken from the PNGs
            (and checked against them when given).

    Returns:
        (image info, records). The folder keeps no file name or id: ImageInfo has ``file_name`` = the folder
        name and ``image_id`` = 1. Records have the official keys; ``point_coords`` is ``[[x, y]]`` or None.

    Raises:
        FormatError: missing metadata or PNG, wrong header or row, PNGs of different sizes.
    """
    check_output_mode(output_mode)
    root = Path(folder)
    metadata = root / METADATA_FILE
    try:
        text = metadata.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FormatError(
            f"{metadata}: file not found (expected a {METADATA_FILE} next to the mask PNGs)"
        ) from None
    lines = list(csv.reader(io.StringIO(text)))
    if not lines or lines[0] != _COLUMNS:
        found = ",".join(lines[0]) if lines else "an empty file"
        raise FormatError(f"{metadata}: first line must be the header {CSV_HEADER!r}, got {found!r}")
    rows = [row for row in lines[1:] if row]
    masks = [_read_mask(root, row, line) for line, row in enumerate(rows, start=2)]
    shapes = {mask.shape for mask in masks} | ({tuple(image_size)} if image_size is not None else set())
    if len(shapes) > 1:
        raise FormatError(
            f"{root}: mask PNGs and image_size disagree on the image size (HxW): {sorted(shapes)}"
        )
    if not shapes:
        raise FormatError(
            f"{root}: {METADATA_FILE} lists no mask, so the image size is unknown; pass image_size"
        )
    height, width = shapes.pop()
    image = ImageInfo(file_name=root.name, width=width, height=height)
    records = []
    for line, (row, mask) in enumerate(zip(rows, masks), start=2):
        values = [
            _parse(cell, f"{metadata} line {line}, column {name!r}") for cell, name in zip(row, _COLUMNS)
        ]
        fields = dict(zip(_COLUMNS, values))
        point = [fields["point_input_x"], fields["point_input_y"]]
        crop = [fields[name] for name in _COLUMNS[10:14]]
        record = {
            "segmentation": mask,
            "area": fields["area"],
            "bbox": [fields[name] for name in _COLUMNS[2:6]],
            "predicted_iou": fields["predicted_iou"],
            "point_coords": None if None in point else [point],
            "stability_score": fields["stability_score"],
            "crop_box": None if None in crop else crop,
        }
        try:
            validated = normalize_record(record, image, f"{metadata} line {line}")
        except (TypeError, ValueError) as exc:
            raise FormatError(str(exc)) from exc
        records.append(validated.to_dict(convert_segmentation(validated.segmentation, output_mode)))
    return image, records


def _read_mask(root: Path, row: list[str], line: int) -> np.ndarray:
    """Load ``<id>.png`` for a metadata row as an H x W bool mask (pixels > 127 are inside)."""
    if len(row) != len(_COLUMNS):
        raise FormatError(
            f"{root / METADATA_FILE} line {line}: expected {len(_COLUMNS)} values, got {len(row)}"
        )
    if not row[0].isdigit():
        raise FormatError(
            f"{root / METADATA_FILE} line {line}: id must be a non-negative int, got {row[0]!r}"
        )
    path = root / f"{int(row[0])}.png"
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("L")) > 127
    except FileNotFoundError:
        raise FormatError(f"{path}: mask PNG listed in {METADATA_FILE} line {line} is missing") from None
    except (OSError, ValueError) as exc:
        raise FormatError(f"{path}: cannot read the mask PNG ({exc})") from exc


def _cell(value: Number | None) -> str:
    return "" if value is None else str(value)


def _parse(cell: str, where: str) -> Number | None:
    """'' -> None, '12' -> 12, '0.5' -> 0.5."""
    text = cell.strip()
    if text == "":
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise FormatError(f"{where}: expected a number, got {cell!r}") from None

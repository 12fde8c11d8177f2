"""Downloads of accepted objects, each written by `segany.formats` (or `segany.cli.drawing` for pictures).

Objects arrive as uncompressed RLE with an optional label and score. Labels become COCO categories and
YOLO class ids (in order of first appearance; unlabelled objects are "object"); SA-1B has no labels.
"""

from __future__ import annotations

import io
import json
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from segany.cli.drawing import cutout
from segany.formats import ImageInfo, segmentation_to_mask, write_png_csv, write_sa1b
from segany.formats.coco import coco_document
from segany.formats.yolo import yolo_lines

DEFAULT_LABEL = "object"


@dataclass(frozen=True)
class ExportObject:
    rle: dict[str, Any]  # {"size": [H, W], "counts": [int, ...]} uncompressed, column-major
    label: str | None
    score: float | None


@dataclass(frozen=True)
class ExportFile:
    data: bytes
    media_type: str
    file_name: str


def records(objects: Sequence[ExportObject]) -> list[dict[str, Any]]:
    """Generator-style records (`segany.formats.records`): segmentation plus predicted_iou."""
    return [{"segmentation": obj.rle, "predicted_iou": obj.score} for obj in objects]


def class_names(objects: Sequence[ExportObject]) -> list[str]:
    names: list[str] = []
    for obj in objects:
        name = obj.label or DEFAULT_LABEL
        if name not in names:
            names.append(name)
    return names


def export_coco(objects: Sequence[ExportObject], image: ImageInfo) -> ExportFile:
    document = coco_document([(image, records(objects))])
    names = class_names(objects)
    document["categories"] = [
        {"id": i + 1, "name": name, "supercategory": "object"} for i, name in enumerate(names)
    ]
    for annotation, obj in zip(document["annotations"], objects):
        annotation["category_id"] = names.index(obj.label or DEFAULT_LABEL) + 1
    data = json.dumps(document, allow_nan=False).encode()
    return ExportFile(data, "application/json", f"{_stem(image)}_coco.json")


def export_sa1b(objects: Sequence[ExportObject], image: ImageInfo) -> ExportFile:
    with tempfile.TemporaryDirectory(prefix="segany-export-") as folder:
        path = write_sa1b(records(objects), image, Path(folder) / "sa1b.json")
        return ExportFile(path.read_bytes(), "application/json", f"{_stem(image)}_sa1b.json")


def export_yolo(objects: Sequence[ExportObject], image: ImageInfo) -> ExportFile:
    names = class_names(objects)
    lines: list[str] = []
    for obj, record in zip(objects, records(objects)):
        lines += yolo_lines([record], image, class_id=names.index(obj.label or DEFAULT_LABEL))
    files = {
        f"{_stem(image)}.txt": "".join(f"{line}\n" for line in lines),
        "classes.txt": "\n".join(names) + "\n",
    }
    return ExportFile(
        _zip({name: text.encode() for name, text in files.items()}),
        "application/zip",
        f"{_stem(image)}_yolo.zip",
    )


def export_masks_png(objects: Sequence[ExportObject], image: ImageInfo) -> ExportFile:
    with tempfile.TemporaryDirectory(prefix="segany-export-") as folder:
        written = write_png_csv(records(objects), image, Path(folder) / "masks")
        members = {
            path.name: path.read_bytes()
            for path in sorted(written.iterdir())
            if not path.name.startswith(".")
        }
        labels = "index,label\n" + "".join(f"{i},{_csv(obj.label or '')}\n" for i, obj in enumerate(objects))
        members["labels.csv"] = labels.encode()
    return ExportFile(_zip(members), "application/zip", f"{_stem(image)}_masks.zip")


def export_cutout(
    objects: Sequence[ExportObject], image: ImageInfo, pixels: np.ndarray, index: int | None
) -> ExportFile:
    """RGBA PNG: object `index`, or the union of all objects when None."""
    chosen = objects if index is None else [objects[index]]
    shape = (image.height, image.width)
    union = np.zeros(shape, dtype=bool)
    for position, obj in enumerate(chosen):
        union |= segmentation_to_mask(obj.rle, shape, f"objects[{position if index is None else index}]")
    buffer = io.BytesIO()
    cutout(pixels, union).save(buffer, format="PNG")
    suffix = "all" if index is None else str(index)
    return ExportFile(buffer.getvalue(), "image/png", f"{_stem(image)}_cutout_{suffix}.png")


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _stem(image: ImageInfo) -> str:
    stem = Path(image.file_name).stem
    safe = "".join(char if char.isalnum() or char in "-_." else "_" for char in stem)
    return safe or "image"


def _csv(text: str) -> str:
    return '"' + text.replace('"', '""') + '"' if any(char in text for char in ',"\n') else text

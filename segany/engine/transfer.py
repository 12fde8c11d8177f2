"""Import and export of a project's annotations through `segany.formats`, and detector boxes as prompts.

Export formats: "coco" (RLE), "coco_polygons", "yolo" (YOLO-seg), "sa1b" (one json per image, as SA-1B's
README), "png" (a mask PNG per object + metadata.csv per image). Import formats: "coco", "yolo", "sa1b"
(masks, accepted as they are) and "coco_boxes" / "yolo_boxes" (a detector's boxes, which become box prompts
of a "boxes" job). Files are matched to project images by file name (YOLO: by stem).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from segany.engine import annotating
from segany.engine.annotating import NewAnnotation
from segany.engine.errors import Invalid
from segany.engine.models import Annotation, Image
from segany.engine.projects import project_images
from segany.engine.review import image_annotations
from segany.formats import ImageInfo, read_records, write_dataset

EXPORT_FORMATS = ("coco", "coco_polygons", "yolo", "sa1b", "png")
MASK_IMPORT_FORMATS = ("coco", "yolo", "sa1b")
BOX_IMPORT_FORMATS = ("coco_boxes", "yolo_boxes")


def export_project(
    db: Session, project_id: int, fmt: str, out_dir: Path, statuses: tuple[str, ...] = ("accepted",)
) -> list[Path]:
    """Write the project's masks with a status in `statuses` (default: accepted only) under `out_dir`."""
    if fmt not in EXPORT_FORMATS:
        raise Invalid(f"format must be one of {EXPORT_FORMATS}, got {fmt!r}", "format")
    images = project_images(db, project_id)
    names = unique_names(images)
    items = []
    for image in images:
        rows = [row for row in image_annotations(db, image.id) if row.status in statuses]
        info = ImageInfo(file_name=names[image.id], width=image.width, height=image.height, image_id=image.id)
        items.append((info, [_record(row) for row in rows]))
    base = "coco" if fmt == "coco_polygons" else fmt
    return write_dataset(items, out_dir, base, polygons=fmt == "coco_polygons")


def export_selected(
    db: Session, project_id: int, out_file: Path, sources: tuple[str, ...]
) -> tuple[int, list[Image]]:
    """A COCO file (RLE) of the accepted masks from `sources` (training data); returns (masks, images)."""
    from segany.formats import write_coco

    images = project_images(db, project_id)
    names = unique_names(images)
    items, count = [], 0
    for image in images:
        rows = [row for row in image_annotations(db, image.id, "accepted") if row.source in sources]
        if rows:
            info = ImageInfo(
                file_name=names[image.id], width=image.width, height=image.height, image_id=image.id
            )
            items.append((info, [_record(row) for row in rows]))
            count += len(rows)
    write_coco(items, out_file)
    return count, [image for image in images if any(info.image_id == image.id for info, _ in items)]


def import_masks(
    db: Session, project_id: int, path: Path, fmt: str, user_id: int | None, upload_name: str | None = None
) -> int:
    """Add the masks of a COCO / YOLO-seg / SA-1B file as accepted annotations; returns how many were new.

    Importing the same file again adds nothing (idempotency keys from the file's hash).
    """
    if fmt not in MASK_IMPORT_FORMATS:
        raise Invalid(f"format must be one of {MASK_IMPORT_FORMATS}, got {fmt!r}", "format")
    by_name = {image.file_name: image for image in project_images(db, project_id)}
    by_stem = {Path(name).stem: image for name, image in by_name.items()}
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    if fmt == "yolo":
        image = by_stem.get(Path(upload_name or path.name).stem)
        if image is None:
            raise Invalid(f"no project image has the stem of {upload_name or path.name!r}", "file")
        pairs = [
            (image, records)
            for _, records in read_records(path, "yolo", "coco_rle", (image.height, image.width))
        ]
    else:
        pairs = []
        for info, records in read_records(path, fmt, "coco_rle"):
            image = by_name.get(info.file_name) or by_stem.get(Path(info.file_name).stem)
            if image is None:
                raise Invalid(f"no project image is named {info.file_name!r}", "file")
            pairs.append((image, records))
    added = 0
    for image, records in pairs:
        for index, record in enumerate(records):
            new = NewAnnotation(
                segmentation=record["segmentation"],
                predicted_iou=record.get("predicted_iou"),
                stability_score=record.get("stability_score"),
                idempotency_key=f"import:{digest}:{image.id}:{index}",
                imported=True,
            )
            _, created = annotating.create(db, image, new, user_id)
            added += created
    return added


def read_detector_boxes(
    db: Session, project_id: int, path: Path, fmt: str, upload_name: str | None = None
) -> dict[str, list[list[Any]]]:
    """A detector's boxes as a boxes job's parameters: {image id: [[x0, y0, x1, y1, label, score], ...]} (XYXY)."""
    if fmt not in BOX_IMPORT_FORMATS:
        raise Invalid(f"format must be one of {BOX_IMPORT_FORMATS}, got {fmt!r}", "format")
    images = project_images(db, project_id)
    if fmt == "yolo_boxes":
        return _yolo_boxes(images, path, upload_name or path.name)
    return _coco_boxes(images, path)


def _coco_boxes(images: list[Image], path: Path) -> dict[str, list[list[Any]]]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        by_name = {image.file_name: image for image in images}
        categories = {entry["id"]: entry.get("name") for entry in document.get("categories", [])}
        files = {entry["id"]: entry["file_name"] for entry in document["images"]}
        boxes: dict[str, list[list[Any]]] = {}
        for k, entry in enumerate(document["annotations"]):
            image = by_name.get(files.get(entry["image_id"], ""))
            if image is None:
                raise Invalid(f"annotations[{k}]: image {entry['image_id']!r} is not a project image", "file")
            x, y, w, h = (float(value) for value in entry["bbox"])  # XYWH in COCO
            if w <= 0 or h <= 0:
                raise Invalid(
                    f"annotations[{k}].bbox must have positive width and height, got {entry['bbox']}", "file"
                )
            boxes.setdefault(str(image.id), []).append(
                [x, y, x + w, y + h, categories.get(entry.get("category_id")), entry.get("score")]
            )
    except (KeyError, TypeError, ValueError, UnicodeDecodeError) as exc:
        if isinstance(exc, Invalid):
            raise
        raise Invalid(
            f"not a COCO detection json with images, annotations[].bbox (XYWH): {exc!r}", "file"
        ) from None
    return boxes


def _yolo_boxes(images: list[Image], path: Path, name: str) -> dict[str, list[list[Any]]]:
    image = {Path(item.file_name).stem: item for item in images}.get(Path(name).stem)
    if image is None:
        raise Invalid(f"no project image has the stem of {name!r}", "file")
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        try:
            values = [float(part) for part in parts[1:6]]
            if len(values) < 4 or not all(0.0 <= value <= 1.0 for value in values[:4]):
                raise ValueError
        except ValueError:
            raise Invalid(
                f"{name} line {number}: expected 'class cx cy w h [score]' normalised to [0, 1], "
                f"got {line!r}",
                "file",
            ) from None
        cx, cy, w, h = (
            values[0] * image.width,
            values[1] * image.height,
            values[2] * image.width,
            values[3] * image.height,
        )
        rows.append(
            [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2, parts[0], values[4] if len(values) > 4 else None]
        )
    return {str(image.id): rows}


def _record(row: Annotation) -> dict[str, Any]:
    return {
        "segmentation": {"size": [row.height, row.width], "counts": row.rle_counts},
        "area": row.area,
        "bbox": row.bbox["xywh"],
        "predicted_iou": row.predicted_iou,
        "stability_score": row.stability_score,
    }


def unique_names(images: list[Image]) -> dict[int, str]:
    """File names for export; images sharing a stem get their id in front (per-image outputs must differ)."""
    stems: dict[str, int] = {}
    for image in images:
        stems[Path(image.file_name).stem] = stems.get(Path(image.file_name).stem, 0) + 1
    return {
        image.id: image.file_name
        if stems[Path(image.file_name).stem] == 1
        else f"{image.id}_{image.file_name}"
        for image in images
    }

"""COCO instances json for a set of images, with one class-agnostic category.

Layout::

    {"info": {...}, "images": [{"id", "width", "height", "file_name"}],
     "categories": [{"id": 1, "name": "object", "supercategory": "object"}],
     "annotations": [{"id", "image_id", "category_id": 1, "iscrowd": 0,
                      "segmentation": COCO compressed RLE {"size": [h, w], "counts": str}
                                      or polygons [[x1, y1, x2, y2, ...], ...],
                      "area": int (mask pixels, also for polygons), "bbox": [x, y, w, h] (XYWH),
                      "score": predicted_iou (COCO results convention; omitted when unknown),
                      "predicted_iou", "stability_score", "point_coords": [[x, y]],
                      "crop_box": [x, y, w, h] (XYWH)}]}

Polygons (``polygons=True``) come from ``polygons.mask_to_polygons`` (holes bridged in, so each outer outline
is one polygon), shifted by +0.5 into COCO's frame where pixel x covers [x, x + 1). pycocotools rasterises
them back to exactly the source mask, and reading uses pycocotools too, so standard COCO polygons read as
COCO tools see them. A mask with no polygon (an empty mask) is written as RLE even with ``polygons=True``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pycocotools import mask as coco_mask

from segany.formats.files import FormatError, PathLike, load_json, write_json
from segany.formats.masks_codec import check_output_mode, convert_segmentation
from segany.formats.polygons import mask_to_polygons
from segany.formats.records import ImageInfo, MaskRecord, normalize_record, normalize_records

ImageRecords = tuple[ImageInfo | Mapping[str, Any], Sequence[Mapping[str, Any]]]  # (image_info, records)
CATEGORY_ID = 1


def coco_document(
    items: Iterable[ImageRecords], polygons: bool = False, category_name: str = "object"
) -> dict[str, Any]:
    """Build the COCO json document (a dict) for ``(image_info, records)`` pairs; annotation ids run 1, 2, ...

    Raises:
        ValueError / TypeError: two images share an image_id, or a record does not fit its image.
    """
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    seen: dict[int, str] = {}
    for position, (image_info, records) in enumerate(items):
        image = ImageInfo.coerce(image_info, where=f"items[{position}] image_info")
        if image.image_id in seen:
            raise ValueError(
                f"image_id {image.image_id} is used by both {seen[image.image_id]!r} and "
                f"{image.file_name!r}; COCO needs a distinct image_id per image"
            )
        seen[image.image_id] = image.file_name
        images.append(
            {"id": image.image_id, "width": image.width, "height": image.height, "file_name": image.file_name}
        )
        for record in normalize_records(records, image, name=f"records of {image.file_name!r}"):
            annotations.append(_annotation(record, len(annotations) + 1, image.image_id, polygons))
    return {
        "info": {"description": "segany masks", "version": "1.0"},
        "images": images,
        "annotations": annotations,
        "categories": [{"id": CATEGORY_ID, "name": category_name, "supercategory": category_name}],
    }


def write_coco(
    items: Iterable[ImageRecords], path: PathLike, polygons: bool = False, category_name: str = "object"
) -> Path:
    """Write ``(image_info, records)`` pairs as one COCO instances json file; returns the path."""
    return write_json(coco_document(items, polygons, category_name), Path(path))


def read_coco(
    path: PathLike, output_mode: str = "binary_mask"
) -> list[tuple[ImageInfo, list[dict[str, Any]]]]:
    """Read a COCO instances json into per-image records, in the file's image order.

    Args:
        path: the json file.
        output_mode: form of each ``segmentation``: "binary_mask" (H x W bool), "coco_rle" or
            "uncompressed_rle".

    Returns:
        [(image info, records)]; each record has the official generator keys plus ``id`` and ``category_id``;
        ``predicted_iou`` falls back to ``score``; fields the file lacks are None (area / bbox are computed).

    Raises:
        FormatError: not json, not the COCO layout, or an annotation that does not fit its image.
    """
    check_output_mode(output_mode)
    file = Path(path)
    document = load_json(file)
    if not isinstance(document, dict):
        raise FormatError(f"{file}: expected a COCO json object, got {type(document).__name__}")
    for key in ("images", "annotations"):
        if not isinstance(document.get(key), list):
            raise FormatError(f"{file}: {key!r} must be a list, got {type(document.get(key)).__name__}")
    try:
        per_image: dict[int, tuple[ImageInfo, list[dict[str, Any]]]] = {}
        for k, entry in enumerate(document["images"]):
            if not isinstance(entry, dict) or "id" not in entry:
                raise FormatError(f"images[{k}] must be an object with 'id', 'width', 'height', 'file_name'")
            fields = {
                "image_id": entry["id"],
                **{key: entry.get(key) for key in ("width", "height", "file_name")},
            }
            image = ImageInfo.coerce(fields, where=f"images[{k}]")
            per_image[image.image_id] = (image, [])
        for k, annotation in enumerate(document["annotations"]):
            if not isinstance(annotation, dict):
                raise FormatError(f"annotations[{k}] must be an object, got {type(annotation).__name__}")
            image_id = annotation.get("image_id")
            if image_id not in per_image:
                raise ValueError(f"annotations[{k}] has image_id {image_id!r}, which is not in 'images'")
            image, records = per_image[image_id]
            records.append(_read_annotation(annotation, image, f"annotations[{k}]", output_mode))
    except (TypeError, ValueError) as exc:
        raise FormatError(f"{file}: {exc}") from exc
    return list(per_image.values())


def _annotation(record: MaskRecord, annotation_id: int, image_id: int, polygons: bool) -> dict[str, Any]:
    segmentation: Any = None
    if polygons:
        outlines = mask_to_polygons(record.mask())
        if outlines:
            segmentation = [[float(v) for v in (outline + 0.5).ravel()] for outline in outlines]
    annotation: dict[str, Any] = {
        "id": annotation_id,
        "image_id": image_id,
        "category_id": CATEGORY_ID,
        "iscrowd": 0,
        "segmentation": record.coco_rle() if segmentation is None else segmentation,
        "area": record.area,
        "bbox": record.bbox,
    }
    if record.predicted_iou is not None:
        annotation["score"] = record.predicted_iou
    annotation.update(
        predicted_iou=record.predicted_iou,
        stability_score=record.stability_score,
        point_coords=record.point_coords,
        crop_box=record.crop_box,
    )
    return annotation


def _read_annotation(
    annotation: Mapping[str, Any], image: ImageInfo, where: str, output_mode: str
) -> dict[str, Any]:
    fields = dict(annotation)
    if fields.get("predicted_iou") is None and fields.get("score") is not None:
        fields["predicted_iou"] = fields["score"]
    segmentation = fields.get("segmentation")
    if isinstance(segmentation, list):  # polygons: [[x1, y1, x2, y2, ...], ...] in COCO's frame
        flats = [
            _checked_polygon(flat, image, f"{where}['segmentation'][{i}]")
            for i, flat in enumerate(segmentation)
        ]
        if not flats:
            raise ValueError(f"{where}['segmentation'] is an empty polygon list")
        rles = coco_mask.frPyObjects(flats, image.height, image.width)
        fields["segmentation"] = coco_mask.merge(rles)  # compressed RLE, decoded (and checked) below
    record = normalize_record(fields, image, where)
    return {
        **record.to_dict(convert_segmentation(record.segmentation, output_mode, f"{where}['segmentation']")),
        "id": annotation.get("id"),
        "category_id": annotation.get("category_id"),
    }


def _checked_polygon(flat: Any, image: ImageInfo, where: str) -> list[float]:
    """A flat [x1, y1, ...] polygon with >= 3 finite points near the image (pycocotools trusts its input)."""
    if not isinstance(flat, list) or len(flat) % 2 or len(flat) < 6:
        size = f"{len(flat)} values" if isinstance(flat, list) else type(flat).__name__
        raise ValueError(
            f"{where} must be a flat list [x1, y1, x2, y2, ...] of at least 3 points, got {size}"
        )
    try:
        points = np.asarray(flat, dtype=np.float64).reshape(-1, 2)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where} must hold numbers ({exc})") from exc
    limits = np.array([image.width, image.height], dtype=np.float64)
    if not np.isfinite(points).all() or (points < -limits).any() or (points > 2 * limits).any():
        raise ValueError(
            f"{where} has coordinates outside the image's neighbourhood "
            f"(image {image.width}x{image.height} WxH)"
        )
    return [float(v) for v in points.ravel()]

"""SA-1B per-image json: ``{"image": {...}, "annotations": [...]}``, as distributed with the SA-1B dataset.

Layout::

    {"image": {"image_id": int, "width": int, "height": int, "file_name": str},
     "annotations": [{"id": int, "segmentation": {"size": [h, w], "counts": str},  # COCO compressed RLE
                      "bbox": [x, y, w, h],           # XYWH pixels
                      "area": int, "predicted_iou": float, "stability_score": float,
                      "crop_box": [x, y, w, h],       # XYWH pixels
                      "point_coords": [[x, y]]}]}

Fields a record lacks are written as null and read back as None.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from segany.formats.files import FormatError, PathLike, load_json, write_json
from segany.formats.masks_codec import check_output_mode, convert_segmentation
from segany.formats.records import ImageInfo, normalize_records


def sa1b_document(
    records: Sequence[Mapping[str, Any]], image_info: ImageInfo | Mapping[str, Any], first_id: int = 1
) -> dict[str, Any]:
    """Build the SA-1B json document (a dict) for one image; annotation ids are first_id, first_id + 1, ..."""
    image = ImageInfo.coerce(image_info)
    annotations = []
    for offset, record in enumerate(normalize_records(records, image)):
        annotations.append(
            {
                "id": first_id + offset,
                "segmentation": record.coco_rle(),
                "bbox": record.bbox,
                "area": record.area,
                "predicted_iou": record.predicted_iou,
                "stability_score": record.stability_score,
                "crop_box": record.crop_box,
                "point_coords": record.point_coords,
            }
        )
    return {"image": image.to_dict(), "annotations": annotations}


def write_sa1b(
    records: Sequence[Mapping[str, Any]],
    image_info: ImageInfo | Mapping[str, Any],
    path: PathLike,
    first_id: int = 1,
) -> Path:
    """Write one image's records as an SA-1B json file (parent folders created); returns the path."""
    return write_json(sa1b_document(records, image_info, first_id), Path(path))


def read_sa1b(path: PathLike, output_mode: str = "binary_mask") -> tuple[ImageInfo, list[dict[str, Any]]]:
    """Read an SA-1B json file.

    Args:
        path: the json file.
        output_mode: form of each record's ``segmentation``: "binary_mask" (H x W bool), "coco_rle" (kept
            compressed; cheap for SA-1B's ~100 masks of ~1500 x 2250) or "uncompressed_rle".

    Returns:
        (image info, records): official generator records plus each annotation's ``id``.

    Raises:
        FormatError: not json, or not the SA-1B layout; the message names the file and what is wrong.
    """
    check_output_mode(output_mode)
    file = Path(path)
    document = load_json(file)
    if not isinstance(document, dict) or not isinstance(document.get("image"), dict):
        raise FormatError(f"{file}: expected an SA-1B json object with 'image' and 'annotations'")
    annotations = document.get("annotations")
    if not isinstance(annotations, list):
        raise FormatError(f"{file}: 'annotations' must be a list, got {type(annotations).__name__}")
    try:
        image = ImageInfo.coerce(document["image"], where=f"{file}: 'image'")
        records = normalize_records(annotations, image, name="annotations")
        return image, [
            {
                **record.to_dict(convert_segmentation(record.segmentation, output_mode)),
                "id": annotation.get("id"),
            }
            for record, annotation in zip(records, annotations)
        ]
    except (TypeError, ValueError) as exc:
        raise FormatError(f"{file}: {exc}") from exc

"""Boxes given per image (a detector's output) for ``segany auto --boxes``: each box becomes one mask.

File forms (XYXY pixels of the original image, as ``SamPredictor.predict_boxes`` takes them):

- JSON Lines, one image per line: ``{"id": "sub/photo.jpg", "boxes": [[x0, y0, x1, y1], ...]}``;
- one JSON object: ``{"sub/photo.jpg": [[x0, y0, x1, y1], ...], ...}``;
- a COCO json, as detectors export their detections: ``images`` (``id``, ``file_name``) and ``annotations``
  (``image_id``, ``bbox`` in COCO's XYWH pixels, converted here); the ``file_name`` is the run's image id.

Ids are the run's image ids (see :mod:`segany.auto.manifest`). An image without boxes gets no masks. The
boxes' values are checked here for shape and finiteness; their geometry (x1 >= x0, inside the image) is
checked by the predictor, whose error then becomes that image's error row.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from segany.auto.manifest import ManifestError
from segany.auto.settings import sha256_json

Box = tuple[float, float, float, float]  # XYXY pixels


def read_boxes(path: str | Path) -> dict[str, list[Box]]:
    """Boxes per image id from a JSON Lines or JSON file (see the module docstring).

    Raises:
        ManifestError: unreadable file, bad json, a box that is not 4 finite numbers, an id given twice.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"--boxes: cannot read {file} ({exc})") from exc
    stripped = text.lstrip()
    if stripped.startswith("{") and "\n{" not in stripped:
        document = _parse(text, f"{file}")
        if not isinstance(document, dict):
            raise ManifestError(f"--boxes {file}: expected an object {{id: [[x0, y0, x1, y1], ...]}}")
        if "images" in document and "annotations" in document:
            return _coco_boxes(document, file)
        pairs = list(document.items())
    else:
        pairs = []
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                row = _parse(line, f"{file} line {number}")
                if not isinstance(row, dict) or "id" not in row or "boxes" not in row:
                    raise ManifestError(
                        f'--boxes {file} line {number}: expected {{"id": ..., "boxes": [...]}}'
                    )
                pairs.append((row["id"], row["boxes"]))
    boxes: dict[str, list[Box]] = {}
    for image_id, value in pairs:
        key = str(image_id)
        if key in boxes:
            raise ManifestError(f"--boxes {file}: id {key!r} is given twice")
        boxes[key] = _check_boxes(value, f"--boxes {file}: id {key!r}")
    return boxes


def boxes_digest(boxes: dict[str, list[Box]]) -> str:
    """sha256 of the boxes (canonical json), for the run's settings hash."""
    return sha256_json({key: [list(box) for box in value] for key, value in boxes.items()})


def _coco_boxes(document: dict[str, Any], file: Path) -> dict[str, list[Box]]:
    """Boxes of a COCO json by file_name, XYWH -> XYXY; every listed image gets a key (maybe no boxes)."""
    try:
        names = {entry["id"]: str(entry["file_name"]) for entry in document["images"]}
        annotations = list(document["annotations"])
    except (KeyError, TypeError) as exc:
        raise ManifestError(
            f"--boxes {file}: a COCO json needs images[].id, images[].file_name and annotations[] ({exc!r})"
        ) from None
    if len(set(names.values())) != len(names):
        raise ManifestError(f"--boxes {file}: two COCO images have the same file_name")
    boxes: dict[str, list[Box]] = {name: [] for name in names.values()}
    for index, annotation in enumerate(annotations):
        where = f"--boxes {file}: annotations[{index}]"
        if not isinstance(annotation, dict) or annotation.get("image_id") not in names:
            raise ManifestError(f"{where} needs an image_id listed in images, got {annotation!r}"[:300])
        ((x, y, w, h),) = _check_boxes([annotation.get("bbox")], f"{where}['bbox'] (XYWH)")
        if w < 0 or h < 0:
            raise ManifestError(f"{where}['bbox'] (XYWH) needs w, h >= 0, got {annotation['bbox']!r}")
        boxes[names[annotation["image_id"]]].append((x, y, x + w, y + h))
    return boxes


def _parse(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ManifestError(f"--boxes {where}: not valid json ({exc})") from exc


def _check_boxes(value: Any, where: str) -> list[Box]:
    if not isinstance(value, list):
        raise ManifestError(
            f"{where}: boxes must be a list of [x0, y0, x1, y1] (XYXY pixels), got {value!r}"[:300]
        )
    checked = []
    for index, box in enumerate(value):
        if (
            not isinstance(box, list)
            or len(box) != 4
            or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in box
            )
        ):
            raise ManifestError(
                f"{where}: box {index} must be 4 finite numbers [x0, y0, x1, y1], got {box!r}"[:300]
            )
        checked.append((float(box[0]), float(box[1]), float(box[2]), float(box[3])))
    return checked

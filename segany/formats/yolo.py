"""YOLO-seg label file: one text line per mask, ``class x1 y1 x2 y2 ...``.

Vertices are pixel-index (x, y) coordinates (see ``polygons``), clamped to the image's pixel centres
[0, W - 1] x [0, H - 1] and divided by the image width and height, written with 6 decimals (so in [0, 1)).
YOLO-seg has one polygon per object, so a mask's holes and separate parts are joined into one polygon by
zero-width bridges (``polygons.mask_to_polygons`` then ``polygons.merge_polygons``). Reading rasterises with
``cv2.fillPoly`` after scaling by the image size, as Ultralytics does: a mask in one piece (holes included)
comes back exactly, and each bridge between separate parts adds a 1-pixel line across the background between
them. Empty masks have no polygon and are not written (the file then has fewer lines than there are records).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from segany.formats.files import FormatError, PathLike
from segany.formats.masks_codec import check_output_mode, convert_segmentation
from segany.formats.polygons import mask_to_polygons, merge_polygons, polygons_to_mask
from segany.formats.records import ImageInfo, mask_bbox_xywh, normalize_records

_DECIMALS = 6
_COORDINATE_TOLERANCE = 1e-3  # normalised coordinates slightly outside [0, 1] are accepted (and clipped)


def yolo_lines(
    records: Sequence[Mapping[str, Any]], image_info: ImageInfo | Mapping[str, Any], class_id: int = 0
) -> list[str]:
    """The YOLO-seg lines (without newlines) for one image's records; masks without a polygon are skipped."""
    image = ImageInfo.coerce(image_info)
    if isinstance(class_id, bool) or not isinstance(class_id, int) or class_id < 0:
        raise ValueError(f"class_id must be a non-negative int, got {class_id!r}")
    scale = np.array([image.width, image.height], dtype=np.float64)
    lines = []
    for record in normalize_records(records, image):
        polygon = merge_polygons(mask_to_polygons(record.mask()))
        if len(polygon) < 3:
            continue
        # Outlines run a quarter pixel outside the border pixels; clamping to the pixel centres at the image
        # edge keeps the values in [0, 1) (Ultralytics rejects negatives) and rounds to the same pixels.
        inside = np.clip(polygon, 0.0, scale - 1.0)
        coordinates = " ".join(f"{value:.{_DECIMALS}f}" for value in (inside / scale).ravel())
        lines.append(f"{class_id} {coordinates}")
    return lines


def write_yolo(
    records: Sequence[Mapping[str, Any]],
    image_info: ImageInfo | Mapping[str, Any],
    path: PathLike,
    class_id: int = 0,
) -> Path:
    """Write one image's masks as a YOLO-seg ``.txt`` label file (parent folders created); returns it."""
    out = Path(path)
    text = "".join(f"{line}\n" for line in yolo_lines(records, image_info, class_id))
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_name(f".{out.name}.tmp{os.getpid()}")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, out)
    return out


def read_yolo(
    path: PathLike,
    image_size: tuple[int, int],
    output_mode: str = "binary_mask",
    file_name: str | None = None,
) -> tuple[ImageInfo, list[dict[str, Any]]]:
    """Read a YOLO-seg label file, rasterising each polygon at ``image_size``.

    Args:
        path: the ``.txt`` file.
        image_size: (H, W) of the image the labels belong to (the file does not store it).
        output_mode: form of each ``segmentation``: "binary_mask" (H x W bool), "coco_rle" or
            "uncompressed_rle".
        file_name: recorded in the returned ImageInfo; default the label file's stem.

    Returns:
        (image info, records): ``segmentation``, ``area`` and ``bbox`` (XYWH, computed from the mask) and
        ``class_id``; the fields YOLO does not store are None.

    Raises:
        FormatError: a line is not ``class x1 y1 ... xn yn`` with n >= 3 coordinates in [0, 1].
    """
    check_output_mode(output_mode)
    height, width = _image_size(image_size)
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FormatError(f"{file}: file not found") from None
    except UnicodeDecodeError as exc:
        raise FormatError(f"{file}: not a text file ({exc})") from exc
    image = ImageInfo(file_name=file.stem if file_name is None else file_name, width=width, height=height)
    scale = np.array([width, height], dtype=np.float64)
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        class_id, points = _parse_line(line, f"{file} line {number}")
        mask = polygons_to_mask([points * scale], height, width)
        records.append(
            {
                "segmentation": convert_segmentation(mask, output_mode),
                "area": int(mask.sum()),
                "bbox": mask_bbox_xywh(mask),
                "predicted_iou": None,
                "point_coords": None,
                "stability_score": None,
                "crop_box": None,
                "class_id": class_id,
            }
        )
    return image, records


def _parse_line(line: str, where: str) -> tuple[int, np.ndarray]:
    """``class x1 y1 ...`` -> (class id, N x 2 normalised (x, y) array)."""
    tokens = line.split()
    if not tokens[0].isdigit():
        raise FormatError(f"{where}: class must be a non-negative int, got {tokens[0]!r}")
    values = tokens[1:]
    if len(values) % 2 or len(values) < 6:
        hint = " (4 values is a YOLO detection box, not a segmentation polygon)" if len(values) == 4 else ""
        raise FormatError(
            f"{where}: expected 'class x1 y1 x2 y2 ...' with at least 3 (x, y) pairs, got {len(values)} "
            f"coordinate values{hint}"
        )
    try:
        numbers = [float(value) for value in values]
    except ValueError as exc:
        raise FormatError(f"{where}: coordinates must be numbers ({exc})") from None
    if not all(
        math.isfinite(v) and -_COORDINATE_TOLERANCE <= v <= 1 + _COORDINATE_TOLERANCE for v in numbers
    ):
        raise FormatError(f"{where}: coordinates must be normalised to [0, 1] by the image width and height")
    return int(tokens[0]), np.clip(np.asarray(numbers, dtype=np.float64), 0.0, 1.0).reshape(-1, 2)


def _image_size(image_size: Any) -> tuple[int, int]:
    if (
        not isinstance(image_size, (tuple, list))
        or len(image_size) != 2
        or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v > 0 for v in image_size)
    ):
        raise ValueError(f"image_size must be (H, W) with positive ints, got {image_size!r}")
    return int(image_size[0]), int(image_size[1])

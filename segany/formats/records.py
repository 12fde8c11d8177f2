"""Validated views of the automatic mask generator's records and of the image they belong to.

A record (``SamAutomaticMaskGenerator.generate`` output) is a dict with ``segmentation`` (H x W bool array or
either RLE form), ``area`` (int, pixels), ``bbox`` (XYWH), ``predicted_iou``, ``point_coords`` ([[x, y]]
pixels), ``stability_score`` and ``crop_box`` (XYWH). Only ``segmentation`` is required here: a missing
``area`` or ``bbox`` is computed from the mask, the other fields become ``None`` and are written as null /
empty cells. Numbers keep their kind (ints stay ints) so a write -> read round trip gives equal values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from segany.formats.masks_codec import (
    MaskFormatError,
    Segmentation,
    rle_runs,
    segmentation_to_coco_rle,
    segmentation_to_mask,
)
from segany.geometry import mask_box_xyxy

Number = int | float


@dataclass(frozen=True)
class ImageInfo:
    """The image a set of records belongs to: file name, size in pixels (width = x extent, height = y
    extent)."""

    file_name: str
    width: int
    height: int
    image_id: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.file_name, str):
            raise TypeError(f"ImageInfo.file_name must be a str, got {type(self.file_name).__name__}")
        for name in ("width", "height", "image_id"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise TypeError(f"ImageInfo.{name} must be an int, got {type(value).__name__}")
            object.__setattr__(self, name, int(value))
        if self.width <= 0 or self.height <= 0:
            raise ValueError(
                f"ImageInfo width and height must be positive, got {self.width}x{self.height} (WxH)"
            )

    @classmethod
    def coerce(cls, value: ImageInfo | Mapping[str, Any], where: str = "image_info") -> ImageInfo:
        """Accept an ImageInfo or a mapping with ``file_name``, ``width``, ``height`` (and ``image_id``)."""
        if isinstance(value, ImageInfo):
            return value
        if not isinstance(value, Mapping):
            raise TypeError(f"{where} must be an ImageInfo or a dict, got {type(value).__name__}")
        missing = [key for key in ("file_name", "width", "height") if key not in value]
        if missing:
            raise ValueError(
                f"{where} needs keys 'file_name', 'width', 'height' (and optionally 'image_id'); "
                f"missing {missing}, given {sorted(map(str, value))}"
            )
        try:
            return cls(value["file_name"], value["width"], value["height"], value.get("image_id", 1))
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"{where}: {exc}") from exc

    def to_dict(self) -> dict[str, Any]:
        """SA-1B / COCO style ``{"image_id", "width", "height", "file_name"}``."""
        return {
            "image_id": self.image_id,
            "width": self.width,
            "height": self.height,
            "file_name": self.file_name,
        }


@dataclass(frozen=True)
class MaskRecord:
    """One validated record. ``segmentation`` is kept in the form given (bool array or RLE dict)."""

    segmentation: Segmentation
    area: int
    bbox: list[Number]  # XYWH
    predicted_iou: float | None
    point_coords: list[list[Number]] | None  # [[x, y], ...] pixels
    stability_score: float | None
    crop_box: list[Number] | None  # XYWH

    def mask(self) -> np.ndarray:
        """H x W bool mask."""
        return segmentation_to_mask(self.segmentation)

    def coco_rle(self) -> dict[str, Any]:
        """COCO compressed RLE ``{"size": [h, w], "counts": str}``."""
        return segmentation_to_coco_rle(self.segmentation)

    def to_dict(self, segmentation: Any) -> dict[str, Any]:
        """The official record dict with ``segmentation`` replaced by the given value."""
        return {
            "segmentation": segmentation,
            "area": self.area,
            "bbox": list(self.bbox),
            "predicted_iou": self.predicted_iou,
            "point_coords": None if self.point_coords is None else [list(p) for p in self.point_coords],
            "stability_score": self.stability_score,
            "crop_box": None if self.crop_box is None else list(self.crop_box),
        }


def normalize_records(
    records: Sequence[Mapping[str, Any]], image: ImageInfo, name: str = "records"
) -> list[MaskRecord]:
    """Validate generator records against ``image`` (mask size must be image.height x image.width).

    ``name`` is how errors call the list (``records[3]['bbox'] ...``).

    Raises:
        TypeError / ValueError: naming ``records[i]`` and the field, for a missing segmentation, a mask or RLE
            size that is not the image size, malformed RLE, or a field of the wrong type or length.
    """
    if isinstance(records, Mapping) or not isinstance(records, Sequence):
        raise TypeError(f"{name} must be a list of record dicts, got {type(records).__name__}")
    return [normalize_record(record, image, f"{name}[{i}]") for i, record in enumerate(records)]


def mask_bbox_xywh(mask: np.ndarray) -> list[int]:
    """Tight XYWH box of an H x W bool mask, the way SAM's generator computes it.

    ``w = x_max - x_min`` and ``h = y_max - y_min`` with inclusive pixel indices (so a single pixel has w = h
    = 0, one less than COCO's pixel-extent convention); an empty mask gives [0, 0, 0, 0].
    """
    box = mask_box_xyxy(np.asarray(mask, dtype=bool))
    if box is None:
        return [0, 0, 0, 0]
    x0, y0, x1, y1 = box
    return [x0, y0, x1 - x0, y1 - y0]


def normalize_record(record: Mapping[str, Any], image: ImageInfo, where: str = "record") -> MaskRecord:
    """Validate one record against ``image``; errors name it as ``where`` (see ``normalize_records``)."""
    if not isinstance(record, Mapping):
        raise TypeError(f"{where} must be a dict with a 'segmentation' key, got {type(record).__name__}")
    if "segmentation" not in record:
        raise ValueError(
            f"{where} has no 'segmentation' (expected an H x W bool mask or an RLE dict); "
            f"keys given: {sorted(map(str, record))}"
        )
    segmentation = record["segmentation"]
    shape = (image.height, image.width)
    where_seg = f"{where}['segmentation']"
    mask: np.ndarray | None = None
    if isinstance(segmentation, Mapping):
        height, width, _ = rle_runs(segmentation, where_seg)
        if (height, width) != shape:
            raise MaskFormatError(
                f"{where_seg} has RLE size {height}x{width} (HxW) but image {image.file_name!r} is "
                f"{image.height}x{image.width} (HxW)"
            )
    else:
        try:
            mask = segmentation_to_mask(segmentation, shape, where_seg)
        except MaskFormatError as exc:
            raise MaskFormatError(f"{exc} (image {image.file_name!r})") from exc
        segmentation = mask
    if record.get("area") is None or record.get("bbox") is None:
        mask = segmentation_to_mask(segmentation) if mask is None else mask
    if record.get("area") is None:
        assert mask is not None  # decoded just above
        area = int(mask.sum())
    else:
        area = _integer(record["area"], f"{where}['area']")
    bbox: list[Number]
    if record.get("bbox") is None:
        assert mask is not None  # decoded just above
        bbox = list(mask_bbox_xywh(mask))
    else:
        bbox = _numbers(record["bbox"], 4, f"{where}['bbox']")
    points = record.get("point_coords")
    return MaskRecord(
        segmentation=segmentation,
        area=area,
        bbox=bbox,
        predicted_iou=_optional_float(record.get("predicted_iou"), f"{where}['predicted_iou']"),
        point_coords=None if points is None else _points(points, f"{where}['point_coords']"),
        stability_score=_stability(record.get("stability_score"), f"{where}['stability_score']"),
        crop_box=None
        if record.get("crop_box") is None
        else _numbers(record["crop_box"], 4, f"{where}['crop_box']"),
    )


def _number(value: Any, where: str) -> Number:
    """A finite int or float as a Python scalar (numpy scalars unwrapped; ints stay ints)."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{where} must be a number, got bool")
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        if not math.isfinite(float(value)):
            raise ValueError(f"{where} must be finite, got {value}")
        return float(value)
    raise TypeError(f"{where} must be a number, got {type(value).__name__}")


def _integer(value: Any, where: str) -> int:
    number = _number(value, where)
    if isinstance(number, float):
        if not number.is_integer():
            raise ValueError(f"{where} must be a whole number of pixels, got {number}")
        return int(number)
    return number


def _optional_float(value: Any, where: str) -> float | None:
    return None if value is None else float(_number(value, where))


def _stability(value: Any, where: str) -> float | None:
    """A stability score, or None where it is undefined: the generator (as the official one) scores a mask that is
    empty at the lower threshold 0 / 0 = NaN, kept when the stability filter is off; JSON has no NaN, so such a
    score is written as null rather than refusing the whole image."""
    if isinstance(value, (float, np.floating)) and math.isnan(float(value)):
        return None
    return _optional_float(value, where)


def _numbers(value: Any, length: int, where: str) -> list[Number]:
    items = value.tolist() if isinstance(value, np.ndarray) else value
    if not isinstance(items, (list, tuple)) or len(items) != length:
        shape = np.shape(value) if isinstance(value, (list, tuple, np.ndarray)) else type(value).__name__
        raise ValueError(f"{where} must be {length} numbers, got {shape}")
    return [_number(item, f"{where}[{i}]") for i, item in enumerate(items)]


def _points(value: Any, where: str) -> list[list[Number]]:
    items = value.tolist() if isinstance(value, np.ndarray) else value
    if not isinstance(items, (list, tuple)):
        raise TypeError(f"{where} must be a list of [x, y] pairs (N x 2), got {type(value).__name__}")
    return [_numbers(point, 2, f"{where}[{i}]") for i, point in enumerate(items)]

"""records: validation of generator records and image info, with errors naming the record and field."""

from __future__ import annotations

import numpy as np
import pytest

from segany.formats import ImageInfo, mask_bbox_xywh
from segany.formats.records import normalize_records

IMAGE = ImageInfo("img.jpg", width=5, height=4)
MASK = np.zeros((4, 5), dtype=bool)
MASK[1:3, 1:4] = True


def test_numbers_keep_their_kind_and_numpy_scalars_are_unwrapped() -> None:
    record = {
        "segmentation": MASK,
        "area": np.int64(6),
        "bbox": np.array([1, 1, 2, 1]),
        "predicted_iou": np.float32(0.5),
        "point_coords": np.array([[2.5, 1.0]]),
        "stability_score": 1,
        "crop_box": (0, 0, 5, 4),
    }
    (checked,) = normalize_records([record], IMAGE)
    assert type(checked.area) is int and checked.bbox == [1, 1, 2, 1] and type(checked.bbox[0]) is int
    assert checked.predicted_iou == 0.5 and type(checked.predicted_iou) is float
    assert checked.point_coords == [[2.5, 1.0]] and checked.crop_box == [0, 0, 5, 4]
    assert checked.stability_score == 1.0 and type(checked.stability_score) is float


def test_missing_area_and_bbox_are_computed_sam_style() -> None:
    (checked,) = normalize_records([{"segmentation": MASK}], IMAGE)
    assert checked.area == 6 and checked.bbox == [1, 1, 2, 1]
    assert mask_bbox_xywh(np.zeros((3, 3), dtype=bool)) == [0, 0, 0, 0]
    single = np.zeros((3, 3), dtype=bool)
    single[2, 1] = True
    assert mask_bbox_xywh(single) == [1, 2, 0, 0]


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"bbox": [1, 2, 3]}, ValueError, r"records\[0\]\['bbox'\] must be 4 numbers, got \(3,\)"),
        ({"predicted_iou": float("nan")}, ValueError, r"records\[0\]\['predicted_iou'\] must be finite"),
        ({"predicted_iou": "high"}, TypeError, r"\['predicted_iou'\] must be a number, got str"),
        ({"area": 2.5}, ValueError, r"\['area'\] must be a whole number of pixels, got 2.5"),
        ({"area": True}, TypeError, r"\['area'\] must be a number, got bool"),
        ({"point_coords": [[1, 2, 3]]}, ValueError, r"\['point_coords'\]\[0\] must be 2 numbers"),
        ({"crop_box": "0,0,5,4"}, ValueError, r"\['crop_box'\] must be 4 numbers, got str"),
        (
            {"segmentation": np.zeros((5, 4), bool)},
            ValueError,
            r"is 5x4 \(HxW\) but the image is 4x5 \(HxW\)",
        ),
    ],
)
def test_bad_fields(change: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        normalize_records([{"segmentation": MASK, **change}], IMAGE)


def test_bad_record_containers() -> None:
    with pytest.raises(TypeError, match=r"records\[0\] must be a dict with a 'segmentation' key, got list"):
        normalize_records([[MASK]], IMAGE)  # type: ignore[list-item]
    with pytest.raises(ValueError, match=r"records\[0\] has no 'segmentation'"):
        normalize_records([{"area": 3}], IMAGE)


def test_image_info_validation() -> None:
    assert ImageInfo.coerce({"file_name": "a", "width": 3, "height": 2}) == ImageInfo("a", 3, 2, 1)
    with pytest.raises(ValueError, match="image_info needs keys .* missing \\['height'\\]"):
        ImageInfo.coerce({"file_name": "a", "width": 3})
    with pytest.raises(ValueError, match="image_info: ImageInfo width and height must be positive, got 0x2"):
        ImageInfo.coerce({"file_name": "a", "width": 0, "height": 2})
    with pytest.raises(TypeError, match="ImageInfo.width must be an int, got float"):
        ImageInfo("a", 3.0, 2)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="image_info must be an ImageInfo or a dict, got tuple"):
        ImageInfo.coerce(("a", 3, 2))  # type: ignore[arg-type]


def test_undefined_stability_of_an_empty_mask_is_written_as_null() -> None:
    """The generator scores a mask empty at the lower threshold 0 / 0 = NaN (as the official): stored as None
    (JSON null), while any other non-finite number stays an error."""
    empty = {"segmentation": np.zeros((4, 5), dtype=bool), "stability_score": np.float32("nan")}
    (checked,) = normalize_records([empty], IMAGE)
    assert checked.stability_score is None and checked.area == 0
    with pytest.raises(ValueError, match=r"\['stability_score'\] must be finite"):
        normalize_records([{**empty, "stability_score": float("inf")}], IMAGE)

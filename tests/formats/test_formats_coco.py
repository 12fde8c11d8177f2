"""COCO json: pycocotools' COCO API reads our files to the same masks; RLE and polygon round trips."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from formats_samples import make_records, photo_masks
from pycocotools.coco import COCO

from segany.formats import FormatError, ImageInfo, read_coco, write_coco

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
FIELDS = ("area", "bbox", "predicted_iou", "point_coords", "stability_score", "crop_box")


@pytest.fixture(scope="module")
def two_images() -> list[tuple[ImageInfo, list[dict[str, Any]]]]:
    dog = photo_masks("dog.jpg", thresholds=(100, 170), per_threshold=2)
    chelsea = photo_masks("chelsea.jpg", thresholds=(120,), per_threshold=3)
    return [
        (ImageInfo("images/dog.jpg", width=800, height=534, image_id=3), make_records(dog, seed=1)),
        (ImageInfo("images/chelsea.jpg", width=451, height=300, image_id=11), make_records(chelsea, seed=2)),
    ]


@pytest.mark.parametrize("polygons", [False, True])
def test_pycocotools_reads_the_same_masks(tmp_path: Path, two_images: list, polygons: bool) -> None:
    path = write_coco(two_images, tmp_path / "instances.json", polygons=polygons)
    api = COCO(str(path))
    assert api.getCatIds() == [1] and api.loadCats(1)[0]["name"] == "object"
    assert sorted(api.getImgIds()) == [3, 11]
    annotation_ids = []
    for image, records in two_images:
        annotations = api.loadAnns(api.getAnnIds(imgIds=[image.image_id]))
        assert len(annotations) == len(records)
        for annotation, record in zip(annotations, records):
            assert annotation["iscrowd"] == 0 and annotation["category_id"] == 1
            assert annotation["score"] == record["predicted_iou"]
            assert isinstance(annotation["segmentation"], list if polygons else dict)
            np.testing.assert_array_equal(api.annToMask(annotation).astype(bool), record["segmentation"])
            annotation_ids.append(annotation["id"])
    assert annotation_ids == list(range(1, len(annotation_ids) + 1))


@pytest.mark.parametrize("polygons", [False, True])
def test_round_trip(tmp_path: Path, two_images: list, polygons: bool) -> None:
    path = write_coco(two_images, tmp_path / "instances.json", polygons=polygons)
    result = read_coco(path)
    assert [image for image, _ in result] == [image for image, _ in two_images]
    for (_, got_records), (_, records) in zip(result, two_images):
        assert len(got_records) == len(records)
        for got, expected in zip(got_records, records):
            np.testing.assert_array_equal(got["segmentation"], expected["segmentation"])
            assert {k: got[k] for k in FIELDS} == {k: expected[k] for k in FIELDS}
            assert got["category_id"] == 1


def test_polygon_layout(tmp_path: Path, two_images: list) -> None:
    document = json.loads(write_coco(two_images, tmp_path / "p.json", polygons=True).read_text())
    for annotation in document["annotations"]:
        for polygon in annotation["segmentation"]:
            assert len(polygon) % 2 == 0 and len(polygon) >= 8
            assert all((2 * value) % 1 == 0.5 for value in polygon)  # quarter-pixel outline in COCO's frame


def test_foreign_coco_file_with_score_only(tmp_path: Path) -> None:
    document = {
        "images": [{"id": 5, "width": 6, "height": 4, "file_name": "x.jpg"}],
        "annotations": [
            {
                "id": 9,
                "image_id": 5,
                "category_id": 2,
                "score": 0.5,
                "segmentation": [[1.0, 1.0, 4.0, 1.0, 4.0, 3.0, 1.0, 3.0]],
            },  # pixels x 1..3, y 1..2
            {
                "id": 10,
                "image_id": 5,
                "category_id": 2,
                "segmentation": {"size": [4, 6], "counts": [4, 2, 18]},
            },
        ],
        "categories": [{"id": 2, "name": "thing"}],
    }
    (tmp_path / "gt.json").write_text(json.dumps(document))
    ((image, (first, second)),) = read_coco(tmp_path / "gt.json")
    assert image == ImageInfo("x.jpg", width=6, height=4, image_id=5)
    expected = np.zeros((4, 6), dtype=bool)
    expected[1:3, 1:4] = True
    np.testing.assert_array_equal(first["segmentation"], expected)
    assert first["predicted_iou"] == 0.5 and first["area"] == 6 and first["bbox"] == [1, 1, 2, 1]
    assert first["id"] == 9 and first["category_id"] == 2 and first["stability_score"] is None
    assert second["segmentation"][:, 0].tolist() == [False, False, False, False]
    assert second["segmentation"][:2, 1].tolist() == [True, True] and second["predicted_iou"] is None


def test_duplicate_image_ids(tmp_path: Path, two_images: list) -> None:
    (first_image, first_records), (second_image, second_records) = two_images
    clash = ImageInfo(second_image.file_name, second_image.width, second_image.height, image_id=3)
    with pytest.raises(
        ValueError, match="image_id 3 is used by both 'images/dog.jpg' and 'images/chelsea.jpg'"
    ):
        write_coco([(first_image, first_records), (clash, second_records)], tmp_path / "c.json")


@pytest.mark.parametrize(
    ("annotation", "message"),
    [
        (
            {"id": 1, "image_id": 99, "segmentation": [[0, 0, 1, 0, 1, 1]]},
            r"annotations\[0\] has image_id 99",
        ),
        ({"id": 1, "image_id": 5, "segmentation": [[0, 0, 1, 0]]}, "at least 3 points, got 4 values"),
        (
            {"id": 1, "image_id": 5, "segmentation": [[0, 0, 1e9, 0, 1, 1]]},
            "outside the image's neighbourhood",
        ),
        ({"id": 1, "image_id": 5, "segmentation": []}, "empty polygon list"),
        ({"id": 1, "image_id": 5}, r"annotations\[0\] has no 'segmentation'"),
    ],
)
def test_bad_annotations_name_the_file(tmp_path: Path, annotation: dict, message: str) -> None:
    document = {
        "images": [{"id": 5, "width": 6, "height": 4, "file_name": "x.jpg"}],
        "annotations": [annotation],
    }
    (tmp_path / "bad.json").write_text(json.dumps(document))
    with pytest.raises(FormatError, match=f"bad.json: .*{message}"):
        read_coco(tmp_path / "bad.json")

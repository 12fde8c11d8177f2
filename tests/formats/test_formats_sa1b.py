"""SA-1B per-image json: layout, pycocotools-decodable RLE, exact round trip, and errors naming the file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pycocotools import mask as coco_mask

from segany.formats import FormatError, ImageInfo, convert_segmentation, read_sa1b, write_sa1b

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
FIELDS = ("area", "bbox", "predicted_iou", "point_coords", "stability_score", "crop_box")


def test_layout_and_rle(
    tmp_path: Path, chelsea_records: list[dict[str, Any]], chelsea_info: ImageInfo
) -> None:
    path = write_sa1b(chelsea_records, chelsea_info, tmp_path / "sub" / "sa_7.json", first_id=100)
    document = json.loads(path.read_text())
    assert document["image"] == {"image_id": 7, "width": 451, "height": 300, "file_name": "chelsea.jpg"}
    assert [a["id"] for a in document["annotations"]] == list(range(100, 100 + len(chelsea_records)))
    for annotation, record in zip(document["annotations"], chelsea_records):
        assert set(annotation) == {"id", "segmentation", *FIELDS}
        rle = annotation["segmentation"]
        assert rle["size"] == [300, 451] and isinstance(rle["counts"], str)
        decoded = coco_mask.decode({"size": rle["size"], "counts": rle["counts"].encode()})
        np.testing.assert_array_equal(decoded.astype(bool), record["segmentation"])
        for field in FIELDS:
            assert annotation[field] == record[field], field


def test_round_trip(tmp_path: Path, chelsea_records: list[dict[str, Any]], chelsea_info: ImageInfo) -> None:
    path = write_sa1b(chelsea_records, chelsea_info, tmp_path / "a.json")
    image, records = read_sa1b(path)
    assert image == chelsea_info
    assert len(records) == len(chelsea_records)
    for got, expected in zip(records, chelsea_records):
        assert got["segmentation"].dtype == bool
        np.testing.assert_array_equal(got["segmentation"], expected["segmentation"])
        assert {k: got[k] for k in FIELDS} == {k: expected[k] for k in FIELDS}
        assert type(got["area"]) is int and type(got["bbox"][0]) is int
    _, compressed = read_sa1b(path, output_mode="coco_rle")
    assert compressed[0]["segmentation"] == json.loads(path.read_text())["annotations"][0]["segmentation"]


@pytest.mark.parametrize("mode", ["uncompressed_rle", "coco_rle"])
def test_rle_records_write_the_same_file(
    tmp_path: Path, chelsea_records: list[dict[str, Any]], chelsea_info: ImageInfo, mode: str
) -> None:
    as_rle = [{**r, "segmentation": convert_segmentation(r["segmentation"], mode)} for r in chelsea_records]
    from_masks = write_sa1b(chelsea_records, chelsea_info, tmp_path / "masks.json").read_text()
    assert write_sa1b(as_rle, chelsea_info, tmp_path / "rle.json").read_text() == from_masks


def test_missing_optional_fields_become_null(tmp_path: Path) -> None:
    mask = np.zeros((4, 5), dtype=bool)
    mask[1:3, 2:4] = True
    path = write_sa1b(
        [{"segmentation": mask}], {"file_name": "x.png", "width": 5, "height": 4}, tmp_path / "x.json"
    )
    annotation = json.loads(path.read_text())["annotations"][0]
    assert annotation["area"] == 4 and annotation["bbox"] == [2, 1, 1, 1]  # SAM's XYWH: x_max - x_min
    assert annotation["predicted_iou"] is None and annotation["crop_box"] is None
    _, (record,) = read_sa1b(path)
    assert record["point_coords"] is None and record["stability_score"] is None


def test_bad_records(tmp_path: Path, chelsea_records: list[dict[str, Any]], chelsea_info: ImageInfo) -> None:
    broken = [chelsea_records[0], {k: v for k, v in chelsea_records[1].items() if k != "segmentation"}]
    with pytest.raises(ValueError, match=r"records\[1\] has no 'segmentation' .* keys given: \['area'"):
        write_sa1b(broken, chelsea_info, tmp_path / "a.json")
    small = ImageInfo("chelsea.jpg", width=451, height=299)
    with pytest.raises(
        ValueError, match=r"records\[0\]\['segmentation'\] is 300x451 \(HxW\) but the image is 299x451"
    ):
        write_sa1b(chelsea_records, small, tmp_path / "a.json")
    rle = {
        **chelsea_records[0],
        "segmentation": convert_segmentation(chelsea_records[0]["segmentation"], "coco_rle"),
    }
    with pytest.raises(ValueError, match=r"RLE size 300x451 \(HxW\) but image 'chelsea.jpg' is 299x451"):
        write_sa1b([rle], small, tmp_path / "a.json")
    with pytest.raises(TypeError, match="records must be a list of record dicts, got dict"):
        write_sa1b(chelsea_records[0], chelsea_info, tmp_path / "a.json")  # type: ignore[arg-type]
    assert not (tmp_path / "a.json").exists()


def test_bad_files(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match="missing.json: file not found"):
        read_sa1b(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(FormatError, match="bad.json: not valid json"):
        read_sa1b(tmp_path / "bad.json")
    (tmp_path / "coco.json").write_text(json.dumps({"images": [], "annotations": []}))
    with pytest.raises(FormatError, match="coco.json: expected an SA-1B json object with 'image'"):
        read_sa1b(tmp_path / "coco.json")
    document = {
        "image": {"image_id": 1, "width": 3, "height": 2, "file_name": "a.jpg"},
        "annotations": [{"id": 1, "segmentation": {"size": [2, 3], "counts": [1, 2]}}],
    }
    (tmp_path / "short.json").write_text(json.dumps(document))
    with pytest.raises(
        FormatError, match=r"short.json: annotations\[0\]\['segmentation'\]: RLE run lengths sum to 3"
    ):
        read_sa1b(tmp_path / "short.json")

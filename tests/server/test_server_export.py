"""/export: every format decodes (pycocotools, PIL, zipfile) back to the posted masks."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from pycocotools import mask as coco_mask
from server_testing import FIXTURES_DIR, encode_rle, post_json

from segany.io import load_image

HEIGHT, WIDTH = 300, 451  # chelsea.jpg


def object_masks() -> list[np.ndarray]:
    """Three masks drawn here: an ellipse, a rectangle with a hole, and two separate squares."""
    ellipse = np.zeros((HEIGHT, WIDTH), np.uint8)
    cv2.ellipse(ellipse, (220, 150), (90, 60), 0, 0, 360, 1, -1)
    frame = np.zeros((HEIGHT, WIDTH), bool)
    frame[20:120, 300:440] = True
    frame[50:90, 340:400] = False
    parts = np.zeros((HEIGHT, WIDTH), bool)
    parts[200:240, 20:60] = True
    parts[250:290, 100:140] = True
    return [ellipse.astype(bool), frame, parts]


def objects(labels: tuple[str | None, ...] = ("cat", None, "cat")) -> list[dict[str, Any]]:
    return [
        {**encode_rle(mask), "label": label, "score": 0.5 + 0.1 * i}
        for i, (mask, label) in enumerate(zip(object_masks(), labels))
    ]


def export(client: TestClient, image_id: str, fmt: str, index: int | None = None, body: Any = None) -> Any:
    payload = body if body is not None else {"format": fmt, "objects": objects(), "index": index}
    return post_json(client, f"/api/images/{image_id}/export", payload)


def test_coco_decodes_with_pycocotools(client: TestClient, image_ids: dict[str, str]) -> None:
    response = export(client, image_ids["chelsea.jpg"], "coco")
    assert response.status_code == 200
    assert response.headers["content-disposition"] == 'attachment; filename="chelsea_coco.json"'
    document = json.loads(response.content)
    assert document["images"][0]["width"] == WIDTH and document["images"][0]["height"] == HEIGHT
    names = {category["id"]: category["name"] for category in document["categories"]}
    assert [names[a["category_id"]] for a in document["annotations"]] == ["cat", "object", "cat"]
    for annotation, mask in zip(document["annotations"], object_masks()):
        np.testing.assert_array_equal(coco_mask.decode(annotation["segmentation"]).astype(bool), mask)
        assert annotation["area"] == int(mask.sum())
    assert [a["score"] for a in document["annotations"]] == pytest.approx([0.5, 0.6, 0.7])


def test_sa1b_decodes_with_pycocotools(client: TestClient, image_ids: dict[str, str]) -> None:
    document = json.loads(export(client, image_ids["chelsea.jpg"], "sa1b").content)
    assert document["image"]["file_name"] == "chelsea.jpg"
    for annotation, mask in zip(document["annotations"], object_masks(), strict=True):
        np.testing.assert_array_equal(coco_mask.decode(annotation["segmentation"]).astype(bool), mask)


def test_masks_png_zip_decodes_with_pil(client: TestClient, image_ids: dict[str, str]) -> None:
    response = export(client, image_ids["chelsea.jpg"], "masks_png")
    assert response.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        for index, mask in enumerate(object_masks()):
            pixels = np.asarray(Image.open(io.BytesIO(archive.read(f"{index}.png"))))
            np.testing.assert_array_equal(pixels > 0, mask)
        assert archive.read("labels.csv").decode().splitlines() == ["index,label", "0,cat", "1,", "2,cat"]
        assert archive.read("metadata.csv").decode().startswith("id,area,")


def test_yolo_zip_has_classes_and_polygons(client: TestClient, image_ids: dict[str, str]) -> None:
    with zipfile.ZipFile(io.BytesIO(export(client, image_ids["chelsea.jpg"], "yolo").content)) as archive:
        assert archive.read("classes.txt").decode().split() == ["cat", "object"]
        lines = archive.read("chelsea.txt").decode().splitlines()
    assert [line.split()[0] for line in lines] == ["0", "1", "0"]
    # The ellipse, rasterised back from its normalised polygon, covers the drawn mask closely.
    values = np.array(lines[0].split()[1:], dtype=float).reshape(-1, 2) * [WIDTH, HEIGHT]
    drawn = np.zeros((HEIGHT, WIDTH), np.uint8)
    cv2.fillPoly(drawn, [np.round(values).astype(np.int32)], 1)
    ellipse = object_masks()[0]
    iou = (drawn.astype(bool) & ellipse).sum() / (drawn.astype(bool) | ellipse).sum()
    assert iou > 0.97


@pytest.mark.parametrize("index", [1, None])
def test_cutout_is_rgba_with_the_mask_as_alpha(
    client: TestClient, image_ids: dict[str, str], index: int | None
) -> None:
    response = export(client, image_ids["chelsea.jpg"], "cutout", index)
    assert response.headers["content-type"] == "image/png"
    cut = np.asarray(Image.open(io.BytesIO(response.content)))
    masks = object_masks()
    expected = masks[index] if index is not None else masks[0] | masks[1] | masks[2]
    assert cut.shape == (HEIGHT, WIDTH, 4)
    np.testing.assert_array_equal(cut[..., 3], expected.astype(np.uint8) * 255)
    np.testing.assert_array_equal(cut[..., :3], load_image(FIXTURES_DIR / "chelsea.jpg"))


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda body: body.update(format="png"), "format"),
        (lambda body: body.update(objects=[]), "objects"),
        (lambda body: body.update(index=7), "index"),
        (lambda body: body["objects"][1].update(size=[10, 10]), "objects.1.size"),
        (lambda body: body["objects"][2]["counts"].append(5), "objects.2.counts"),
        (lambda body: body["objects"][0].update(counts=[-1, 5]), "objects.0.counts"),
        (lambda body: body["objects"][0].pop("counts"), "objects.0.counts"),
    ],
)
def test_bad_export_requests_are_422(
    client: TestClient, image_ids: dict[str, str], change: Any, field: str
) -> None:
    body = {"format": "coco", "objects": objects(), "index": None}
    change(body)
    response = export(client, image_ids["chelsea.jpg"], "coco", body=body)
    assert response.status_code == 422, response.json()
    assert response.json()["field"] == field


def test_export_unknown_image_is_404(client: TestClient) -> None:
    assert export(client, "ffffffffffffffff", "coco").status_code == 404

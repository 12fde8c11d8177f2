"""Pre-fill, automatic and detector-box jobs through the API, checked against the library run directly;
the review queue and precision per threshold; export (SA-1B, COCO) and import through segany.formats."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import numpy as np
from engine_client import UserClient, png_bytes, square, uncompressed
from pycocotools import mask as coco_mask

A = 1
# Loose filters: a random tiny model's scores are low; 4 x 4 points keep the test fast.
LOOSE = {"points_per_side": 4, "pred_iou_thresh": 0.0, "stability_score_thresh": 0.0}


def decode(rle: dict[str, Any]) -> np.ndarray:
    counts = rle["counts"]
    return coco_mask.decode(
        {"size": rle["size"], "counts": counts.encode() if isinstance(counts, str) else counts}
    ).astype(bool)


def upload_two(client: UserClient) -> list[dict[str, Any]]:
    images = []
    for seed in (0, 1):
        answer = client.post(
            f"/api/engine/projects/{A}/images",
            files={"file": (f"photo{seed}.png", png_bytes(seed=seed), "image/png")},
        )
        images.append(answer.json())
    return images


def test_prefill_job_matches_the_generator(engine_app_any_db: Any, tiny_sam: Any) -> None:
    engine_app = engine_app_any_db  # SQLite and PostgreSQL
    from segany.amg import SamAutomaticMaskGenerator
    from segany.engine.blobs import BlobStore

    admin, annotator = UserClient(engine_app, "admin"), UserClient(engine_app, "ann_a")
    images = upload_two(annotator)
    job = admin.post(f"/api/engine/projects/{A}/jobs", json={"kind": "prefill", "params": LOOSE})
    assert job.status_code == 202, job.text
    done = admin.wait_job(A, job.json()["job_id"])
    assert done["state"] == "done" and done["progress"] == 1.0
    blobs: BlobStore = engine_app.state.engine.store.blobs
    generator = SamAutomaticMaskGenerator(tiny_sam, output_mode="binary_mask", box_nms_thresh=0.7, **LOOSE)
    total = 0
    for image in images:
        rows = annotator.get(f"/api/engine/projects/{A}/images/{image['id']}/annotations").json()
        pixels = blobs.load(f"{image['sha256']}.png")
        expected = generator.generate(pixels)
        assert len(rows) == len(expected) > 0
        for row, record in zip(rows, expected):
            np.testing.assert_array_equal(decode(row["mask"]), record["segmentation"])
            assert abs(row["predicted_iou"] - record["predicted_iou"]) < 1e-6
            assert (row["source"], row["status"]) == ("prefilled", "proposed")
            assert row["model_version_id"] == engine_app.state.engine.model_version_id
        total += len(rows)
    assert done["masks"] == total


def test_automatic_review_and_precision(engine_app_any_db: Any) -> None:
    engine_app = engine_app_any_db  # SQLite and PostgreSQL
    from segany.engine import annotating
    from segany.engine.annotating import NewAnnotation
    from segany.engine.models import Image

    admin, reviewer = UserClient(engine_app, "admin"), UserClient(engine_app, "rev_a")
    images = upload_two(UserClient(engine_app, "ann_a"))
    job = admin.post(f"/api/engine/projects/{A}/jobs", json={"kind": "automatic", "params": LOOSE}).json()
    assert admin.wait_job(A, job["job_id"])["state"] == "done"
    made = admin.get(f"/api/engine/projects/{A}/images/{images[0]['id']}/annotations").json()
    assert made and all((row["source"], row["status"]) == ("automatic", "proposed") for row in made)
    # More automatic masks with spread-out scores (a random tiny model finds few), so the sample is a real draw.
    with engine_app.state.engine.store.transaction() as db:
        image = db.get(Image, images[1]["id"])
        for k in range(12):
            mask = uncompressed(square(48, 64, k, k, k + 20, k + 20))
            annotating.create(
                db, image, NewAnnotation(mask, source="automatic", predicted_iou=0.5 + k / 25), None
            )
    queue = reviewer.get(f"/api/engine/projects/{A}/review", params={"count": 6, "seed": 3}).json()
    assert len(queue) == 6 and all(row["source"] == "automatic" for row in queue)
    again = reviewer.get(f"/api/engine/projects/{A}/review", params={"count": 6, "seed": 3}).json()
    assert [row["id"] for row in again] == [row["id"] for row in queue]  # reproducible sample
    decisions = {}
    for position, row in enumerate(queue):  # keep every other one
        keep = position % 2 == 0
        answer = reviewer.post(
            f"/api/engine/projects/{A}/annotations/{row['id']}/decision",
            json={"version": row["version"], "decision": "keep" if keep else "reject"},
        )
        assert answer.status_code == 200
        decisions[row["id"]] = (row["predicted_iou"], keep)
    after = reviewer.get(f"/api/engine/projects/{A}/review", params={"count": 100}).json()
    assert not {row["id"] for row in after} & set(decisions)  # decided masks leave the queue
    table = reviewer.get(
        f"/api/engine/projects/{A}/review/precision", params={"thresholds": "0,0.7,0.9"}
    ).json()
    for entry in table:
        chosen = [keep for iou, keep in decisions.values() if iou is not None and iou >= entry["threshold"]]
        assert entry["reviewed"] == len(chosen) and entry["kept"] == sum(chosen)
        assert entry["precision"] == (sum(chosen) / len(chosen) if chosen else None)
    assert table[0]["reviewed"] == 6
    bad = reviewer.get(f"/api/engine/projects/{A}/review/precision", params={"thresholds": "2"})
    assert bad.status_code == 422


def test_detector_boxes_become_masks(engine_app: Any, tiny_sam: Any) -> None:
    from segany.engine.blobs import BlobStore
    from segany.predictor import SamPredictor

    admin = UserClient(engine_app, "admin")
    image = upload_two(UserClient(engine_app, "ann_a"))[0]
    detections = {
        "images": [{"id": 7, "file_name": image["file_name"], "width": 64, "height": 48}],
        "categories": [{"id": 3, "name": "block"}],
        "annotations": [
            {"image_id": 7, "category_id": 3, "bbox": [16, 12, 32, 24], "score": 0.9},
            {"image_id": 7, "category_id": 3, "bbox": [2, 2, 10, 8], "score": 0.4},
        ],  # XYWH
    }
    answer = admin.post(
        f"/api/engine/projects/{A}/import",
        data={"format": "coco_boxes"},
        files={"file": ("det.json", json.dumps(detections).encode(), "application/json")},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["boxes"] == 2
    assert admin.wait_job(A, answer.json()["job"]["job_id"])["state"] == "done"
    rows = admin.get(f"/api/engine/projects/{A}/images/{image['id']}/annotations").json()
    blobs: BlobStore = engine_app.state.engine.store.blobs
    predictor = SamPredictor(tiny_sam)
    predictor.set_image(blobs.load(f"{image['sha256']}.png"))
    assert len(rows) == 2
    for row, box in zip(rows, ([16, 12, 48, 36], [2, 2, 12, 10])):  # XYXY
        masks, _, _ = predictor.predict(box=np.array(box, dtype=np.float32), multimask_output=False)
        np.testing.assert_array_equal(decode(row["mask"]), masks[0])
        assert row["label"] == "block" and row["source"] == "prefilled"
    yolo = admin.post(
        f"/api/engine/projects/{A}/import",
        data={"format": "yolo_boxes"},
        files={"file": ("photo0.txt", b"0 0.5 0.5 0.5 2.0\n", "text/plain")},
    )
    assert yolo.status_code == 422 and "line 1" in yolo.json()["detail"]


def test_export_sa1b_and_coco_decode_and_import_round_trips(engine_app_any_db: Any) -> None:
    engine_app = engine_app_any_db  # SQLite and PostgreSQL
    from pycocotools.coco import COCO

    annotator, admin = UserClient(engine_app, "ann_a"), UserClient(engine_app, "admin")
    images = upload_two(annotator)
    masks = {
        images[0]["id"]: [square(48, 64, 2, 3, 30, 20), square(48, 64, 40, 10, 60, 40)],
        images[1]["id"]: [square(48, 64, 5, 5, 15, 45)],
    }
    for image_id, image_masks in masks.items():
        for k, mask in enumerate(image_masks):
            annotator.post(
                f"/api/engine/projects/{A}/images/{image_id}/annotations",
                json={"idempotency_key": f"x-{image_id}-{k}", "mask": uncompressed(mask)},
            )
    sa1b = zipfile.ZipFile(
        io.BytesIO(annotator.get(f"/api/engine/projects/{A}/export", params={"format": "sa1b"}).content)
    )
    assert sorted(sa1b.namelist()) == ["photo0.json", "photo1.json"]
    for image in images:
        document = json.loads(sa1b.read(f"{image['file_name'].rsplit('.', 1)[0]}.json"))
        assert document["image"]["file_name"] == image["file_name"]
        decoded = [decode(entry["segmentation"]) for entry in document["annotations"]]
        assert all(np.array_equal(a, b) for a, b in zip(decoded, masks[image["id"]]))
        assert len(decoded) == len(masks[image["id"]])
    coco_zip = annotator.get(f"/api/engine/projects/{A}/export", params={"format": "coco"}).content
    coco_bytes = zipfile.ZipFile(io.BytesIO(coco_zip)).read("annotations.json")
    path = engine_app.state.engine.store.blobs.root.parent / "export.json"
    path.write_bytes(coco_bytes)
    coco = COCO(str(path))
    assert len(coco.getAnnIds()) == 3
    for image in images:
        anns = coco.loadAnns(coco.getAnnIds(imgIds=[image["id"]]))
        assert all(
            np.array_equal(coco.annToMask(a).astype(bool), m) for a, m in zip(anns, masks[image["id"]])
        )
    # Import the COCO file into project B (same photos): the same masks, and a second import adds nothing.
    ann_b = UserClient(engine_app, "ann_b")
    for seed in (0, 1):
        ann_b.post(
            "/api/engine/projects/2/images", files={"file": (f"photo{seed}.png", png_bytes(seed=seed), "x")}
        )
    files = {"file": ("annotations.json", coco_bytes, "application/json")}
    assert admin.post("/api/engine/projects/2/import", data={"format": "coco"}, files=files).json() == {
        "added": 3
    }
    assert admin.post("/api/engine/projects/2/import", data={"format": "coco"}, files=files).json() == {
        "added": 0
    }
    b_images = ann_b.get("/api/engine/projects/2/images").json()
    imported = ann_b.get(f"/api/engine/projects/2/images/{b_images[0]['id']}/annotations").json()
    assert [decode(row["mask"]).sum() for row in imported] == [m.sum() for m in masks[images[0]["id"]]]
    assert all(row["status"] == "accepted" for row in imported)
    for fmt in ("coco_polygons", "yolo", "png"):
        archive = zipfile.ZipFile(
            io.BytesIO(annotator.get(f"/api/engine/projects/{A}/export", params={"format": fmt}).content)
        )
        assert archive.namelist(), fmt
    assert annotator.get(f"/api/engine/projects/{A}/export", params={"format": "tiff"}).status_code == 422

"""The project API's annotation flow: accept (idempotent), edit / delete (409 when stale), prompt events,
keep / reject of proposed masks, and the statistics derived from them."""

from __future__ import annotations

from typing import Any

import numpy as np
from engine_client import UserClient, png_bytes, square, uncompressed
from pycocotools import mask as coco_mask

A = 1


def setup_image(app: Any) -> tuple[UserClient, int]:
    client = UserClient(app, "ann_a")
    answer = client.post(
        f"/api/engine/projects/{A}/images", files={"file": ("p.png", png_bytes(), "image/png")}
    )
    assert answer.status_code == 201
    return client, int(answer.json()["id"])


def test_accept_retry_is_idempotent(engine_app_any_db: Any) -> None:
    client, image_id = setup_image(engine_app_any_db)
    path = f"/api/engine/projects/{A}/images/{image_id}/annotations"
    mask = square(48, 64, 3, 4, 20, 30)
    body = {"idempotency_key": "4f1c2a", "mask": uncompressed(mask), "label": "box"}
    first = client.post(path, json=body)
    retry = client.post(path, json=body)  # the client did not see the first answer and sends again
    assert (first.status_code, retry.status_code) == (201, 200)
    assert first.json()["id"] == retry.json()["id"]
    rows = client.get(path).json()
    assert len(rows) == 1
    decoded = coco_mask.decode(
        {"size": rows[0]["mask"]["size"], "counts": rows[0]["mask"]["counts"].encode()}
    )
    np.testing.assert_array_equal(decoded.astype(bool), mask)
    assert rows[0]["bbox"] == [3, 4, 17, 26] and rows[0]["area"] == 17 * 26


def test_second_save_of_the_same_version_gets_409(engine_app_any_db: Any) -> None:
    alice, image_id = setup_image(engine_app_any_db)
    bob = UserClient(engine_app_any_db, "ann_a")  # the same project opened in a second browser
    made = alice.post(
        f"/api/engine/projects/{A}/images/{image_id}/annotations",
        json={"idempotency_key": "e-1", "mask": uncompressed(square(48, 64, 0, 0, 8, 8))},
    ).json()
    path = f"/api/engine/projects/{A}/annotations/{made['id']}"
    grown = uncompressed(square(48, 64, 0, 0, 12, 12))
    saved = alice.put(path, json={"version": made["version"], "mask": grown})
    stale = bob.put(path, json={"version": made["version"], "label": "cat"})
    assert saved.status_code == 200 and saved.json()["version"] == 2
    assert stale.status_code == 409 and stale.json()["field"] == "version"
    stale_delete = bob.delete(path, params={"version": 1})
    assert stale_delete.status_code == 409
    current = alice.get(f"/api/engine/projects/{A}/images/{image_id}/annotations").json()[0]
    assert current["area"] == 144 and current["label"] is None and current["status"] == "accepted"
    assert bob.delete(path, params={"version": 2}).status_code == 200


def test_malformed_masks_are_422_naming_the_field(engine_app: Any) -> None:
    client, image_id = setup_image(engine_app)
    path = f"/api/engine/projects/{A}/images/{image_id}/annotations"
    wrong_size = client.post(path, json={"idempotency_key": "w", "mask": uncompressed(np.ones((5, 5), bool))})
    assert wrong_size.status_code == 422 and "[48, 64]" in wrong_size.json()["detail"]
    bad_counts = client.post(
        path, json={"idempotency_key": "w2", "mask": {"size": [48, 64], "counts": [5, 3]}}
    )
    assert bad_counts.status_code == 422
    assert client.post(path, json={"mask": uncompressed(square(48, 64, 0, 0, 2, 2))}).status_code == 422


def test_clicks_per_mask_come_from_prompt_events(engine_app_any_db: Any) -> None:
    engine_app = engine_app_any_db  # SQLite and PostgreSQL
    client, image_id = setup_image(engine_app)
    base = f"/api/engine/projects/{A}/images/{image_id}"
    for _ in range(4):
        assert client.post(f"{base}/events", json={"payload": {"points": [[3, 4]]}}).status_code == 201
    first = client.post(
        f"{base}/annotations",
        json={"idempotency_key": "c-1", "mask": uncompressed(square(48, 64, 0, 0, 4, 4))},
    ).json()
    client.post(f"{base}/events", json={})
    second = client.post(
        f"{base}/annotations",
        json={"idempotency_key": "c-2", "mask": uncompressed(square(48, 64, 9, 9, 14, 14))},
    ).json()
    assert (first["clicks"], second["clicks"]) == (4, 1)
    huge = client.post(f"{base}/events", json={"payload": {"points": [[1, 2]] * 5000}})
    assert huge.status_code == 422 and huge.json()["field"] == "payload"
    stats = client.get(f"/api/engine/projects/{A}/stats").json()
    (timing,) = stats["manual_time_by_model_version"]
    assert timing["masks"] == 2 and timing["clicks_per_mask"] == 2.5
    assert stats["masks_per_image"] == 2.0


def test_keep_and_reject_of_proposed_masks(engine_app_any_db: Any) -> None:
    engine_app = engine_app_any_db  # SQLite and PostgreSQL
    from segany.engine import annotating
    from segany.engine.annotating import NewAnnotation
    from segany.engine.models import Image

    client, image_id = setup_image(engine_app)
    store = engine_app.state.engine.store
    with store.transaction() as db:
        image = db.get(Image, image_id)
        made = [
            annotating.create(
                db,
                image,
                NewAnnotation(
                    uncompressed(square(48, 64, k, k, k + 5, k + 5)), source=source, predicted_iou=iou
                ),
                None,
            )[0].id
            for k, (source, iou) in enumerate([("prefilled", 0.9), ("prefilled", 0.7), ("automatic", 0.95)])
        ]
    decide = f"/api/engine/projects/{A}/annotations/{{}}/decision"
    assert client.post(decide.format(made[0]), json={"version": 1, "decision": "keep"}).status_code == 200
    assert client.post(decide.format(made[1]), json={"version": 1, "decision": "reject"}).status_code == 200
    assert client.post(decide.format(made[2]), json={"version": 1, "decision": "keep"}).status_code == 403
    reviewer = UserClient(engine_app, "rev_a")
    assert reviewer.post(decide.format(made[2]), json={"version": 1, "decision": "keep"}).status_code == 200
    assert reviewer.post(decide.format(made[2]), json={"version": 1, "decision": "reject"}).status_code == 409
    stats = client.get(f"/api/engine/projects/{A}/stats").json()
    assert stats["acceptance"]["prefilled"] == {"decided": 2, "kept": 1, "rate": 0.5, "proposed": 0}
    assert stats["acceptance"]["automatic"]["rate"] == 1.0

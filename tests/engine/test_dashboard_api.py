"""The dashboard endpoint: numbers known by construction of a scripted session (clicks and seconds sent by the
client, keeps, fixes, deletes, review decisions across two model versions), cross-checked with a second,
independent computation from the raw event rows and with the annotation table; who may read it."""

from __future__ import annotations

from statistics import fmean
from typing import Any

import pytest
from engine_client import UserClient, png_bytes, square, uncompressed

A, B = 1, 2
H, W = 48, 64


def upload(client: UserClient, project_id: int, seed: int) -> int:
    answer = client.post(
        f"/api/engine/projects/{project_id}/images",
        files={"file": (f"photo{seed}.png", png_bytes(seed=seed), "image/png")},
    )
    assert answer.status_code == 201, answer.text
    return int(answer.json()["id"])


def accept(
    client: UserClient, image_id: int, key: str, clicks: int, seconds: float, k: int
) -> dict[str, Any]:
    answer = client.post(
        f"/api/engine/projects/{A}/images/{image_id}/annotations",
        json={
            "idempotency_key": key,
            "mask": uncompressed(square(H, W, k, k, k + 9, k + 7)),
            "clicks": clicks,
            "seconds": seconds,
        },
    )
    assert answer.status_code == 201, answer.text
    result: dict[str, Any] = answer.json()
    return result


def propose(app: Any, image_id: int, source: str, count: int, version: int) -> list[int]:
    """Model masks (as a pre-fill / automatic job adds them), with spread-out predicted IoU."""
    from segany.engine import annotating
    from segany.engine.annotating import NewAnnotation
    from segany.engine.models import Image

    made = []
    with app.state.engine.store.transaction() as db:
        image = db.get(Image, image_id)
        for k in range(count):
            new = NewAnnotation(
                segmentation=uncompressed(square(H, W, 2 * k, k, 2 * k + 12, k + 10)),
                source=source,
                predicted_iou=0.8 + 0.05 * k,
                model_version_id=version,
                idempotency_key=f"{source}-{image_id}-{k}",
            )
            row, _ = annotating.create(db, image, new, user_id=None)
            made.append(row.id)
    return made


def scripted_session(app: Any) -> dict[str, Any]:
    from segany.engine.server import register_model_version

    ann, rev = UserClient(app, "ann_a"), UserClient(app, "rev_a")
    images = [upload(ann, A, seed) for seed in range(3)]
    v1 = app.state.engine.model_version_id
    accept(ann, images[0], "m1", 3, 12.0, 0)
    accept(ann, images[0], "m2", 1, 4.0, 5)
    # The server switches to a retrained model: later masks are credited to it.
    v2 = register_model_version(app.state.engine.store, "retrained.pt", "f" * 64, name="round-2")
    app.state.engine.model_version_id = v2
    accept(ann, images[0], "m3", 2, 6.0, 10)
    keep, fix, drop = propose(app, images[1], "prefilled", 3, v1)
    base = f"/api/engine/projects/{A}/annotations"
    assert ann.post(f"{base}/{keep}/decision", json={"version": 1, "decision": "keep"}).status_code == 200
    fixed = ann.put(
        f"{base}/{fix}",
        json={"version": 1, "mask": uncompressed(square(H, W, 1, 1, 20, 20)), "clicks": 2, "seconds": 5.0},
    )
    assert fixed.status_code == 200, fixed.text
    assert ann.delete(f"{base}/{drop}", params={"version": 1}).status_code == 200
    stale = ann.delete(f"{base}/{keep}", params={"version": 1})  # a stale save: 409, no event
    assert stale.status_code == 409
    accept(ann, images[1], "m4", 4, 20.0, 3)  # added on a pre-filled image: semi-automatic
    auto = propose(app, images[2], "automatic", 4, v2)
    for annotation_id, decision in zip(auto[:3], ("keep", "reject", "reject")):
        answer = rev.post(f"{base}/{annotation_id}/decision", json={"version": 1, "decision": decision})
        assert answer.status_code == 200, answer.text
    return {"v1": v1, "v2": v2, "images": images}


def independent(app: Any) -> dict[str, Any]:
    """The same numbers from the raw rows, another way: events in id order, stages by id comparison, final
    statuses from the annotation table."""
    from sqlalchemy import select

    from segany.engine.models import Annotation, AnnotationEvent

    with app.state.engine.store.session() as db:
        raw = [
            (e.id, e.kind, e.image_id, e.annotation_id, dict(e.payload))
            for e in db.scalars(select(AnnotationEvent).where(AnnotationEvent.project_id == A))
        ]
        table = [(a.source, a.status, a.image_id) for a in db.scalars(select(Annotation))]
    raw.sort()
    first_prefill = {}
    for event_id, kind, image_id, _, _ in raw:
        if kind == "prefilled":
            first_prefill.setdefault(image_id, event_id)
    timing: dict[tuple[str, Any], list[tuple[float, int]]] = {}
    for event_id, kind, image_id, annotation_id, payload in raw:
        if kind == "accept":
            stage = "semi-automatic" if first_prefill.get(image_id, 1 << 60) < event_id else "assisted-manual"
        elif kind == "edit" and payload.get("source") in ("prefilled", "automatic"):
            stage = "fix"
        else:
            continue
        timing.setdefault((stage, payload["model_version_id"]), []).append(
            (payload["seconds"], payload["clicks"])
        )
    acceptance = {}
    for source in ("prefilled", "automatic"):
        statuses = [status for s, status, _ in table if s == source]
        decided = [status for status in statuses if status != "proposed"]
        acceptance[source] = decided.count("accepted") / len(decided)
    return {
        "timing": {
            key: (fmean(s for s, _ in values), fmean(c for _, c in values), len(values))
            for key, values in timing.items()
        },
        "accepted": sum(status == "accepted" for _, status, _ in table),
        "acceptance": acceptance,
    }


def test_dashboard_numbers(engine_app_any_db: Any) -> None:
    app = engine_app_any_db
    ids = scripted_session(app)
    v1, v2 = ids["v1"], ids["v2"]
    answer = UserClient(app, "ann_a").get(f"/api/engine/projects/{A}/dashboard")
    assert answer.status_code == 200, answer.text
    data = answer.json()

    # by construction of the session above
    assert data["images"] == 3 and data["accepted_masks"] == 3 + 3 + 1
    assert data["masks_per_image"] == pytest.approx(7 / 3)
    assert [row["accepted"] for row in data["per_image"]] == [3, 3, 1]
    stages = {row["stage"]: row for row in data["by_stage"]}
    assert stages["assisted-manual"]["masks"] == 3
    assert stages["assisted-manual"]["seconds_per_mask"] == pytest.approx((12 + 4 + 6) / 3)
    assert stages["assisted-manual"]["clicks_per_mask"] == pytest.approx(2.0)
    assert (stages["semi-automatic"]["seconds_per_mask"], stages["semi-automatic"]["clicks_per_mask"]) == (
        20,
        4,
    )
    assert (stages["fix"]["seconds_per_mask"], stages["fix"]["clicks_per_mask"]) == (5, 2)
    versions = {(row["stage"], row["model_version_id"]): row for row in data["by_model_version"]}
    assert versions[("assisted-manual", v1)]["seconds_per_mask"] == pytest.approx(8.0)
    assert versions[("assisted-manual", v2)]["seconds_per_mask"] == pytest.approx(6.0)
    assert versions[("assisted-manual", v2)]["model_version"] == "round-2"
    prefilled, automatic = data["acceptance"]["prefilled"], data["acceptance"]["automatic"]
    assert (prefilled["kept"], prefilled["fixed"], prefilled["rejected"]) == (1, 1, 1)
    assert prefilled["rate"] == pytest.approx(2 / 3)
    assert (automatic["decided"], automatic["accepted"], automatic["proposed"]) == (3, 1, 1)
    assert automatic["rate"] == pytest.approx(1 / 3)

    # against the independent computation from the raw rows
    other = independent(app)
    assert data["accepted_masks"] == other["accepted"]
    assert set(versions) == set(other["timing"])
    for key, (seconds, clicks, count) in other["timing"].items():
        assert versions[key]["seconds_per_mask"] == pytest.approx(seconds)
        assert versions[key]["clicks_per_mask"] == pytest.approx(clicks)
        assert versions[key]["masks"] == count
    for source, rate in other["acceptance"].items():
        assert data["acceptance"][source]["rate"] == pytest.approx(rate)


def test_who_may_read_the_dashboard(engine_app: Any) -> None:
    ann_a, ann_b, rev_a, admin = (UserClient(engine_app, n) for n in ("ann_a", "ann_b", "rev_a", "admin"))
    for client, project, status in (
        (ann_a, A, 200),
        (rev_a, A, 200),
        (admin, B, 200),
        (ann_a, B, 404),  # an annotator of A learns nothing about B
        (ann_b, A, 404),
        (rev_a, B, 404),
        (UserClient(engine_app), A, 401),
    ):
        answer = client.get(f"/api/engine/projects/{project}/dashboard")
        assert answer.status_code == status, (client, project, answer.text)


def test_the_page_routes(engine_app: Any) -> None:
    client = UserClient(engine_app)
    root = client.http.get("/", follow_redirects=False)
    assert root.status_code == 307 and root.headers["location"] == "/engine"
    page = client.http.get("/engine")
    assert page.status_code == 200 and 'src="/static/js/engine/main.js"' in page.text

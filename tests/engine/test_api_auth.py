"""Accounts, sessions, CSRF and per-project authorisation through the HTTP API (one test per rule)."""

from __future__ import annotations

import hashlib
from typing import Any

from engine_client import PASSWORD, SERVER_HEADERS, UserClient, png_bytes, square, uncompressed

A, B = 1, 2


def upload(client: UserClient, project_id: int, seed: int = 0) -> dict[str, Any]:
    answer = client.post(
        f"/api/engine/projects/{project_id}/images",
        files={"file": (f"photo{seed}.png", png_bytes(seed=seed), "image/png")},
    )
    assert answer.status_code == 201, answer.text
    result: dict[str, Any] = answer.json()
    return result


def test_login_sets_a_strict_httponly_cookie_and_wrong_password_is_401(engine_app: Any) -> None:
    client = UserClient(engine_app, "ann_a")
    cookie = client.cookie_header.lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    wrong = UserClient(engine_app).http.post(
        "/api/engine/login",
        headers=SERVER_HEADERS,
        json={"username": "ann_a", "password": "not the password"},
    )
    unknown = UserClient(engine_app).http.post(
        "/api/engine/login", headers=SERVER_HEADERS, json={"username": "nobody", "password": PASSWORD}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["detail"] == unknown.json()["detail"]  # no hint which names exist


def test_passwords_are_argon2_hashes(engine_app: Any) -> None:
    from sqlalchemy import select

    from segany.engine.models import User

    with engine_app.state.engine.store.session() as db:
        hashes = list(db.scalars(select(User.password_hash)))
    assert hashes and all(value.startswith("$argon2id$") and PASSWORD not in value for value in hashes)


def test_every_change_needs_the_csrf_token(engine_app: Any) -> None:
    client = UserClient(engine_app, "ann_a")
    image = upload(client, A)
    path = f"/api/engine/projects/{A}/images/{image['id']}/annotations"
    body = {"idempotency_key": "k", "mask": uncompressed(square(48, 64, 1, 1, 5, 5))}
    refused = client.post(path, csrf=False, json=body)
    assert refused.status_code == 403 and refused.json()["field"] == "csrf"
    forged = client.http.post(path, json=body, headers={**SERVER_HEADERS, "X-CSRF-Token": "guess"})
    assert forged.status_code == 403
    assert client.post(path, json=body).status_code == 201


def test_no_session_no_access(engine_app: Any) -> None:
    anonymous = UserClient(engine_app)
    assert anonymous.get("/api/engine/projects").status_code == 401
    assert anonymous.get(f"/api/engine/projects/{A}/images").status_code == 401
    assert anonymous.get("/api/images/0123456789abcdef/encode").status_code == 401
    assert anonymous.get("/api/info").status_code == 200  # no data in it


def test_annotator_of_a_cannot_read_or_change_b(engine_app_any_db: Any) -> None:
    engine_app = engine_app_any_db  # SQLite and PostgreSQL
    ann_a, ann_b = UserClient(engine_app, "ann_a"), UserClient(engine_app, "ann_b")
    image_b = upload(ann_b, B, seed=1)
    mask = uncompressed(square(48, 64, 2, 2, 9, 9))
    made = ann_b.post(
        f"/api/engine/projects/{B}/images/{image_b['id']}/annotations",
        json={"idempotency_key": "b-1", "mask": mask},
    ).json()
    assert [p["name"] for p in ann_a.get("/api/engine/projects").json()] == ["A"]
    for answer in (
        ann_a.get(f"/api/engine/projects/{B}/images"),
        ann_a.get(f"/api/engine/projects/{B}/images/{image_b['id']}/file"),
        ann_a.get(f"/api/engine/projects/{B}/images/{image_b['id']}/annotations"),
        ann_a.post(
            f"/api/engine/projects/{B}/images/{image_b['id']}/annotations",
            json={"idempotency_key": "a-into-b", "mask": mask},
        ),
        ann_a.put(f"/api/engine/projects/{B}/annotations/{made['id']}", json={"version": 1, "label": "x"}),
        ann_a.delete(f"/api/engine/projects/{B}/annotations/{made['id']}", params={"version": 1}),
        ann_a.get(f"/api/engine/projects/{B}/export", params={"format": "coco"}),
        # B's image through the single-user API, by its content hash, and A's project path with B's ids
        ann_a.get(f"/api/images/{image_b['server_id']}/file"),
        ann_a.put(f"/api/engine/projects/{A}/annotations/{made['id']}", json={"version": 1, "label": "x"}),
        ann_a.get(f"/api/engine/projects/{A}/images/{image_b['id']}/file"),
    ):
        assert answer.status_code == 404, (answer.request.url, answer.status_code, answer.text)
    unchanged = ann_b.get(f"/api/engine/projects/{B}/images/{image_b['id']}/annotations").json()
    assert [(row["version"], row["label"], row["status"]) for row in unchanged] == [(1, None, "accepted")]
    own = ann_b.get(f"/api/images/{image_b['server_id']}/file")
    assert own.status_code == 200 and hashlib.sha256(own.content).hexdigest() == image_b["sha256"]


def test_roles(engine_app_any_db: Any) -> None:
    engine_app = engine_app_any_db  # SQLite and PostgreSQL
    admin, ann_a, rev_a = (UserClient(engine_app, name) for name in ("admin", "ann_a", "rev_a"))
    assert ann_a.post("/api/engine/projects", json={"name": "C"}).status_code == 403
    assert (
        ann_a.post(
            "/api/engine/users", json={"username": "x", "password": PASSWORD, "role": "admin"}
        ).status_code
        == 403
    )
    assert admin.post("/api/engine/projects", json={"name": "C"}).status_code == 201
    assert (
        admin.post(
            "/api/engine/users", json={"username": "carol", "password": PASSWORD, "role": "annotator"}
        ).status_code
        == 201
    )
    image = upload(ann_a, A)
    body = {"idempotency_key": "r-1", "mask": uncompressed(square(48, 64, 1, 1, 5, 5))}
    path = f"/api/engine/projects/{A}/images/{image['id']}/annotations"
    assert rev_a.post(path, json=body).status_code == 403  # reviewers review, they do not draw
    assert rev_a.get(path).status_code == 200
    assert ann_a.get(f"/api/engine/projects/{A}/review").status_code == 403
    assert rev_a.get(f"/api/engine/projects/{A}/review").status_code == 200
    assert ann_a.post(f"/api/engine/projects/{A}/jobs", json={"kind": "automatic"}).status_code == 403


def test_single_user_listing_and_upload_are_closed(engine_app: Any) -> None:
    admin = UserClient(engine_app, "admin")
    assert admin.get("/api/images").status_code == 403
    files = {"file": ("x.png", png_bytes(), "image/png")}
    assert admin.post("/api/images", files=files).status_code == 403


def test_logout_ends_the_session(engine_app: Any) -> None:
    client = UserClient(engine_app, "ann_a")
    token = client.http.cookies.get("segany_session")
    assert client.get("/api/engine/projects").status_code == 200
    assert client.post("/api/engine/logout").status_code == 200
    client.http.cookies.set("segany_session", token)  # the old cookie replayed: the server forgot it
    assert client.get("/api/engine/projects").status_code == 401


def test_non_loopback_host_needs_accounts(tmp_path: Any, tiny_sam: Any) -> None:
    import pytest

    from segany.engine.server import build_engine_app
    from segany.engine.store import open_store
    from segany.server.settings import ServerSettings

    open_store(tmp_path / "empty").close()
    with pytest.raises(ValueError, match="admin account"):
        build_engine_app(
            tmp_path / "empty", ServerSettings(host="0.0.0.0", cache_dir=tmp_path / "c"), sam=tiny_sam
        )

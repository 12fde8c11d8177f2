"""Runtime model switch: a running project server serves another registered model version without a restart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from engine_client import PASSWORD, UserClient, png_bytes, square, tiny_model, uncompressed

from segany.engine.server import register_model_version
from segany.training.embedding_cache import model_fingerprint

A = 1
POINT = [[30.0, 22.0]]


def register_other(app: Any, folder: Path, seed: int = 1, name: str = "round1") -> tuple[Any, int, Path]:
    """A second tiny model (other random weights) saved as a checkpoint and registered as `name`."""
    other = tiny_model(seed=seed)
    weights = folder / f"{name}.pt"
    torch.save(other.state_dict(), weights)
    store = app.state.engine.store
    version_id = register_model_version(store, str(weights), model_fingerprint(other, other.image_size), name)
    return other, version_id, weights


def direct_scores(sam: Any, pixels: np.ndarray) -> np.ndarray:
    from segany.predictor import SamPredictor

    predictor = SamPredictor(sam)
    predictor.set_image(pixels)
    _, scores, _ = predictor.predict(
        point_coords=np.asarray(POINT), point_labels=np.asarray([1]), multimask_output=True
    )
    return np.asarray(scores)


def served_scores(client: UserClient, server_id: str) -> np.ndarray:
    answer = client.post(f"/api/images/{server_id}/predict", json={"points": POINT, "labels": [1]})
    assert answer.status_code == 200, answer.text
    return np.asarray(answer.json()["scores"])


def test_admin_switches_the_served_model_without_restart(engine_app_any_db: Any, tmp_path: Path) -> None:
    app = engine_app_any_db
    first_version = app.state.engine.model_version_id
    first_sam = app.state.segany.sam
    other, other_id, _ = register_other(app, tmp_path)
    admin, annotator = UserClient(app, "admin"), UserClient(app, "ann_a")
    image = annotator.post(
        f"/api/engine/projects/{A}/images", files={"file": ("p.png", png_bytes(), "image/png")}
    ).json()
    pixels = app.state.engine.store.blobs.load(f"{image['sha256']}.png")
    before = served_scores(annotator, image["server_id"])
    np.testing.assert_allclose(before, direct_scores(first_sam, pixels), atol=1e-5)

    listed = annotator.get("/api/engine/model-versions").json()
    assert [(row["id"], row["serving"]) for row in listed] == [(first_version, True), (other_id, False)]
    refused = annotator.put("/api/engine/model-version", json={"version": "round1"})
    assert refused.status_code == 403 and app.state.engine.model_version_id == first_version

    switched = admin.put("/api/engine/model-version", json={"version": "round1"})
    assert switched.status_code == 200, switched.text
    assert switched.json()["version"]["id"] == other_id and switched.json()["version"]["serving"]
    info = annotator.get("/api/info").json()
    assert info["model"]["fingerprint"] == model_fingerprint(other, other.image_size)
    after = served_scores(annotator, image["server_id"])
    np.testing.assert_allclose(after, direct_scores(other, pixels), atol=1e-5)
    assert not np.allclose(after, before, atol=1e-3)  # it really is another model
    assert app.state.engine.runner.sam is app.state.segany.sam

    accepted = annotator.post(
        f"/api/engine/projects/{A}/images/{image['id']}/annotations",
        json={"idempotency_key": "k1", "mask": uncompressed(square(48, 64, 16, 12, 48, 36)), "clicks": 1},
    )
    assert accepted.status_code == 201 and accepted.json()["model_version_id"] == other_id
    job = admin.post(
        f"/api/engine/projects/{A}/jobs", json={"kind": "prefill", "params": {"points_per_side": 2}}
    )
    assert job.status_code == 202, job.text
    done = admin.wait_job(A, job.json()["job_id"])
    assert done["state"] == "done" and done["model_version_id"] == other_id

    # The fixture's first version is random vit_tiny weights that no file holds: switching back is refused
    # (the loaded weights are not the registered ones) and round1 stays served.
    back = admin.put("/api/engine/model-version", json={"version": str(first_version)})
    assert back.status_code == 409, back.text
    serving = annotator.get("/api/engine/model-version").json()
    assert serving["version"]["id"] == other_id
    np.testing.assert_allclose(served_scores(annotator, image["server_id"]), after, atol=1e-5)


def test_bad_switches_are_refused_and_the_server_keeps_serving(engine_app: Any, tmp_path: Path) -> None:
    admin = UserClient(engine_app, "admin")
    fingerprint = engine_app.state.segany.model.fingerprint
    unknown = admin.put("/api/engine/model-version", json={"version": "no-such-version"})
    assert unknown.status_code == 404 and "no-such-version" in unknown.json()["detail"]
    _, _, weights = register_other(engine_app, tmp_path, seed=2, name="gone")
    weights.unlink()
    missing = admin.put("/api/engine/model-version", json={"version": "gone"})
    assert missing.status_code == 422 and "gone" in missing.json()["detail"]
    _, _, weights = register_other(engine_app, tmp_path, seed=3, name="changed")
    torch.save(tiny_model(seed=4).state_dict(), weights)  # other weights under the registered path
    changed = admin.put("/api/engine/model-version", json={"version": "changed"})
    assert changed.status_code == 409 and "fingerprint" in changed.json()["detail"]
    empty = admin.put("/api/engine/model-version", json={"version": ""})
    assert empty.status_code == 422
    info = admin.get("/api/info")
    assert info.status_code == 200 and info.json()["model"]["fingerprint"] == fingerprint


def test_job_runner_uses_the_model_held_when_a_job_starts(sqlite_store: Any) -> None:
    from segany.engine import jobs
    from segany.engine.models import Annotation, Job
    from segany.engine.projects import add_image, create_project

    first, second = tiny_model(seed=0), tiny_model(seed=5)
    ids = [
        register_model_version(sqlite_store, f"m{k}", model_fingerprint(sam, sam.image_size), f"v{k}")
        for k, sam in enumerate((first, second))
    ]
    with sqlite_store.transaction() as db:
        project = create_project(db, "P")
        add_image(db, sqlite_store.blobs, project, png_bytes(), "p.png")
        project_id = project.id
    runner = jobs.JobRunner(sqlite_store, first, ids[0])
    params = {"points_per_side": 2, "pred_iou_thresh": 0.0, "stability_score_thresh": 0.0}
    job_a = jobs.submit(sqlite_store, project_id, "prefill", params, None, ids[0])
    runner.run_pending()
    runner.use(second, ids[1])
    job_b = jobs.submit(sqlite_store, project_id, "prefill", params, None, ids[0])  # submitted naming v0
    runner.run_pending()
    with sqlite_store.session() as db:
        for job, version in ((job_a, ids[0]), (job_b, ids[1])):
            assert db.get(Job, job.id).model_version_id == version  # type: ignore[union-attr]
            rows = db.query(Annotation).filter_by(job_id=job.id).all()
            assert rows and {row.model_version_id for row in rows} == {version}


def test_cli_use_model_and_versions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    """`segany engine use-model` against a real server process; `segany engine versions` lists them."""
    import socket
    import subprocess
    import sys
    import time

    import httpx
    from engine_client import seeded_project_dir

    from segany.cli.main import main
    from segany.engine.store import open_store

    folder = seeded_project_dir(tmp_path / "project")
    base, other = tiny_model(seed=0), tiny_model(seed=1)
    torch.save(base.state_dict(), tmp_path / "base.pt")
    torch.save(other.state_dict(), tmp_path / "other.pt")
    store = open_store(folder)
    register_model_version(
        store, str(tmp_path / "base.pt"), model_fingerprint(base, base.image_size), "round0"
    )
    register_model_version(
        store, str(tmp_path / "other.pt"), model_fingerprint(other, other.image_size), "round1"
    )
    store.close()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "segany.cli.main",
            "engine",
            "serve",
            str(folder),
            "--model-version",
            "round0",
            "--port",
            str(port),
            "--device",
            "cpu",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(url + "/api/info", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.3)
        monkeypatch.setenv("SEGANY_PASSWORD", PASSWORD)
        assert main(["engine", "use-model", "round1", "--server", url, "--user", "admin"]) == 0
        assert "now serves model version round1" in capsys.readouterr().out
        info = httpx.get(url + "/api/info", timeout=10).json()
        assert info["model"]["fingerprint"] == model_fingerprint(other, other.image_size)
        assert main(["engine", "use-model", "round1", "--server", url, "--user", "ann_a"]) == 1
        assert "403" in capsys.readouterr().err
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert main(["engine", "versions", str(folder)]) == 0
    listing = capsys.readouterr().out
    assert "round0" in listing and "round1" in listing

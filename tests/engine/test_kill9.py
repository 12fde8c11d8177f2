"""`kill -9` of a real project server while annotators accept masks and while an automatic run is going:
after a restart every acknowledged accept is there exactly once, retries add nothing, and the automatic run
finishes with each image's masks exactly once (the same as the generator run directly)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from engine_client import PASSWORD, png_bytes, square, uncompressed
from sqlalchemy import create_engine, text

httpx = pytest.importorskip("httpx")
A = 1
LOOSE = {"points_per_side": 4, "pred_iou_thresh": 0.0, "stability_score_thresh": 0.0}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ServerProcess:
    """`segany engine serve` in its own process (a small vit_tiny checkpoint, random weights)."""

    def __init__(self, project: Path, log: Path, model: Path) -> None:
        self.project, self.log, self.port, self.model = project, log, free_port(), model
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> httpx.Client:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "segany.cli.main",
                    "engine",
                    "serve",
                    str(self.project),
                    "--model",
                    str(self.model),
                    "--device",
                    "cpu",
                    "--port",
                    str(self.port),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "SEGANY_DEBUG": "1"},
            )
        base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{base}/api/info", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            raise TimeoutError("server did not start")
        return login(base, "ann_a")

    def kill9(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


def login(base: str, username: str) -> httpx.Client:
    client = httpx.Client(base_url=base, headers={"X-Segany-Client": "1"}, timeout=30)
    answer = client.post("/api/engine/login", json={"username": username, "password": PASSWORD})
    answer.raise_for_status()
    client.headers["X-CSRF-Token"] = answer.json()["csrf_token"]
    return client


def database_rows(project: Path, query: str) -> list[Any]:
    engine = create_engine(f"sqlite:///{project / 'engine.sqlite3'}")
    try:
        with engine.connect() as connection:
            return list(connection.execute(text(query)))
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """vit_tiny at 512 px, seed 1: a random model that still finds two masks on the test images."""
    import torch
    from engine_client import tiny_model

    sam = tiny_model(image_size=512, seed=1)
    path = tmp_path_factory.mktemp("model") / "tiny512.pt"
    torch.save(sam.state_dict(), path)
    return path, sam


@pytest.fixture
def project(tmp_path: Path, seeded_template: Path) -> Path:
    import shutil

    shutil.copytree(seeded_template, tmp_path / "project")
    return tmp_path / "project"


def test_kill9_while_accepting_loses_and_duplicates_nothing(
    project: Path, tmp_path: Path, model_file: tuple[Path, Any]
) -> None:
    server = ServerProcess(project, tmp_path / "server.log", model_file[0])
    try:
        client = server.start()
        image = client.post(
            f"/api/engine/projects/{A}/images", files={"file": ("p.png", png_bytes(), "image/png")}
        ).json()
        path = f"/api/engine/projects/{A}/images/{image['id']}/annotations"
        sent: dict[str, np.ndarray] = {}
        acknowledged: dict[str, int] = {}
        stop = threading.Event()

        def annotate() -> None:  # one annotator accepting masks as fast as the server answers
            for k in range(10_000):
                if stop.is_set():
                    return
                key = f"accept-{k}"
                mask = square(48, 64, k % 50, k % 30, k % 50 + 10, k % 30 + 15)
                sent[key] = mask
                try:
                    answer = client.post(path, json={"idempotency_key": key, "mask": uncompressed(mask)})
                except httpx.TransportError:
                    return  # the server died with this request in flight: not acknowledged
                if answer.status_code in (200, 201):
                    acknowledged[key] = answer.json()["id"]

        worker = threading.Thread(target=annotate)
        worker.start()
        deadline = time.monotonic() + 60
        while len(acknowledged) < 25 and time.monotonic() < deadline:
            time.sleep(0.02)
        server.kill9()  # mid-stream
        stop.set()
        worker.join(timeout=60)
        assert len(acknowledged) >= 25
        client = server.start()
        # The client retries everything it sent (acknowledged or not): retries must not add rows.
        for key, mask in sent.items():
            answer = client.post(path, json={"idempotency_key": key, "mask": uncompressed(mask)})
            assert answer.status_code in (200, 201), answer.text
            if key in acknowledged:
                assert answer.status_code == 200 and answer.json()["id"] == acknowledged[key]
        server.stop()
    finally:
        server.stop()
    rows = database_rows(project, "SELECT idempotency_key, id FROM annotations")
    keys = [key for key, _ in rows]
    assert len(keys) == len(set(keys)) == len(sent)
    assert {key: row_id for key, row_id in rows if key in acknowledged} == acknowledged


def test_kill9_during_automatic_run_resumes_without_duplicates(
    project: Path, tmp_path: Path, model_file: tuple[Path, Any]
) -> None:
    from segany.amg import SamAutomaticMaskGenerator

    server = ServerProcess(project, tmp_path / "server.log", model_file[0])
    images = [png_bytes(seed=seed) for seed in range(4)]
    try:
        client = server.start()
        admin = login(f"http://127.0.0.1:{server.port}", "admin")
        ids = [
            client.post(
                f"/api/engine/projects/{A}/images", files={"file": (f"p{k}.png", data, "image/png")}
            ).json()["id"]
            for k, data in enumerate(images)
        ]
        job = admin.post(f"/api/engine/projects/{A}/jobs", json={"kind": "automatic", "params": LOOSE}).json()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            state = admin.get(f"/api/engine/projects/{A}/jobs/{job['job_id']}").json()
            if state["progress"] >= 0.25:
                break
            time.sleep(0.02)
        server.kill9()
        before = database_rows(project, "SELECT id, image_id, idempotency_key FROM annotations")
        assert state["state"] == "running" and 0 < state["progress"] < 1, state
        admin = login(f"http://127.0.0.1:{server.start() and server.port}", "admin")
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            state = admin.get(f"/api/engine/projects/{A}/jobs/{job['job_id']}").json()
            if state["state"] == "done":
                break
            time.sleep(0.2)
        assert state["state"] == "done", state
    finally:
        server.stop()
    after = database_rows(project, "SELECT id, image_id, idempotency_key FROM annotations")
    assert set(before) <= set(after)  # nothing committed before the kill was lost or rewritten
    keys = [key for _, _, key in after]
    assert len(keys) == len(set(keys))
    generator = SamAutomaticMaskGenerator(model_file[1], output_mode="binary_mask", **LOOSE)
    from engine_client import decode_png

    for image_id, data in zip(ids, images):
        expected = len(generator.generate(decode_png(data)))
        assert sum(row[1] == image_id for row in after) == expected

"""Test helpers: a project server app on a tiny random model, and clients logged in as its users."""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image as PILImage

PASSWORD = "correct horse battery"
SERVER_HEADERS = {"X-Segany-Client": "1"}


def png_bytes(height: int = 48, width: int = 64, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    pixels = np.full((height, width, 3), 40, dtype=np.uint8)
    pixels[height // 4 : 3 * height // 4, width // 4 : 3 * width // 4] = (220, 60, 30)  # one bright object
    pixels = np.clip(pixels.astype(int) + rng.integers(-10, 10, pixels.shape), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    PILImage.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def uncompressed(mask: np.ndarray) -> dict[str, Any]:
    """Independent column-major RLE encoder (runs start with background)."""
    flat = mask.T.reshape(-1).astype(np.int8)
    changes = np.flatnonzero(np.diff(np.concatenate([[0], flat, [1 - flat[-1]]])))
    return {"size": list(mask.shape), "counts": np.diff(np.concatenate([[0], changes])).tolist()}


def square(height: int, width: int, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    mask = np.zeros((height, width), dtype=bool)
    mask[y0:y1, x0:x1] = True
    return mask


class UserClient:
    """A TestClient logged in as one user; sends the CSRF token on every change."""

    def __init__(self, app: Any, username: str | None = None, password: str = PASSWORD) -> None:
        from fastapi.testclient import TestClient

        self.http = TestClient(app, base_url="http://127.0.0.1")
        self.csrf = ""
        if username is not None:
            answer = self.http.post(
                "/api/engine/login", json={"username": username, "password": password}, headers=SERVER_HEADERS
            )
            assert answer.status_code == 200, answer.text
            self.csrf = answer.json()["csrf_token"]
            self.cookie_header = answer.headers["set-cookie"]

    def headers(self, csrf: bool = True) -> dict[str, str]:
        return {**SERVER_HEADERS, **({"X-CSRF-Token": self.csrf} if csrf else {})}

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.http.get(path, headers=self.headers(), **kwargs)

    def post(self, path: str, csrf: bool = True, **kwargs: Any) -> Any:
        return self.http.post(path, headers=self.headers(csrf), **kwargs)

    def put(self, path: str, **kwargs: Any) -> Any:
        return self.http.put(path, headers=self.headers(), **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.http.delete(path, headers=self.headers(), **kwargs)

    def wait_job(self, project_id: int, job_id: str, timeout: float = 120.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job: dict[str, Any] = self.get(f"/api/engine/projects/{project_id}/jobs/{job_id}").json()
            if job["state"] in ("done", "failed", "cancelled"):
                return job
            time.sleep(0.1)
        raise TimeoutError(f"job {job_id} did not finish in {timeout} s")


def tiny_model(image_size: int = 256, seed: int = 0) -> Any:
    """vit_tiny with seeded random weights at a small input size (fast on a CPU)."""
    import torch

    from segany.registry import build_sam, resolve_config

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build_sam(resolve_config("vit_tiny").with_image_size(image_size)).eval()


def seeded_project_dir(root: Path, url: str | None = None) -> Path:
    """A project folder with users admin, ann_a (project A), ann_b (project B), rev_a (reviewer of A)."""
    from segany.engine.accounts import create_user
    from segany.engine.projects import add_member, create_project
    from segany.engine.store import open_store

    store = open_store(root, url=url)
    with store.transaction() as db:
        admin = create_user(db, "admin", PASSWORD, "admin")
        ann_a = create_user(db, "ann_a", PASSWORD, "annotator")
        ann_b = create_user(db, "ann_b", PASSWORD, "annotator")
        rev_a = create_user(db, "rev_a", PASSWORD, "reviewer")
        project_a, project_b = create_project(db, "A"), create_project(db, "B")
        for project, member in ((project_a, ann_a), (project_b, ann_b), (project_a, rev_a)):
            add_member(db, project, member)
        del admin
    store.close()
    return root


def decode_png(data: bytes) -> np.ndarray:
    return np.asarray(PILImage.open(io.BytesIO(data)).convert("RGB"))

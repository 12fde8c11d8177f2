"""Helpers of the server tests: app construction, headers, and an independent RLE decoder (pycocotools)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from fastapi.testclient import TestClient
from pycocotools import mask as coco_mask

from segany.modeling.sam import Sam

FIXTURES_DIR = Path(__file__).resolve().parents[1] / "fixtures"
GALLERY = ("chelsea.jpg", "astronaut.jpg")
CSRF = {"X-Segany-Client": "1"}
BASE_URL = "http://127.0.0.1"


def make_client(sam: Sam, cache_dir: Path, **settings: Any) -> TestClient:
    """A TestClient (use it as a context manager) on a fresh app around `sam`."""
    from segany.server import ServerSettings, create_app

    app = create_app(
        ServerSettings(cache_dir=cache_dir, **settings),
        sam=sam,
        model_name="segany_small",
        model_source="bundled",
    )
    return TestClient(app, base_url=BASE_URL)


def decode_rle(rle: dict[str, Any]) -> np.ndarray:
    """Uncompressed column-major RLE -> H x W bool, decoded by pycocotools (not by segany)."""
    height, width = rle["size"]
    compressed = coco_mask.frPyObjects(
        {"size": [height, width], "counts": list(rle["counts"])}, height, width
    )
    return coco_mask.decode(compressed).astype(bool)


def encode_rle(mask: np.ndarray) -> dict[str, Any]:
    """H x W bool -> uncompressed column-major RLE, written here with numpy (independent of segany)."""
    flat = np.asarray(mask, dtype=bool).ravel(order="F")
    edges = np.flatnonzero(np.diff(flat.astype(np.int8))) + 1
    runs = np.diff(np.concatenate([[0], edges, [flat.size]])).tolist()
    if flat.size and flat[0]:
        runs = [0, *runs]
    return {"size": [int(mask.shape[0]), int(mask.shape[1])], "counts": [int(r) for r in runs]}


def post_json(client: TestClient, url: str, body: Any) -> Any:
    return client.post(url, json=body, headers=CSRF)

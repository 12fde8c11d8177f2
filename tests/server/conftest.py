"""One app with the bundled segany_small model, shared by the API tests, on a copy of two fixture photos.

`server_testing.make_client` builds further apps (other limits) around the same model object.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient
from server_testing import FIXTURES_DIR, GALLERY, make_client

from segany.modeling.sam import Sam


@pytest.fixture(scope="session")
def small_sam() -> Sam:
    from segany.cli.models import resolve_model

    sam, _ = resolve_model("segany_small")
    return sam


@pytest.fixture(scope="session")
def gallery_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("gallery")
    for name in GALLERY:
        shutil.copy(FIXTURES_DIR / name, folder / name)
    return folder


@pytest.fixture(scope="session")
def client(
    small_sam: Sam, gallery_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    with make_client(small_sam, tmp_path_factory.mktemp("cache"), images_dir=gallery_dir) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def image_ids(client: TestClient) -> dict[str, str]:
    """Gallery file name -> image id."""
    return {item["name"]: item["id"] for item in client.get("/api/images").json()}

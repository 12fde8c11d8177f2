"""`segany serve`: a real uvicorn process prints its URL and answers on loopback; flags -> settings."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from segany.cli.common import CliError
from segany.cli.main import build_parser
from segany.cli.models import random_model
from segany.cli.serve import settings_from_args


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_serve_prints_its_url_and_answers(gallery_dir: Path, tmp_path: Path) -> None:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "segany.cli.main",
        "serve",
        "--model",
        "segany_small",
        "--images",
        str(gallery_dir),
        "--port",
        str(port),
        "--cache-dir",
        str(tmp_path),
    ]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.strip() == f"segany serve: http://127.0.0.1:{port}/", line
        deadline = time.monotonic() + 60
        while True:
            try:
                info = httpx.get(f"http://127.0.0.1:{port}/api/info", timeout=5).json()
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and process.poll() is None
                time.sleep(0.2)
        assert info["model"]["name"] == "segany_small"
        images = httpx.get(f"http://127.0.0.1:{port}/api/images", timeout=5).json()
        assert sorted(item["name"] for item in images) == sorted(p.name for p in gallery_dir.iterdir())
        page = httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
        assert page.status_code == 200 and page.headers["cross-origin-opener-policy"] == "same-origin"
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_serve_flags_become_settings(tmp_path: Path) -> None:
    args = build_parser().parse_args(
        [
            "serve",
            "--model",
            "vit_b",
            "--random-weights",
            "--images",
            str(tmp_path),
            "--max-upload-mb",
            "2",
            "--max-pixels",
            "1000000",
            "--cache-mb",
            "64",
            "--port",
            "9001",
        ]
    )
    settings = settings_from_args(args)
    assert settings.model == "vit_b" and settings.random_weights and settings.images_dir == tmp_path
    assert settings.max_upload_bytes == 2 * 2**20 and settings.max_pixels == 1_000_000
    assert settings.memory_cache_bytes == 64 * 2**20 and settings.port == 9001
    assert settings.host == "127.0.0.1"
    bad = build_parser().parse_args(["serve", "--images", str(tmp_path / "missing")])
    with pytest.raises(CliError, match="images_dir"):
        settings_from_args(bad)


def test_random_weights_model_is_seeded() -> None:
    first, description = random_model("vit_tiny")
    second, _ = random_model("vit_tiny")
    assert description.source == "random"
    for (name, a), (_, b) in zip(first.state_dict().items(), second.state_dict().items()):
        assert a.equal(b), name
    with pytest.raises(CliError, match="architecture"):
        random_model("vit_nope")

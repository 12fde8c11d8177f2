"""Weights metadata, cache location and download (against a loopback HTTP server with Range support)."""

from __future__ import annotations

import hashlib
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from segany import weights
from segany.weights import WeightsDownloadError, WeightsInfo

PAYLOAD = bytes(range(256)) * 4000  # ~1 MB


class _RangeHandler(http.server.BaseHTTPRequestHandler):
    requests_seen: ClassVar[list[str | None]] = []
    truncate_after: int | None = None

    def do_GET(self) -> None:
        range_header = self.headers.get("Range")
        type(self).requests_seen.append(range_header)
        start = int(range_header.split("=")[1].rstrip("-")) if range_header else 0
        body = PAYLOAD[start:]
        self.send_response(206 if range_header else 200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        limit = type(self).truncate_after
        self.wfile.write(body if limit is None else body[:limit])

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    _RangeHandler.requests_seen = []
    _RangeHandler.truncate_after = None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _RangeHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


def _info(url: str, sha: str | None = None) -> WeightsInfo:
    return WeightsInfo(
        "toy",
        "vit_tiny",
        "toy.pth",
        url + "toy.pth",
        len(PAYLOAD),
        sha or hashlib.sha256(PAYLOAD).hexdigest(),
    )


def test_official_records_match_the_published_table() -> None:
    table = {
        "vit_h": ("sam_vit_h_4b8939.pth", 2_564_550_879),
        "vit_l": ("sam_vit_l_0b3195.pth", 1_249_524_607),
        "vit_b": ("sam_vit_b_01ec64.pth", 375_042_383),
    }
    for name, (file_name, size) in table.items():
        info = weights.weights_info(name)
        assert (info.file_name, info.num_bytes) == (file_name, size)
        assert info.url == "https://dl.fbaipublicfiles.com/segment_anything/" + file_name
        assert len(info.sha256) == 64
    assert weights.weights_info("default").name == "vit_h"
    with pytest.raises(ValueError, match="unknown weights name"):
        weights.weights_info("vit_x")


def test_cache_dir_honours_env_and_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("SEGANY_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert weights.cache_dir() == tmp_path / "xdg" / "segany"
    monkeypatch.setenv("SEGANY_CACHE_DIR", str(tmp_path / "mine"))
    assert weights.cache_dir() == tmp_path / "mine"
    assert weights.weights_path("vit_b") == tmp_path / "mine" / "sam_vit_b_01ec64.pth"


def test_download_verifies_and_resumes(server: str, tmp_path: Path) -> None:
    info = _info(server)
    partial = tmp_path / "toy.pth.part"
    partial.write_bytes(PAYLOAD[:1000])
    path = weights.download(info, destination=tmp_path)
    assert path.read_bytes() == PAYLOAD
    assert _RangeHandler.requests_seen == ["bytes=1000-"]
    assert not partial.exists()
    # A second call finds the verified file and does not download again.
    weights.download(info, destination=tmp_path)
    assert len(_RangeHandler.requests_seen) == 1


def test_truncated_transfer_can_be_resumed(server: str, tmp_path: Path) -> None:
    _RangeHandler.truncate_after = 5000
    with pytest.raises(WeightsDownloadError, match="resume"):
        weights.download(_info(server), destination=tmp_path)
    assert (tmp_path / "toy.pth.part").stat().st_size == 5000
    _RangeHandler.truncate_after = None
    assert weights.download(_info(server), destination=tmp_path).read_bytes() == PAYLOAD
    assert _RangeHandler.requests_seen[-1] == "bytes=5000-"


def test_checksum_mismatch_is_rejected(server: str, tmp_path: Path) -> None:
    with pytest.raises(WeightsDownloadError, match="sha256"):
        weights.download(_info(server, sha="0" * 64), destination=tmp_path)
    assert not (tmp_path / "toy.pth").exists()
    assert not (tmp_path / "toy.pth.part").exists()


def test_offline_failure_says_where_to_put_the_file(tmp_path: Path) -> None:
    # Port 9 on loopback: nothing listens, the connection is refused at once.
    info = WeightsInfo("toy", "vit_tiny", "toy.pth", "http://127.0.0.1:9/toy.pth", 10, "0" * 64)
    with pytest.raises(WeightsDownloadError) as caught:
        weights.download(info, destination=tmp_path, timeout=5)
    message = str(caught.value)
    assert str(tmp_path / "toy.pth") in message and "sha256" in message

"""`segany weights list|download|verify|path`, offline and against a local HTTP server."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_testing import FIXTURES, assert_one_line_error, run_cli

from segany import weights as weights_lib

PAYLOAD = b"segany fake checkpoint bytes\n" * 1000


def test_list_shows_every_official_checkpoint(cache_dir: Path) -> None:
    result = run_cli("weights", "list")
    assert result.code == 0, result.err
    assert f"cache: {cache_dir}" in result.out
    for info in weights_lib.OFFICIAL_WEIGHTS.values():
        (row,) = [line for line in result.out.splitlines() if line.startswith(info.name + " ")]
        assert info.file_name in row and info.sha256 in row and " no " in row
    listed = json.loads(run_cli("weights", "list", "--json").out)
    assert listed["cache_dir"] == str(cache_dir)
    assert [row["name"] for row in listed["weights"]] == ["vit_h", "vit_l", "vit_b"]
    assert {row["present"] for row in listed["weights"]} == {False}


def test_path_of_missing_weights_exits_1(cache_dir: Path) -> None:
    result = run_cli("weights", "path", "vit_b")
    assert result.code == 1
    assert result.out.strip() == str(cache_dir / "sam_vit_b_01ec64.pth")
    assert "segany weights download vit_b" in result.err


def test_unknown_name_is_one_line_error() -> None:
    assert_one_line_error(
        run_cli("weights", "path", "vit_x"), "unknown weights name 'vit_x'", "segany weights list"
    )
    assert_one_line_error(run_cli("weights", "download", "vit_x"), "unknown weights name")


def test_download_offline_fails_with_actionable_message(
    cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    info = weights_lib.OFFICIAL_WEIGHTS["vit_b"]
    unreachable = dataclasses.replace(info, url="http://127.0.0.1:9/sam_vit_b_01ec64.pth")
    monkeypatch.setitem(weights_lib.OFFICIAL_WEIGHTS, "vit_b", unreachable)
    result = run_cli("weights", "download", "vit_b")
    assert result.code == 1
    line = assert_one_line_error(result, "could not download sam_vit_b_01ec64.pth", "127.0.0.1:9")
    assert f"place it at {cache_dir / 'sam_vit_b_01ec64.pth'}" in line
    assert info.sha256 in line
    assert not (cache_dir / "sam_vit_b_01ec64.pth").exists()


@pytest.fixture
def served_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[weights_lib.WeightsInfo]:
    """The vit_b record pointed at a small file served over HTTP on localhost."""
    root = tmp_path / "server"
    root.mkdir()
    (root / "fake_vit_b.pth").write_bytes(PAYLOAD)
    handler = functools.partial(QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    info = dataclasses.replace(
        weights_lib.OFFICIAL_WEIGHTS["vit_b"],
        file_name="fake_vit_b.pth",
        url=f"http://127.0.0.1:{server.server_address[1]}/fake_vit_b.pth",
        num_bytes=len(PAYLOAD),
        sha256=hashlib.sha256(PAYLOAD).hexdigest(),
    )
    monkeypatch.setitem(weights_lib.OFFICIAL_WEIGHTS, "vit_b", info)
    try:
        yield info
    finally:
        server.shutdown()
        server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def test_download_list_path_verify_round_trip(
    cache_dir: Path, served_weights: weights_lib.WeightsInfo, tmp_path: Path
) -> None:
    result = run_cli("weights", "download", "vit_b")
    assert result.code == 0, result.err
    target = cache_dir / "fake_vit_b.pth"
    assert result.out.strip() == str(target)
    assert target.read_bytes() == PAYLOAD
    assert run_cli("weights", "path", "vit_b").code == 0
    listed = json.loads(run_cli("weights", "list", "--json").out)
    assert {row["name"]: row["present"] for row in listed["weights"]} == {
        "vit_h": False,
        "vit_l": False,
        "vit_b": True,
    }
    verified = run_cli("weights", "verify", target)
    assert verified.code == 0 and "is vit_b" in verified.out
    assert run_cli("weights", "verify", target, "--name", "vit_b").code == 0
    # A file of the right size but other bytes fails, saying what to do.
    forged = tmp_path / "forged.pth"
    forged.write_bytes(b"x" * len(PAYLOAD))
    assert_one_line_error(
        run_cli("weights", "verify", forged), "is not vit_b", "segany weights download vit_b"
    )
    # The default model is now these "weights"; they are no checkpoint, which is a one-line error.
    segment = run_cli("segment", FIXTURES / "chelsea.jpg", "--point", "5,5", "--out", tmp_path / "o")
    assert_one_line_error(segment, "cannot use", "fake_vit_b.pth")


def test_verify_errors(tmp_path: Path) -> None:
    small = tmp_path / "small.pth"
    small.write_bytes(b"abc")
    assert_one_line_error(run_cli("weights", "verify", small), "size of no known checkpoint")
    assert_one_line_error(run_cli("weights", "verify", small, "--name", "vit_h"), "is not vit_h", "expected")
    assert_one_line_error(run_cli("weights", "verify", tmp_path / "missing.pth"), "file not found")

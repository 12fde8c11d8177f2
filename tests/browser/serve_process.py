"""A real `segany serve` process on a free loopback port, for the browser tests and the benchmark."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServeProcess:
    """`segany serve ARGS` in a subprocess; `url` once `/api/info` answers.

    Args:
        args: model options, e.g. ["--model", "segany_small"] or ["--model", "vit_b", "--random-weights"].
        images_dir: the gallery folder; cache_dir: embeddings and the exported decoder.
        threads: torch/BLAS threads of the server (None: inherit the environment).
    """

    def __init__(
        self,
        args: list[str],
        images_dir: Path,
        cache_dir: Path,
        log_path: Path,
        threads: int | None = None,
        start_timeout_s: float = 180.0,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [
            sys.executable,
            "-m",
            "segany.cli.main",
            "serve",
            *args,
            "--images",
            str(images_dir),
            "--cache-dir",
            str(cache_dir),
            "--port",
            str(self.port),
        ]
        env = dict(os.environ)
        if threads is not None:
            env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
        self.log_path = log_path
        self._log = log_path.open("w")
        self.process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT, env=env)
        self.info = self._wait_ready(start_timeout_s)

    def _wait_ready(self, timeout_s: float) -> dict[str, object]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"segany serve exited with {self.process.returncode}: {self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/info", timeout=5) as response:
                    return dict(json.load(response))
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.25)
        self.close()
        raise TimeoutError(f"segany serve did not answer within {timeout_s:.0f} s: {self.log_tail()}")

    def log_tail(self, chars: int = 3000) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-chars:]

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


@contextmanager
def serving(args: list[str], images_dir: Path, cache_dir: Path, log_path: Path) -> Iterator[ServeProcess]:
    """`with serving([...], photos, cache, log) as server:` a ServeProcess, stopped on exit."""
    process = ServeProcess(args, images_dir, cache_dir, log_path)
    try:
        yield process
    finally:
        process.close()

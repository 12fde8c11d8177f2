"""Bounded loopback load test of `segany serve`: N clients hovering on different photos at once.

Starts `segany serve` as a subprocess on 127.0.0.1 (a real uvicorn), then N client threads (httpx), one
photo each: open the photo (POST /encode, then hover until the first mask: "open -> first mask"), then
`--hovers` hover requests (POST /hover: one positive point, the best mask back as binary RLE, as the page
sends them) at random points, each waiting for the previous answer (a client never queues stale requests,
as the page's "latest wins").

Reports, side by side:
- hover latency over HTTP (p50 / p95 / max), errors, requests per second;
- the same prompts through the route's own `hover_mask` on an in-process `SamPredictor` (no HTTP, one
  thread): the reference the server adds its overhead and its queueing to;
- the server's resident memory (VmRSS, sampled every 50 ms) before the clients and at its peak, against
  the embedding cache's byte bound (`--cache-mb`) and what the cache says it holds (/api/info).

    python benchmarks/load_serve.py [--clients 4] [--hovers 50] [--model segany_small] [--cache-mb 64]
    python benchmarks/load_serve.py --model vit_b --random-weights --clients 2 --hovers 30
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED_IMAGES = REPO.parent / "shared" / "images"
FIXTURE_IMAGES = REPO / "tests" / "fixtures"
CSRF = {"X-Segany-Client": "1"}


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def rss_bytes(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class RssSampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.stop = pid, 0, threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, rss_bytes(self.pid))
            time.sleep(0.05)


def pick_photos(folder: Path | None, count: int) -> list[Path]:
    source = folder or (SHARED_IMAGES if SHARED_IMAGES.is_dir() else FIXTURE_IMAGES)
    photos = sorted(p for p in source.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if len(photos) < count:
        raise SystemExit(f"need {count} photos in {source}, found {len(photos)}")
    return photos[:count]


def start_server(args: argparse.Namespace, gallery: Path, cache: Path) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    command = [
        sys.executable, "-m", "segany.cli.main", "serve", "--images", str(gallery), "--port", str(port),
        "--cache-dir", str(cache), "--cache-mb", str(args.cache_mb), "--model", args.model,
    ]  # fmt: skip
    if args.random_weights:
        command.append("--random-weights")
    if args.threads is not None:
        command += ["--threads", str(args.threads)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    if not line.startswith("segany serve: "):
        process.kill()
        raise SystemExit(f"the server did not start: {line!r}")
    url = line.split(": ", 1)[1].rstrip("/")
    for _ in range(600):
        try:
            httpx.get(f"{url}/api/info", timeout=2)
            return process, url
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit("the server did not answer within 60 s")


def hover_points(width: int, height: int, count: int, seed: int) -> list[list[float]]:
    rng = np.random.default_rng(seed)
    return [[float(rng.uniform(0, width - 1)), float(rng.uniform(0, height - 1))] for _ in range(count)]


def run_client(url: str, image: dict[str, Any], hovers: int, seed: int, out: dict[str, Any]) -> None:
    latencies: list[float] = []
    errors: list[str] = []
    points = hover_points(image["width"], image["height"], hovers, seed)
    hover_url = f"{url}/api/images/{image['id']}/hover"
    pixels = image["width"] * image["height"]

    def hover(point: list[float]) -> None:
        response = client.post(hover_url, json={"x": point[0], "y": point[1]}, headers=CSRF)
        if response.status_code != 200:
            errors.append(f"{response.status_code}: {response.text[:200]}")
        elif int(np.frombuffer(response.content, dtype="<u4").sum()) != pixels:
            errors.append(f"hover answer does not cover the {image['width']}x{image['height']} image")

    with httpx.Client(timeout=600) as client:
        opened = time.perf_counter()
        client.post(f"{url}/api/images/{image['id']}/encode", headers=CSRF)
        hover(points[0])
        out["open_to_first_mask"] = time.perf_counter() - opened
        for point in points:
            start = time.perf_counter()
            hover(point)
            latencies.append(time.perf_counter() - start)
    out.update(latencies=latencies, errors=errors, points=points)


def direct_reference(args: argparse.Namespace, photo: Path, points: list[list[float]]) -> list[float]:
    """The same hover prompts through an in-process SamPredictor (the floor the server adds to)."""
    import torch

    from segany.cli.models import random_model, resolve_model
    from segany.io import load_image
    from segany.predictor import SamPredictor
    from segany.server.hover import hover_mask

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    sam, _ = random_model(args.model) if args.random_weights else resolve_model(args.model, "cpu")
    predictor = SamPredictor(sam.eval())
    predictor.set_image(load_image(photo))
    predictor.prepare_decoder()  # the image's decoder cache, as the server builds it
    times = []
    for point in points:
        start = time.perf_counter()
        hover_mask(predictor, point[0], point[1])  # what the /hover route runs
        times.append(time.perf_counter() - start)
    return times


def torch_threads(args: argparse.Namespace) -> int:
    import torch

    return int(torch.get_num_threads())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--hovers", type=int, default=50, help="hover requests per client")
    parser.add_argument("--model", default="segany_small")
    parser.add_argument("--random-weights", action="store_true")
    parser.add_argument(
        "--images", type=Path, default=None, help="photo folder (default: shared demo photos)"
    )
    parser.add_argument("--cache-mb", type=float, default=64.0, help="server's embedding cache bound in MiB")
    parser.add_argument("--threads", type=int, default=None, help="torch threads, server and reference alike")
    parser.add_argument("--no-reference", action="store_true", help="skip the in-process predictor run")
    args = parser.parse_args()

    photos = pick_photos(args.images, args.clients)
    with tempfile.TemporaryDirectory(prefix="segany-load-") as temporary:
        gallery, cache = Path(temporary) / "gallery", Path(temporary) / "cache"
        gallery.mkdir()
        for photo in photos:
            shutil.copy(photo, gallery / photo.name)
        process, url = start_server(args, gallery, cache)
        try:
            info = httpx.get(f"{url}/api/info").json()
            # The server exports the browser decoder in the background at start; let it finish first.
            httpx.get(f"{url}/api/decoder.onnx", timeout=600)
            images = {item["name"]: item for item in httpx.get(f"{url}/api/images").json()}
            rss_idle = rss_bytes(process.pid)
            sampler = RssSampler(process.pid)
            sampler.start()
            results: list[dict[str, Any]] = [{} for _ in photos]
            threads = [
                threading.Thread(
                    target=run_client, args=(url, images[photo.name], args.hovers, i, results[i])
                )
                for i, photo in enumerate(photos)
            ]
            started = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.perf_counter() - started
            sampler.stop.set()
            cache_info = httpx.get(f"{url}/api/info").json()["cache"]
        finally:
            process.terminate()
            process.wait(timeout=30)

    latencies = [t * 1000 for result in results for t in result["latencies"]]
    errors = [e for result in results for e in result["errors"]]
    opens = [result["open_to_first_mask"] for result in results]
    model = info["model"]
    print(
        f"model {model['name']} ({model['source']}), torch threads {args.threads or 'default'}, "
        f"{args.clients} clients x {args.hovers} hovers, "
        f"photos: {', '.join(p.name for p in photos)}"
    )
    print(
        f"hover over HTTP  : p50 {percentile(latencies, 50):7.1f} ms  p95 {percentile(latencies, 95):7.1f} ms  "
        f"max {max(latencies):7.1f} ms  ({len(latencies)} requests, {len(latencies) / elapsed:.1f}/s)"
    )
    print(f"errors           : {len(errors)}" + (f" (first: {errors[0]})" if errors else ""))
    print(
        f"open -> 1st mask : median {statistics.median(opens):.2f} s, max {max(opens):.2f} s "
        "(encoder queue shared by all clients)"
    )
    print(
        f"server RSS       : {rss_idle / 2**20:.0f} MiB idle (model loaded), peak {sampler.peak / 2**20:.0f} MiB "
        f"(+{(sampler.peak - rss_idle) / 2**20:.0f} MiB); embedding cache holds "
        f"{cache_info['memory_bytes_held'] / 2**20:.1f} MiB of its {cache_info['memory_bytes_limit'] / 2**20:.0f} "
        f"MiB bound ({cache_info['images_ready']} images)"
    )
    within = (
        cache_info["memory_bytes_held"] <= cache_info["memory_bytes_limit"] or cache_info["images_ready"] <= 1
    )
    print(
        f"verdict          : {'no errors' if not errors else f'{len(errors)} ERRORS'}, cache "
        f"{'within its bound' if within else 'OVER its bound'}"
    )
    if not args.no_reference:
        direct = [t * 1000 for t in direct_reference(args, photos[0], results[0]["points"])]
        print(
            f"in-process ref.  : p50 {percentile(direct, 50):7.1f} ms  p95 {percentile(direct, 95):7.1f} ms  "
            f"(segany.server.hover.hover_mask, {torch_threads(args)} torch threads, {photos[0].name}, same points as client 0)"
        )
        print(
            f"ratio HTTP / ref : p50 {percentile(latencies, 50) / percentile(direct, 50):.2f}x "
            f"(with {args.clients} clients sharing the CPU)"
        )
    if errors or not within:
        raise SystemExit(1)


if __name__ == "__main__":
    main()

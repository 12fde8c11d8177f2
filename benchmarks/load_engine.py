"""Bounded loopback load test of a data-engine project server: N annotators working at once.

Makes a project folder (N annotator accounts in one project, one photo each), starts `segany engine serve` as a
subprocess on 127.0.0.1, then N client threads (httpx), each logged in as its own annotator:
open its photo (encode), then for each mask: one click (predict through the gated single-user API), the
prompt event, and the accept of the best mask with a fresh idempotency key; every `--retry-every`-th accept
is sent twice (a client that lost the answer). Each client waits for each answer (as the page does).

Reports per request kind: p50 / p95 / max latency ("first" = the first click of a photo, which waits for its
encoding; "login" includes argon2 verification, deliberately slow), errors; then checks the database: every acknowledged
accept is there exactly once and nothing else is (no duplicates from the retries).

Exits 1 when any request failed, an acknowledged accept is missing or duplicated, or (with --max-p95-ms) a
p95 latency of predict / event / accept is above the bound.

    python benchmarks/load_engine.py [--clients 8] [--masks 10] [--model segany_small] [--db URL]
        [--max-p95-ms 1000] [--random-weights --model vit_tiny (a quick check that it runs)]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
import numpy as np

REPO = Path(__file__).resolve().parents[1]
FIXTURE_IMAGES = REPO / "tests" / "fixtures"
PHOTOS = ("chelsea.jpg", "astronaut.jpg", "dog.jpg", "rocket_portrait.jpg")
PASSWORD = "load-test-password"


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def make_project(folder: Path, clients: int, url: str | None = None) -> list[int]:
    """N annotators in project 1, one photo each (the fixture photos, cycled); returns the image ids."""
    from segany.engine.accounts import create_user
    from segany.engine.projects import add_image, add_member, create_project
    from segany.engine.store import open_store

    store = open_store(folder, url=url)
    ids = []
    with store.transaction() as db:
        project = create_project(db, "load")
        for k in range(clients):
            add_member(db, project, create_user(db, f"annotator{k}", PASSWORD, "annotator"))
            data = (FIXTURE_IMAGES / PHOTOS[k % len(PHOTOS)]).read_bytes()
            # distinct bytes per client (a trailing comment byte run keeps the JPEG valid) -> distinct images
            image, _ = add_image(db, store.blobs, project, data + bytes(k), f"photo{k}.jpg")
            ids.append(image.id)
    store.close()
    return ids


def run_client(url: str, k: int, image_id: int, masks: int, retry_every: int, out: dict[str, Any]) -> None:
    latencies: dict[str, list[float]] = defaultdict(list)
    errors: list[str] = []
    acknowledged: dict[str, int] = {}
    rng = np.random.default_rng(k)
    with httpx.Client(base_url=url, timeout=600, headers={"X-Segany-Client": "1"}) as client:

        def timed(kind: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
            start = time.perf_counter()
            response = client.request(method, path, **kwargs)
            latencies[kind].append(time.perf_counter() - start)
            if response.status_code >= 400:
                errors.append(f"{kind} {response.status_code}: {response.text[:160]}")
            return response

        login = timed(
            "login", "POST", "/api/engine/login", json={"username": f"annotator{k}", "password": PASSWORD}
        )
        client.headers["X-CSRF-Token"] = login.json()["csrf_token"]
        image = next(i for i in client.get("/api/engine/projects/1/images").json() if i["id"] == image_id)
        base = f"/api/engine/projects/1/images/{image_id}"
        timed("encode", "POST", f"/api/images/{image['server_id']}/encode")
        for m in range(masks):
            point = [float(rng.uniform(0, image["width"] - 1)), float(rng.uniform(0, image["height"] - 1))]
            kind = "first" if m == 0 else "predict"  # the first click waits for the photo's encoding
            prediction = timed(
                kind,
                "POST",
                f"/api/images/{image['server_id']}/predict",
                json={"points": [point], "labels": [1], "multimask": True},
            ).json()
            timed("event", "POST", f"{base}/events", json={"payload": {"points": [point]}})
            key = str(uuid.uuid4())
            body = {"idempotency_key": key, "mask": prediction["masks"][prediction["best"]]}
            for _ in range(2 if retry_every and m % retry_every == 0 else 1):
                answer = timed("accept", "POST", f"{base}/annotations", json=body)
                if answer.status_code in (200, 201):
                    acknowledged[key] = answer.json()["id"]
    out.update(latencies=latencies, errors=errors, acknowledged=acknowledged)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--masks", type=int, default=10, help="masks each annotator accepts")
    parser.add_argument("--retry-every", type=int, default=3, help="send every n-th accept twice (0: never)")
    parser.add_argument("--model", default="segany_small")
    parser.add_argument(
        "--random-weights", action="store_true", help="--model is an architecture, random weights"
    )
    parser.add_argument("--db", default=None, help="database URL (default: SQLite in the project folder)")
    parser.add_argument(
        "--max-p95-ms", type=float, default=None, help="fail above this p95 (predict/event/accept)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="segany-load-") as folder:
        project = Path(folder) / "project"
        image_ids = make_project(project, args.clients, args.db)
        port = free_port()
        database = ["--db", args.db] if args.db else []
        weights = ["--random-weights"] if args.random_weights else []
        server = subprocess.Popen(
            [sys.executable, "-m", "segany.cli.main", "engine", *database, "serve", str(project),
             "--model", args.model, "--port", str(port), *weights],
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(1200):
                try:
                    httpx.get(f"{url}/api/info", timeout=2)
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            outputs: list[dict[str, Any]] = [{} for _ in range(args.clients)]
            started = time.perf_counter()
            threads = [
                threading.Thread(
                    target=run_client, args=(url, k, image_ids[k], args.masks, args.retry_every, out)
                )
                for k, out in enumerate(outputs)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            wall = time.perf_counter() - started
        finally:
            server.terminate()
            server.wait(timeout=60)
        failed = report(args, outputs, wall, project)
    raise SystemExit(1 if failed else 0)


def report(args: argparse.Namespace, outputs: list[dict[str, Any]], wall: float, project: Path) -> bool:
    """Print the table and the database check; True when something failed."""
    merged: dict[str, list[float]] = defaultdict(list)
    for out in outputs:
        for kind, values in out.get("latencies", {}).items():
            merged[kind].extend(values)
    errors = [error for out in outputs for error in out.get("errors", ["client crashed"])]
    print(f"{args.clients} annotators x {args.masks} masks, model {args.model}, wall {wall:.1f} s")
    print(f"{'request':<8} {'n':>5} {'p50 ms':>9} {'p95 ms':>9} {'max ms':>9}")
    slow = []
    for kind in ("login", "encode", "first", "predict", "event", "accept"):
        values = merged.get(kind, [])
        bounded = args.max_p95_ms is not None and kind in ("predict", "event", "accept")
        if bounded and values and 1000 * percentile(values, 95) > args.max_p95_ms:
            slow.append(kind)
        print(
            f"{kind:<8} {len(values):>5} {1000 * percentile(values, 50):>9.1f} "
            f"{1000 * percentile(values, 95):>9.1f} {1000 * max(values, default=float('nan')):>9.1f}"
        )
    acknowledged = {key: value for out in outputs for key, value in out.get("acknowledged", {}).items()}
    from sqlalchemy import select

    from segany.engine.models import Annotation
    from segany.engine.store import open_store

    store = open_store(project, url=args.db, create=False)
    with store.session() as db:
        rows = [
            (key, row_id) for key, row_id in db.execute(select(Annotation.idempotency_key, Annotation.id))
        ]
    store.close()
    keys = [key for key, _ in rows]
    lost = {key for key in acknowledged if key not in dict(rows)}
    mismatched = {key for key, row_id in rows if acknowledged.get(key) not in (None, row_id)}
    print(f"errors: {len(errors)}" + (f" (first: {errors[0]})" if errors else ""))
    print(
        f"accepts acknowledged: {len(acknowledged)}, rows: {len(rows)}, duplicate keys: "
        f"{len(keys) - len(set(keys))}, lost: {len(lost)}, id mismatches: {len(mismatched)}, "
        f"rows not acknowledged: {len(set(keys) - set(acknowledged))}"
    )
    print(f"accepted masks per second: {len(acknowledged) / max(statistics.fmean([wall]), 1e-9):.2f}")
    if slow:
        print(f"p95 above {args.max_p95_ms} ms: {', '.join(slow)}")
    return bool(errors or lost or mismatched or len(keys) != len(set(keys)) or slow)


if __name__ == "__main__":
    main()

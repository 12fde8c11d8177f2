"""In-process hover timing (`hover_mask`, no HTTP) per torch thread count, from the main or a worker thread.

python benchmarks/prof_hover.py --model segany_small --threads 1 2 --worker-thread [--profile] [--background]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from segany.cli.models import random_model, resolve_model
from segany.predictor import SamPredictor
from segany.server.hover import hover_mask


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="segany_small")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--background", action="store_true", help="a nice-19 thread encodes meanwhile")
    parser.add_argument("--worker-thread", action="store_true", help="hover from a non-main thread")
    args = parser.parse_args()
    if args.model == "vit_b":
        sam, _ = random_model("vit_b")
    else:
        sam, _ = resolve_model(args.model, "cpu")
    sam.eval()
    predictor = SamPredictor(sam)
    image = np.asarray(Image.open(REPO / "tests" / "fixtures" / "dog.jpg").convert("RGB"))
    predictor.set_image(image)
    predictor.prepare_decoder()
    height, width = image.shape[:2]
    if args.background:
        import threading

        from segany.server.priority import lower_thread_priority

        def encode_forever() -> None:
            lower_thread_priority(19)
            encoder = SamPredictor(sam)
            while True:
                encoder.set_image(image)

        threading.Thread(target=encode_forever, daemon=True).start()
        time.sleep(1.0)
    rng = np.random.default_rng(0)
    points = rng.uniform([0, 0], [width, height], size=(args.n, 2))
    if args.worker_thread:
        import threading

        worker = threading.Thread(target=run, args=(args, predictor, points))
        worker.start()
        worker.join()
    else:
        run(args, predictor, points)


def run(args: argparse.Namespace, predictor: SamPredictor, points: np.ndarray) -> None:
    for threads in args.threads:
        torch.set_num_threads(threads)
        for x, y in points[:10]:
            hover_mask(predictor, float(x), float(y))
        stages: dict[str, list[float]] = {}
        totals = []
        for x, y in points:
            t0 = time.perf_counter()
            mask = hover_mask(predictor, float(x), float(y))
            totals.append((time.perf_counter() - t0) * 1000)
            for k, v in mask.timings_ms.items():
                stages.setdefault(k, []).append(v)
        med = {k: float(np.median(v)) for k, v in stages.items()}
        print(
            f"threads {threads}: total p50 {np.median(totals):.2f} p95 {np.percentile(totals, 95):.2f} ms; "
            + " ".join(f"{k} {v:.2f}" for k, v in med.items()),
            flush=True,
        )
        if args.profile:
            from torch.profiler import ProfilerActivity, profile

            with profile(activities=[ProfilerActivity.CPU]) as prof:
                for x, y in points[:20]:
                    hover_mask(predictor, float(x), float(y))
            print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=30))


if __name__ == "__main__":
    main()

"""The prompt path alone (no image encoder): `predict` and `predict_low_res_torch` from a fixed embedding.

For A/B runs of two checkouts (each with its own environment) where an encoder pass would drown the prompt
path in noise: the model has seeded random weights, the embedding is seeded noise of a 2250 x 1500 photo.
Only the public API is used, so the script runs against any segany version. Prints one JSON line of medians.

    python benchmarks/bench_prompts.py [--model vit_b] [--repeats 30] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch

from segany import SamPredictor, sam_model_registry


def median_seconds(call: Callable[[], object], repeats: int) -> float:
    call()  # warm-up (builds the decoder's image cache)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="vit_b")
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = sam_model_registry[args.model]().eval()
    predictor = SamPredictor(model)
    height, width = 1500, 2250
    embedding = torch.randn(1, 256, 64, 64, generator=torch.Generator().manual_seed(1))
    predictor.set_image_embedding(embedding.numpy(), original_size=(height, width))
    point, label = np.array([[width * 0.5, height * 0.6]]), np.array([1])
    grid = torch.rand(64, 1, 2, generator=torch.Generator().manual_seed(2)) * 1024
    with torch.inference_mode():
        results = {
            "predict_1_point_s": median_seconds(lambda: predictor.predict(point, label), args.repeats),
            "low_res_64_points_s": median_seconds(
                lambda: predictor.predict_low_res_torch(grid, torch.ones(64, 1, dtype=torch.int64)),
                max(3, args.repeats // 5),
            ),
        }
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), **results}))


if __name__ == "__main__":
    main()

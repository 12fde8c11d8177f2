"""Encoder latency and size of the small models: segany_small (v1) beside the segany_small_lite0 candidate.

    python benchmarks/bench_small_encoders.py [--threads 2] [--repeats 7]

Times `sam.image_encoder` on one preprocessed 512 x 512 input (what a 1024-px photo becomes), float32, after a
warm-up, and prints medians with the ratio to v1, plus parameter counts and the fp16 size of the whole model.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from segany.registry import build_sam, resolve_config


def time_encoder(name: str, repeats: int) -> tuple[float, int, float]:
    sam = build_sam(resolve_config(name)).eval()
    x = torch.randn(1, 3, sam.image_size, sam.image_size)
    times = []
    with torch.inference_mode():
        sam.image_encoder(x)
        for _ in range(repeats):
            start = time.perf_counter()
            sam.image_encoder(x)
            times.append(time.perf_counter() - start)
    enc_params = sum(p.numel() for p in sam.image_encoder.parameters())
    fp16_mb = sum(t.numel() for t in sam.state_dict().values()) * 2 / 2**20
    return statistics.median(times), enc_params, fp16_mb


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--models", nargs="+", default=["segany_small", "segany_small_lite0"])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    base = None
    for name in args.models:
        median, params, size = time_encoder(name, args.repeats)
        base = base or median
        print(
            f"{name:18s} encoder median {median * 1000:7.1f} ms ({median / base:.2f}x v1) at {args.threads} "
            f"threads; encoder {params / 1e6:.2f} M params; whole model {size:.1f} MiB fp16"
        )


if __name__ == "__main__":
    main()

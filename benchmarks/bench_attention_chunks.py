"""One global-attention layer of the vit_b encoder (64 x 64 tokens, 12 heads) under two chunk policies.

The fused attention builds the relative-position bias chunk by chunk. `segany` chunks to at least
`_MIN_CHUNK_QUERIES` (768) queries per call, grouping heads to stay within the bias budget; setting the minimum
to 1 gives the earlier policy (all heads, as many query rows as the budget holds: 5 rows of 64 queries on this
grid). Both policies run interleaved in one process on the same random layer and input; prints the medians,
their ratio and the largest difference between the two outputs.

    python benchmarks/bench_attention_chunks.py [--repeats 7] [--threads 2]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from segany.modeling import vit_attention
from segany.modeling.vit_attention import Attention
from segany.modeling.workspace import Workspace

GRID = (64, 64)
HEADS, DIM = 12, 768


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    layer = Attention(DIM, HEADS, use_rel_pos=True, input_size=GRID).eval()
    with torch.no_grad():  # the relative-position tables start at zero: give the bias real values
        layer.rel_pos_h.normal_(std=0.1)
        layer.rel_pos_w.normal_(std=0.1)
    x = torch.randn(1, *GRID, DIM)
    policies = {"earlier (min 1 query)": 1, "segany (min 768 queries)": vit_attention._MIN_CHUNK_QUERIES}
    times: dict[str, list[float]] = {name: [] for name in policies}
    outputs: dict[str, torch.Tensor] = {}
    workspace = Workspace()  # one per run, as in an encoder forward pass: buffers are reused across calls
    with torch.inference_mode():
        for _ in range(args.repeats + 1):  # the first round warms up and is dropped
            for name, minimum in policies.items():
                vit_attention._MIN_CHUNK_QUERIES_BY_DEVICE["cpu"] = minimum
                start = time.perf_counter()
                outputs[name] = layer(x, workspace)
                times[name].append(time.perf_counter() - start)
    earlier, ours = (statistics.median(t[1:]) for t in times.values())
    diff = (outputs["earlier (min 1 query)"] - outputs["segany (min 768 queries)"]).abs().max().item()
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, grid {GRID}, heads {HEADS}")
    for name, values in times.items():
        print(
            f"{name}: median {statistics.median(values[1:]):.3f} s  runs {[round(t, 3) for t in values[1:]]}"
        )
    print(f"speed-up {earlier / ours:.2f}x; max |difference| between the outputs {diff:.2e}")


if __name__ == "__main__":
    main()

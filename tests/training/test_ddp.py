"""Two-process DistributedDataParallel on CPU (gloo) launched with torchrun on a free local port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import torch

WORKER = Path(__file__).resolve().parent / "ddp_worker.py"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_two_cpu_processes_keep_identical_parameters(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("RANK", None)
    env.pop("WORLD_SIZE", None)
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--nnodes",
        "1",
        "--master_addr",
        "127.0.0.1",
        "--master_port",
        str(free_port()),
        str(WORKER),
        str(tmp_path),
    ]
    done = subprocess.run(command, check=False, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    assert [r["world_size"] for r in ranks] == [2, 2] and ranks[0]["is_ddp"] == "DistributedDataParallel"
    first, second = ranks[0]["final"], ranks[1]["final"]
    assert all(torch.equal(first[k], second[k]) for k in first)  # identical after 3 steps
    assert any(not torch.equal(first[k], ranks[0]["initial"][k]) for k in first)  # and they did train
    assert all(torch.equal(ranks[0]["initial"][k], ranks[1]["initial"][k]) for k in first)
    # Rank r reads stream items r, r + 2, ...: its position (one past its last item) has parity 1 - r.
    assert ranks[0]["position"] % 2 == 1 and ranks[1]["position"] % 2 == 0
    assert min(r["position"] for r in ranks) >= 6  # 3 steps x 2 micro-batches each
    run = tmp_path / "run"
    assert (run / "checkpoints" / "last.pt").is_file() and (run / "model.pt").is_file()
    rows = (run / "log.csv").read_text().strip().splitlines()
    assert len(rows) == 4  # header + 3 steps, written once (rank 0 only)
    state = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    assert state["world_size"] == 2 and len(state["rank_states"]) == 2
    assert [s["loader"]["position"] for s in state["rank_states"]] == [r["position"] for r in ranks]

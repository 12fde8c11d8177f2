"""Run-time pieces of the trainer: the resolved config, the device, per-step seeds, graceful Ctrl-C."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from segany.training.config import TrainConfig
from segany.training.distributed import DistInfo
from segany.training.optim import default_decay_steps


def resolve_train_config(config: TrainConfig, device: torch.device) -> TrainConfig:
    """The config with defaults made explicit (decay steps, device, effective amp, cache folder)."""
    changes: dict[str, Any] = {"device": device.type}
    if config.lr_decay_steps is None:
        changes["lr_decay_steps"] = default_decay_steps(config.steps)
    if device.type != "cuda":
        changes["amp"] = "none"
    if config.mode == "decoder" and config.cache_dir is None:
        changes["cache_dir"] = str(Path(config.out_dir) / "embedding_cache")
    if config.mode == "finetune" and not config.init_checkpoint:
        raise ValueError("mode finetune needs init_checkpoint (e.g. an official sam_vit_b_01ec64.pth)")
    return config.replace(**changes)


def pick_device(name: str, dist_info: DistInfo) -> torch.device:
    if name == "cuda" or (name == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise ValueError("device cuda: CUDA is not available; use device cpu or auto")
        return torch.device("cuda", dist_info.local_rank)
    return torch.device("cpu")


def step_seeds(seed: int, rank: int, step: int) -> tuple[int, int]:
    """(global torch seed for drop path, prompt-simulation seed) of one optimiser step on one rank."""
    a, b = np.random.SeedSequence([seed, rank, step]).generate_state(2, dtype=np.uint64)
    return int(a & 0x7FFF_FFFF_FFFF_FFFF), int(b & 0x7FFF_FFFF_FFFF_FFFF)


class StopRequest:
    """First Ctrl-C: finish the current step, checkpoint, then stop; a second one stops at once."""

    def __init__(self) -> None:
        self.requested = False

    @contextmanager
    def installed(self, enabled: bool) -> Iterator[None]:
        if not enabled or threading.current_thread() is not threading.main_thread():
            yield
            return

        def handler(signum: int, frame: Any) -> None:
            if self.requested:
                raise KeyboardInterrupt
            self.requested = True
            tqdm.write("stopping after this step (Ctrl-C again to stop now)", file=sys.stderr)

        previous = signal.signal(signal.SIGINT, handler)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)

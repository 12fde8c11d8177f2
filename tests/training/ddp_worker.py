"""Run under torchrun by test_ddp.py: a few DDP steps on CPU (gloo), then each rank saves what it has."""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from training_testing import tiny_config

from segany.training import Trainer


def main(out: str) -> None:
    torch.set_num_threads(1)
    out_dir = Path(out)
    trainer = Trainer(
        tiny_config(
            out_dir / "run", steps=3, warmup_steps=1, batch_size=1, grad_accum_steps=2, drop_path_rate=0.2
        )
    )
    initial = {k: v.clone() for k, v in trainer.sam.state_dict().items()}
    metrics = trainer.train()
    rank = trainer.dist.rank
    torch.save(
        {
            "rank": rank,
            "world_size": trainer.dist.world_size,
            "initial": initial,
            "final": trainer.sam.state_dict(),
            "position": trainer.loader.state_dict()["position"],
            "loss": metrics["loss"],
            "is_ddp": type(trainer.engine).__name__,
        },
        out_dir / f"rank{rank}.pt",
    )
    trainer.close()
    torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1])

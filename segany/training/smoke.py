"""One-command smoke run: a tiny SAM trained for 20 steps on the fixture data, on a CPU in about a minute.

    python -m segany.training.smoke [--out runs/smoke] [--steps 20] [--data-root tests/fixtures/segdata]

Exercises the whole recipe (augmentation, 11 interactive iterations, layer-wise lr decay, warmup and
step decay, checkpoints, CSV log, model.pt); the model learns little in 20 steps. Evaluate it with
    python -m segany.training.cli_eval --model runs/smoke --data folder:tests/fixtures/segdata/davis \
        --out runs/smoke/eval --max-clicks 3
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from segany.training.config import TrainConfig

DEFAULT_DATA_ROOT = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "segdata"
TINY_ENCODER = {"embed_dim": 32, "depth": 2, "num_heads": 2, "global_attn_indexes": [1]}


def smoke_config(
    out_dir: str | Path, steps: int = 20, data_root: str | Path = DEFAULT_DATA_ROOT
) -> TrainConfig:
    root = Path(data_root)
    if not (root / "weizmann_horse" / "images").is_dir():
        raise FileNotFoundError(
            f"fixture data not found under {root} (pass --data-root tests/fixtures/segdata)"
        )
    return TrainConfig(
        encoder=dict(TINY_ENCODER),
        image_size=256,
        prompt_embed_dim=64,
        data=[
            f"folder:{root / 'weizmann_horse'}",
            f"folder:{root / 'davis'}",
            f"folder:{root / 'camvid'}:semantic@0.5",
        ],
        steps=steps,
        warmup_steps=max(steps // 5, 1),
        max_masks_per_image=4,
        checkpoint_every=max(steps // 2, 1),
        out_dir=str(out_dir),
        device="cpu",
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m segany.training.smoke", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--out", default="runs/smoke", help="run folder (default runs/smoke)")
    parser.add_argument("--steps", type=int, default=20, help="optimiser steps (default 20)")
    parser.add_argument("--data-root", default=str(DEFAULT_DATA_ROOT), help="the fixture segdata folder")
    args = parser.parse_args(None if argv is None else list(argv))
    from segany.training.trainer import MODEL_FILE, Trainer

    trainer = Trainer(smoke_config(args.out, args.steps, args.data_root))
    metrics = trainer.train()
    print(
        f"smoke run done: {trainer.step} steps, loss {metrics['loss']:.4f}, last-iteration IoU "
        f"{metrics['iou_last']:.3f}; {trainer.run_dir / MODEL_FILE}, {trainer.run_dir / 'log.csv'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

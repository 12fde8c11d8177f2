"""`segany train [CONFIG.json] [--flag VALUE ...]`: train or fine-tune SAM with the paper's recipe.

Settings come from TrainConfig defaults, then the JSON config file, then flags (every TrainConfig field
has a flag: --max-masks-per-image 16, --no-augment, --data shared:horses:train@2 folder:my_data). The
resolved settings are saved as <out_dir>/config.json, which is itself a valid CONFIG.json.
Several GPUs / nodes: launch with torchrun, e.g.
    torchrun --nproc_per_node 8 -m segany.training.cli_train CONFIG.json
Also runnable without the segany CLI: python -m segany.training.cli_train CONFIG.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from segany.training.config import add_config_flags, config_from_args

EXAMPLES = """
  segany train --data shared:horses:train --mode decoder --init-checkpoint sam_vit_b_01ec64.pth --model vit_b
  segany train my_run.json --steps 2000 --lr 1e-4
  segany train runs/horses/config.json --resume auto      (continue an interrupted run)
  torchrun --nproc_per_node 2 -m segany.training.cli_train my_run.json
"""


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """Add `segany train`'s arguments: an optional CONFIG.json, --print-config and one flag per setting."""
    parser.add_argument(
        "config",
        nargs="?",
        default=None,
        metavar="CONFIG.json",
        help="JSON object of TrainConfig settings (flags override it)",
    )
    parser.add_argument(
        "--print-config",
        action="store_true",
        default=False,
        help="print the settings as JSON and exit without training",
    )
    add_config_flags(parser)


def run_train(args: argparse.Namespace) -> int:
    """Run `segany train` with parsed arguments; returns the exit code (0 on success).

    Raises ValueError / FileNotFoundError for bad settings or data (the CLI prints them as one line).
    """
    config = config_from_args(args, args.config)
    if getattr(args, "print_config", False):
        print(json.dumps(config.to_dict(), indent=2))
        return 0
    from segany.training.distributed import shutdown
    from segany.training.trainer import MODEL_FILE, Trainer

    trainer = Trainer(config)
    try:
        metrics = trainer.train()
    finally:
        trainer.close()
        shutdown(trainer.dist)
    if trainer.dist.is_main:
        summary = ", ".join(
            f"{k} {metrics[k]:.4f}" for k in ("loss", "iou_first", "iou_last") if k in metrics
        )
        print(
            f"trained {trainer.step} steps ({summary}); weights: {trainer.run_dir / MODEL_FILE}, "
            f"log: {trainer.run_dir / 'log.csv'}"
        )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="segany train",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        epilog="examples:\n" + EXAMPLES.strip("\n"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_train_arguments(parser)
    return run_train(parser.parse_args(None if argv is None else list(argv)))


if __name__ == "__main__":
    sys.exit(main())

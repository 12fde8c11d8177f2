"""`segany train`: the paper's interactive training recipe (`segany.training`; options in `TrainConfig`)."""

from __future__ import annotations

import argparse
from typing import Any

from segany.cli.common import subcommand_parser


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    from segany.training import cli_train

    parser = subcommand_parser(
        subparsers,
        "train",
        "train or fine-tune a model (full, finetune, decoder-only)",
        __doc__ or "",
        cli_train.EXAMPLES,
    )
    cli_train.add_train_arguments(parser)
    parser.set_defaults(run=cli_train.run_train)
    return parser

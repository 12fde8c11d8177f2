"""`segany eval`: N-click and box mIoU tables (plus GrabCut baselines) on datasets with masks."""

from __future__ import annotations

import argparse
from typing import Any

from segany.cli.common import subcommand_parser


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    from segany.training import cli_eval

    parser = subcommand_parser(
        subparsers,
        "eval",
        "evaluate a model with the paper's click protocol",
        __doc__ or "",
        cli_eval.EXAMPLES,
    )
    cli_eval.add_eval_arguments(parser)
    parser.set_defaults(run=cli_eval.run_eval)
    return parser

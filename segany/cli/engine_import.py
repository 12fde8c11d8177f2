"""`segany engine import-auto PROJECT_DIR RUN_DIR --project NAME`: a finished `segany auto` run into a project.

The run's images are added by content (no duplicates, also when imported twice) and its masks become
`automatic` proposals for review, tagged with the run's model version (registered if new). Re-running the
command adds only what is missing.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from segany.cli.common import CliError, add_quiet_option, note, progress_bar


def add_import_auto_parser(actions: Any) -> argparse.ArgumentParser:
    """The ``import-auto`` action of `segany engine` (``actions``: its subparsers)."""
    parser: argparse.ArgumentParser = actions.add_parser(
        "import-auto",
        help="import a finished `segany auto` run for review",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("project_dir", metavar="PROJECT_DIR", help="engine project folder")
    parser.add_argument("run_dir", metavar="RUN_DIR", help="output folder of `segany auto` (its --out)")
    parser.add_argument("--project", required=True, help="project (name or id) to add the images to")
    add_quiet_option(parser)
    parser.set_defaults(run=run_import_auto)
    return parser


def run_import_auto(args: argparse.Namespace) -> int:
    from segany.formats.auto_run import read_index

    try:
        from segany.engine.auto_import import import_auto_run
        from segany.engine.errors import EngineError
        from segany.engine.store import open_store
    except ImportError as exc:
        raise CliError(
            f'`segany engine` needs the engine extra: pip install "segany[engine]" ({exc})'
        ) from exc
    try:
        total = len(read_index(args.run_dir))
    except ValueError as exc:
        raise CliError(f"RUN_DIR: {exc}") from None
    store = open_store(Path(args.project_dir), url=args.db, create=False)
    try:
        with progress_bar(args, total=total, unit="image") as bar:
            summary = import_auto_run(store, args.project, args.run_dir, on_image=lambda _: bar.update(1))
    except EngineError as exc:
        raise CliError(exc.detail) from None
    except ImportError as exc:  # a Parquet run without pyarrow
        raise CliError(str(exc)) from None
    finally:
        store.close()
    for image_id, reason in summary.failed:
        note(args, f"not imported: {image_id}: {reason}")
    print(f"{args.run_dir}: {summary.line()}")
    return 1 if summary.failed else 0

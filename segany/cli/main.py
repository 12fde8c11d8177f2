"""`segany` entry point: builds the parser from the subcommand modules and turns user errors into one line.

Exit codes: 0 success, 1 an error (or, for batch commands, at least one image failed), 2 bad command line,
130 interrupted. Set SEGANY_DEBUG=1 to see tracebacks instead of one-line errors.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence
from typing import NoReturn, TextIO

from segany.cli import auto as auto_command
from segany.cli import (
    embed,
    engine,
    eval_video,
    evaluate,
    everything,
    export,
    info,
    segment,
    serve,
    track,
    train,
    weights,
)
from segany.cli.common import PROG, CliError, Runner, debug_enabled, error, one_line, warn

EXAMPLES = """
  segany segment photo.jpg --point 220,140 --out out/
  segany everything photos/ --out masks/ --format coco --overlay
  segany embed photos/ --out embeddings/
  segany weights download vit_b
  segany train --data shared:horses:train --out runs/horses
  segany eval --model runs/horses --data shared:horses:test --out eval/
  segany info
  segany serve --images photos/
  segany track clip.mp4 --point 0,420,250 --out tracked/
  segany eval-video tracked/masks davis/blackswan/masks
  segany <command> --help      (options and examples of one command)

environment: SEGANY_CACHE_DIR (weights folder), SEGANY_MAX_IMAGE_PIXELS, SEGANY_DEBUG=1 (tracebacks)
"""

SUBCOMMANDS = (
    segment,
    everything,
    embed,
    weights,
    info,
    export,
    train,
    evaluate,
    serve,
    track,
    eval_video,
    auto_command,
    engine,
)


class CliParser(argparse.ArgumentParser):
    """argparse with one-line usage errors: `segany: error: <what> (see `segany segment --help`)`."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{PROG}: error: {one_line(message)} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    from segany import __version__

    parser = CliParser(
        prog=PROG,
        description="Segment Anything (SAM) from the command line.",
        epilog="examples:\n" + EXAMPLES.strip("\n"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"segany {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in SUBCOMMANDS:
        module.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI with `argv` (default: sys.argv[1:]); returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(None if argv is None else list(argv))
    except SystemExit as exit_:  # --help, --version, or a usage error already printed by argparse
        return int(exit_.code or 0) if not isinstance(exit_.code, str) else 2
    runner = getattr(args, "run", None)
    if runner is None:
        parser.print_help(sys.stderr)
        return 2
    return run_guarded(runner, args)


def run_guarded(runner: Runner, args: argparse.Namespace) -> int:
    """Call a subcommand; user errors (bad input, missing files, offline downloads) become one line."""
    if debug_enabled():
        return int(runner(args))
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        return _run_catching(runner, args)


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """Python warnings (from the library, torch, Pillow) as one line each."""
    warn(f"{message} ({category.__name__})")


def _run_catching(runner: Runner, args: argparse.Namespace) -> int:
    from segany.weights import WeightsDownloadError

    try:
        return int(runner(args))
    except KeyboardInterrupt:
        error("interrupted")
        return 130
    except (CliError, WeightsDownloadError, ValueError, FileNotFoundError) as exc:
        # ValueError covers the library's teaching errors: ImageLoadError, prompt checks, format errors.
        error(exc)
        return 1
    except PermissionError as exc:
        error(f"permission denied: {exc.filename or exc}")
        return 1
    except MemoryError:
        error("out of memory: try a smaller model (--model vit_b), a smaller image or --device cpu")
        return 1
    except RuntimeError as exc:
        if "out of memory" in str(exc).lower():
            error(f"out of memory on the device ({exc}); try --model vit_b or --device cpu")
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())

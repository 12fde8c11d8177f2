"""Pieces every subcommand shares: the user-error type, messages, progress bars, common flags, settings.json.

Messages go to stderr as one line each (`segany: error: ...`, `segany: warning: ...`); results (paths, tables,
summaries) go to stdout. Progress bars show only on a terminal and never with `--quiet`.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tqdm import tqdm

PROG = "segany"
SETTINGS_FILE = "settings.json"
DEBUG_ENV_VAR = "SEGANY_DEBUG"  # set to 1 to get tracebacks instead of one-line errors


class CliError(Exception):
    """A user error: printed as one line `segany: error: <message>`, exit code 1 (no traceback)."""


def one_line(text: object) -> str:
    """Collapse a (possibly multi-line) message to a single line."""
    return " ".join(str(text).split())


def debug_enabled() -> bool:
    return os.environ.get(DEBUG_ENV_VAR, "").strip() not in ("", "0")


# ------------------------------------------------------------------------------------------------ messages
def error(message: object) -> None:
    _write_stderr(f"{PROG}: error: {one_line(message)}")


def warn(message: object) -> None:
    """Warnings show even with --quiet."""
    _write_stderr(f"{PROG}: warning: {one_line(message)}")


def note(args: argparse.Namespace, message: object) -> None:
    """Progress information on stderr; silenced by --quiet."""
    if not getattr(args, "quiet", None):
        _write_stderr(f"{PROG}: {one_line(message)}")


def _write_stderr(line: str) -> None:
    # tqdm.write keeps an active progress bar intact.
    tqdm.write(line, file=sys.stderr)


def progress_enabled(args: argparse.Namespace) -> bool:
    return not getattr(args, "quiet", None) and sys.stderr.isatty()


def progress_bar(args: argparse.Namespace, **kwargs: Any) -> tqdm:
    """A tqdm bar on stderr, disabled off a terminal or with --quiet."""
    return tqdm(file=sys.stderr, disable=not progress_enabled(args), dynamic_ncols=True, **kwargs)


# ------------------------------------------------------------------------------------------------ flags
def add_model_options(parser: argparse.ArgumentParser, device: bool = True) -> None:
    """--model, --arch, --device (defaults None: `resolve_model` / `resolve_device` decide)."""
    group = parser.add_argument_group("model")
    group.add_argument(
        "--model",
        metavar="NAME|PATH",
        default=None,
        help="registry name (vit_h, vit_l, vit_b, default = vit_h, vit_tiny) or a checkpoint file "
        "(.pth / .safetensors; its architecture is inferred from the tensor shapes). "
        "Default: the largest official checkpoint in the cache (vit_h > vit_l > vit_b)",
    )
    group.add_argument(
        "--arch",
        metavar="NAME",
        default=None,
        help="architecture of a --model checkpoint file, when inference from its shapes is not wanted",
    )
    if device:
        group.add_argument(
            "--device",
            choices=("auto", "cpu", "cuda", "mps"),
            default=None,
            help="where to run: auto (default) = cuda if available, else mps, else cpu",
        )


def add_quiet_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-q", "--quiet", action="store_true", default=None, help="no progress bars or notes")


def subcommand_parser(
    subparsers: Any, name: str, help_text: str, description: str, examples: str
) -> argparse.ArgumentParser:
    """A subcommand parser with the examples in its epilog (shown by --help)."""
    result: argparse.ArgumentParser = subparsers.add_parser(
        name,
        help=help_text,
        description=description,
        epilog="examples:\n" + examples.strip("\n"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return result


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


# ------------------------------------------------------------------------------------------------ files
def output_dir(path: str | Path) -> Path:
    """Create (if needed) and return the output folder; a clear error if it cannot be."""
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise CliError(f"--out {folder} exists and is not a folder; give a folder path")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CliError(f"cannot create the output folder {folder} ({exc.strerror or exc})") from exc
    return folder


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary sibling path (same suffix) to write to; it replaces `target` only on success."""
    temporary = target.with_name(f".{target.stem}.tmp{os.getpid()}{target.suffix}")
    try:
        yield temporary
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def save_png(image: Any, target: Path) -> Path:
    """Save a PIL image as PNG atomically."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(target) as temporary:
        image.save(temporary, format="PNG", compress_level=1)
    return target


def write_json_file(document: Any, target: Path) -> Path:
    """Indented json, atomically."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(target) as temporary:
        temporary.write_text(json.dumps(document, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    return target


def settings_document(command: str, args: argparse.Namespace, **resolved: Any) -> dict[str, Any]:
    """What a run used: the command, every flag as given, and the resolved values (model, device, ...)."""
    from segany import __version__

    flags = {
        key: _jsonable(value)
        for key, value in sorted(vars(args).items())
        if not key.startswith("_") and not callable(value)
    }
    return {
        "command": command,
        "segany_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "flags": flags,
        **{key: _jsonable(value) for key, value in resolved.items()},
    }


def write_settings(out_dir: Path, document: dict[str, Any]) -> Path:
    return write_json_file(document, out_dir / SETTINGS_FILE)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


Runner = Callable[[argparse.Namespace], int]

"""Running a command over many images: names, a progress bar, resume, per-image failures and a summary.

An image whose complete output already exists is skipped (outputs are written atomically, so a file that
exists is complete). A file that fails (unreadable, corrupt, ...) is reported on one line and the run goes
on; the exit code is then 1.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from segany.cli.common import CliError, debug_enabled, error, progress_bar

# Errors of one image that say what is wrong with it (input, disk, memory); they are reported in one line. Any
# other exception is reported with its type and a hint, and the run goes on too (SEGANY_DEBUG=1 re-raises).
IMAGE_ERRORS = (ValueError, OSError, MemoryError)


@dataclass(frozen=True)
class ImageItem:
    path: Path  # the file
    name: Path  # its path relative to the input root (e.g. "sub/photo.jpg"): names the outputs


@dataclass
class BatchSummary:
    images: int = 0
    processed: int = 0
    skipped: int = 0
    failed: int = 0
    masks: int = 0
    seconds: float = 0.0

    def line(self, masks: bool = True) -> str:
        counts = (
            f"{self.images} image(s): {self.processed} processed, {self.skipped} skipped (already done), "
            f"{self.failed} failed"
        )
        parts = [counts]
        if masks:
            parts.append(f"{self.masks} masks")
        parts.append(f"{self.seconds:.1f} s")
        return "; ".join(parts)

    def to_dict(self) -> dict[str, float | int]:
        return dict(vars(self))


def collect_images(specs: str | Sequence[str], recursive: bool = False) -> list[ImageItem]:
    """The images of files / folders / globs (in the order given, each image once), each with its name
    relative to their common folder.

    Raises:
        CliError: nothing found for a spec, or two images would name the same outputs (same folder and stem).
    """
    from segany.io import iter_image_paths

    paths: list[Path] = []
    seen_paths: set[Path] = set()
    for spec in [specs] if isinstance(specs, str) else specs:
        try:
            found = iter_image_paths(spec, recursive=recursive)
        except ValueError as exc:
            raise CliError(str(exc)) from exc
        if not found:
            hint = " (add --recursive to search subfolders)" if Path(spec).is_dir() and not recursive else ""
            raise CliError(f"no image files found in {spec}{hint}")
        for path in found:
            if path.resolve() not in seen_paths:  # e.g. a file given alone and inside a folder given too
                seen_paths.add(path.resolve())
                paths.append(path)
    root = Path(os.path.commonpath([str(path.resolve().parent) for path in paths]))
    items = [ImageItem(path, path.resolve().relative_to(root)) for path in paths]
    seen: dict[Path, Path] = {}
    for item in items:
        key = item.name.with_suffix("")
        if key in seen:
            raise CliError(
                f"{seen[key]} and {item.path} would write the same outputs ({key}.*): rename one of them "
                "or process them separately"
            )
        seen[key] = item.path
    return items


def run_batch(
    args: argparse.Namespace,
    items: Sequence[ImageItem],
    process: Callable[[ImageItem], int],
    is_done: Callable[[ImageItem], bool],
    unit: str = "image",
) -> BatchSummary:
    """Call `process` (returns a mask count) for every item not yet done; report failures and go on."""
    summary = BatchSummary(images=len(items))
    start = time.perf_counter()
    with progress_bar(args, total=len(items), unit=unit) as bar:
        for item in items:
            bar.set_postfix_str(str(item.name), refresh=False)
            if is_done(item):
                summary.skipped += 1
            else:
                try:
                    summary.masks += process(item)
                    summary.processed += 1
                except Exception as exc:
                    if debug_enabled():
                        raise
                    summary.failed += 1
                    error(_failure_message(item, exc))
            bar.update(1)
    summary.seconds = time.perf_counter() - start
    return summary


def _is_out_of_memory(exc: BaseException) -> bool:
    return "out of memory" in str(exc).lower()


def _failure_message(item: ImageItem, exc: BaseException) -> str:
    from segany.io import ImageLoadError

    if isinstance(exc, ImageLoadError):  # already "cannot load image <path>: <reason>"
        return str(exc)
    if isinstance(exc, MemoryError) or (isinstance(exc, RuntimeError) and _is_out_of_memory(exc)):
        return f"{item.path}: out of memory (try a smaller model, or --device cpu)"
    if isinstance(exc, IMAGE_ERRORS):
        return f"{item.path}: {exc}"
    return f"{item.path}: unexpected {type(exc).__name__}: {exc} (SEGANY_DEBUG=1 shows the traceback)"

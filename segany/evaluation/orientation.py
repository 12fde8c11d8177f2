"""mIoU by photo orientation (portrait, landscape, square) from the per-object CSVs of `segany eval`.

A model trained mostly on landscape photos can fail on portrait ones while GrabCut does not (segany_small did:
issue 22), so every model card reports box and 1-click mIoU per orientation beside the overall figures. The
orientation is the photo's own (height > width: portrait), read from the image file's header; the eval's
letterboxing to a square input does not change it.

    python -m segany.evaluation.orientation EVAL_DIR_OR_CSV... [--data-root DIR] [--out FILE.md]

Each argument is an eval output folder (its `objects.csv`) or a CSV file. Rows of the "most_confident"
selection count (the box column belongs to it); datasets are named as in the CSV ("bsds500:test").
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from segany.evaluation.metrics import mean_iou

ORIENTATIONS = ("portrait", "landscape", "square")
SELECTION = "most_confident"


def orientation(width: int, height: int) -> str:
    """'portrait' (taller than wide), 'landscape' (wider than tall) or 'square'."""
    if width <= 0 or height <= 0:
        raise ValueError(f"width and height must be positive pixels, got {width} x {height}")
    if height > width:
        return "portrait"
    return "landscape" if width > height else "square"


def shared_orientations(dataset_split: str, root: str | Path | None = None) -> dict[str, str]:
    """{sample id (file stem): orientation} for one split of the shared data, e.g. "ccp:test"."""
    from segany.data.shared_splits import split_files
    from segany.training.data import DATASET_ALIASES

    dataset, _, split = dataset_split.partition(":")
    dataset = DATASET_ALIASES.get(dataset, dataset)
    if not split:
        raise ValueError(
            f"dataset must be NAME:SPLIT as in the eval CSV (e.g. ccp:test), got {dataset_split!r}"
        )
    found: dict[str, str] = {}
    for image_path, _ in split_files(dataset, split, root):
        with Image.open(image_path) as image:  # reads the header only
            found[image_path.stem] = orientation(*image.size)
    return found


@dataclass(frozen=True)
class OrientationRow:
    """mIoU (fractions; NaN when not measured) of one method on one dataset's photos of one orientation."""

    dataset: str
    method: str
    orientation: str
    n_objects: int
    box: float
    click_1: float


def read_object_rows(paths: Iterable[str | Path]) -> list[dict[str, str]]:
    """The rows of `objects.csv` files (eval folders or the files themselves), in order."""
    rows: list[dict[str, str]] = []
    for given in paths:
        path = Path(given)
        csv_path = path / "objects.csv" if path.is_dir() else path
        if not csv_path.is_file():
            raise FileNotFoundError(f"no per-object CSV at {csv_path} (an eval folder or its objects.csv)")
        with open(csv_path, newline="") as f:
            rows.extend(csv.DictReader(f))
    return rows


def _values(rows: Sequence[dict[str, str]], column: str) -> list[float]:
    return [float(row[column]) for row in rows if row.get(column)]


def orientation_rows(
    rows: Iterable[dict[str, str]], orientation_of: Callable[[str, str], str]
) -> list[OrientationRow]:
    """Group the most-confident rows by (dataset, method, orientation); `orientation_of(dataset, sample_id)`
    names each photo's orientation. Order: datasets and methods as first seen, then `ORIENTATIONS`."""
    groups: dict[tuple[str, str], dict[str, list[dict[str, str]]]] = {}
    for row in rows:
        if row["selection"] != SELECTION:
            continue
        kind = orientation_of(row["dataset"], row["sample_id"])
        groups.setdefault((row["dataset"], row["method"]), {}).setdefault(kind, []).append(row)
    result: list[OrientationRow] = []
    for (dataset, method), by_kind in groups.items():
        for kind in ORIENTATIONS:
            items = by_kind.get(kind, [])
            if items:
                box, click = _values(items, "box_iou"), _values(items, "iou_1")
                result.append(
                    OrientationRow(
                        dataset,
                        method,
                        kind,
                        len(items),
                        mean_iou(box) if len(box) == len(items) else math.nan,
                        mean_iou(click) if len(click) == len(items) else math.nan,
                    )
                )
    return result


def markdown_table(rows: Sequence[OrientationRow]) -> str:
    def percent(value: float) -> str:
        return "-" if math.isnan(value) else f"{100 * value:.1f}"

    lines = [
        "| dataset | method | orientation | objects | box mIoU | 1-click mIoU |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r.dataset} | {r.method} | {r.orientation} | {r.n_objects} | {percent(r.box)} | {percent(r.click_1)} |"
        for r in rows
    ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("evals", nargs="+", type=Path, help="eval output folders or their objects.csv files")
    parser.add_argument(
        "--data-root", type=Path, default=None, help="the shared data folder (default: found)"
    )
    parser.add_argument("--out", type=Path, default=None, help="also write the table to this markdown file")
    args = parser.parse_args(argv)
    cache: dict[str, dict[str, str]] = {}

    def orientation_of(dataset: str, sample_id: str) -> str:
        if dataset not in cache:
            cache[dataset] = shared_orientations(dataset, args.data_root)
        try:
            return cache[dataset][sample_id]
        except KeyError:
            raise ValueError(f"sample {sample_id!r} is not in the shared split {dataset!r}") from None

    table = markdown_table(orientation_rows(read_object_rows(args.evals), orientation_of))
    sys.stdout.write(table)
    if args.out is not None:
        args.out.write_text(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

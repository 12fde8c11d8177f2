"""mIoU tables (markdown + CSV), per-object CSV and an mIoU-vs-clicks plot from ObjectResult lists.

A table row is one method (a predictor name, with " (oracle)" appended for the oracle selection) on one
dataset; columns are mIoU after 1, 2, 3, 5, 9 clicks and with the (refined) GT box. The box column
belongs to the most-confident row only (box prompts give one mask, so no selection applies). A final
"mean" dataset (only with several datasets) averages each method's per-dataset mIoUs over the
datasets it was run on (the paper's mean over datasets). Markdown shows percentages; CSV shows fractions in [0, 1].
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from segany.evaluation.metrics import mean_iou
from segany.evaluation.protocol import CLICK_COUNTS, ObjectResult

MEAN_DATASET = "mean"


@dataclass
class MiouRow:
    """mIoU of one method on one dataset; values maps "1", "2", ..., "box" to a fraction (NaN = not run)."""

    dataset: str
    method: str
    n_objects: int
    values: dict[str, float]


def _row_label(method: str, selection: str) -> str:
    return method if selection == "most_confident" else f"{method} ({selection})"


def _columns(click_counts: Sequence[int]) -> list[str]:
    return [str(n) for n in click_counts] + ["box"]


def miou_rows(results: Sequence[ObjectResult], click_counts: Sequence[int] = CLICK_COUNTS) -> list[MiouRow]:
    """Rows per dataset (first-seen order) and method/selection, then, when there are several datasets,
    "mean" rows averaging each method over the datasets it was run on."""
    groups: dict[tuple[str, str], list[ObjectResult]] = {}
    for r in results:
        groups.setdefault((r.dataset, r.method), []).append(r)
    rows: list[MiouRow] = []
    for (dataset, method), items in groups.items():
        # A box-only run (no click selections) still gets its most-confident row, with the box column.
        selections = list(dict.fromkeys(s for r in items for s in r.click_ious)) or ["most_confident"]
        for selection in selections:
            values: dict[str, float] = {}
            for n in click_counts:
                ious = [
                    r.click_ious[selection][n - 1] for r in items if len(r.click_ious.get(selection, [])) >= n
                ]
                values[str(n)] = mean_iou(ious) if len(ious) == len(items) else math.nan
            box = [r.box_iou for r in items if r.box_iou is not None]
            values["box"] = mean_iou(box) if selection == "most_confident" and box else math.nan
            rows.append(MiouRow(dataset, _row_label(method, selection), len(items), values))
    if len({r.dataset for r in rows}) > 1:
        by_method: dict[str, list[MiouRow]] = {}
        for row in rows:
            by_method.setdefault(row.method, []).append(row)
        for method, method_rows in by_method.items():
            values = {c: mean_iou(r.values[c] for r in method_rows) for c in _columns(click_counts)}
            rows.append(MiouRow(MEAN_DATASET, method, sum(r.n_objects for r in method_rows), values))
    return rows


def _fmt(value: float, scale: float, digits: int) -> str:
    return "" if math.isnan(value) else f"{value * scale:.{digits}f}"


def write_tables(
    results: Sequence[ObjectResult],
    out_dir: str | Path,
    name: str = "miou",
    click_counts: Sequence[int] = CLICK_COUNTS,
) -> tuple[Path, Path]:
    """Write <out_dir>/<name>.md (a section per dataset, mIoU in %) and <name>.csv (fractions);
    returns (markdown path, csv path)."""
    rows = miou_rows(results, click_counts)
    if not rows:
        raise ValueError("results must hold at least one ObjectResult, got none")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cols = _columns(click_counts)
    header = ["method", "objects"] + [f"{c} click{'' if c == '1' else 's'}" for c in cols[:-1]] + ["box"]
    lines = ["# mIoU (%)", ""]
    for dataset in dict.fromkeys(r.dataset for r in rows):
        title = "mean over datasets" if dataset == MEAN_DATASET else dataset
        lines += [f"## {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for r in rows:
            if r.dataset == dataset:
                cells = [r.method, str(r.n_objects)] + [_fmt(r.values[c], 100.0, 1) for c in cols]
                lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    md_path = out / f"{name}.md"
    md_path.write_text("\n".join(lines))
    csv_path = out / f"{name}.csv"
    with open(csv_path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["dataset", "method", "n_objects"] + cols)
        for r in rows:
            writer.writerow([r.dataset, r.method, r.n_objects] + [_fmt(r.values[c], 1.0, 6) for c in cols])
    return md_path, csv_path


def write_object_csv(results: Sequence[ObjectResult], path: str | Path) -> Path:
    """One line per object and selection: dataset, method, sample_id, object_index, selection, the IoU
    after each click (iou_1, iou_2, ...), box_iou_initial, box_iou."""
    max_clicks = max((len(v) for r in results for v in r.click_ious.values()), default=0)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(
            ["dataset", "method", "sample_id", "object_index", "selection"]
            + [f"iou_{k + 1}" for k in range(max_clicks)]
            + ["box_iou_initial", "box_iou"]
        )
        for r in results:
            for selection, ious in r.click_ious.items():
                padded = [f"{v:.6f}" for v in ious] + [""] * (max_clicks - len(ious))
                boxes = ["" if v is None else f"{v:.6f}" for v in (r.box_iou_initial, r.box_iou)]
                writer.writerow(
                    [r.dataset, r.method, r.sample_id, r.object_index, selection] + padded + boxes
                )
    return path


def plot_miou(
    results: Sequence[ObjectResult], path: str | Path, click_counts: Sequence[int] = CLICK_COUNTS
) -> Path:
    """PNG with one panel per dataset (plus the mean): mIoU (%) vs number of clicks, a line per method.
    Needs matplotlib (pip install 'segany[train]')."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as err:  # optional dependency
        raise ImportError("plot_miou needs matplotlib: pip install 'segany[train]'") from err
    rows = miou_rows(results, click_counts)
    if not rows:
        raise ValueError("results must hold at least one ObjectResult, got none")
    datasets = list(dict.fromkeys(r.dataset for r in rows))
    fig = Figure(figsize=(4.0 * len(datasets), 3.5), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(datasets), squeeze=False)[0]
    for ax, dataset in zip(axes, datasets):
        for r in (r for r in rows if r.dataset == dataset):
            ys = [100.0 * r.values[str(n)] for n in click_counts]
            ax.plot(list(click_counts), ys, marker="o", label=r.method)
        ax.set_title("mean over datasets" if dataset == MEAN_DATASET else dataset)
        ax.set_xlabel("clicks")
        ax.set_ylabel("mIoU (%)")
        ax.set_xticks(list(click_counts))
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize="small")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    return path

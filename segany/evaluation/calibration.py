"""IoU-head calibration: how far a model's predicted IoU (the score SAM ranks masks by) is from the true IoU.

Everything mode and pre-filling rank and filter masks by the predicted IoU, so its error matters apart from
mask quality. Per (dataset, method): mean |predicted - true IoU| of the mask chosen after the first click
(most-confident selection, the 3-mask output) and of the first box prediction (single mask), and of both
together. Only methods that predict an IoU belong here (GrabCut's constant score of 1 does not).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from segany.evaluation.protocol import ObjectResult

SELECTION = "most_confident"


@dataclass
class CalibrationRow:
    """Mean absolute IoU-prediction errors (fractions; NaN where that prompt was not run) and mean scores."""

    dataset: str
    method: str
    n_click: int
    click_error: float
    n_box: int
    box_error: float
    all_error: float
    mean_predicted: float
    mean_true: float


def _pairs(items: Sequence[ObjectResult]) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """((score, IoU) after the first click, (score, IoU) of the first box prediction) over items."""
    clicks = [
        (r.click_scores[SELECTION][0], r.click_ious[SELECTION][0])
        for r in items
        if r.click_scores.get(SELECTION) and r.click_ious.get(SELECTION)
    ]
    boxes = [
        (r.box_score_initial, r.box_iou_initial)
        for r in items
        if r.box_score_initial is not None and r.box_iou_initial is not None
    ]
    return clicks, boxes


def _mean_error(pairs: Sequence[tuple[float, float]]) -> float:
    return float(np.mean([abs(p - t) for p, t in pairs])) if pairs else math.nan


def calibration_rows(results: Sequence[ObjectResult]) -> list[CalibrationRow]:
    """One row per (dataset, method) in first-seen order, then an "all" row per method over every dataset."""
    groups: dict[tuple[str, str], list[ObjectResult]] = {}
    for r in results:
        groups.setdefault((r.dataset, r.method), []).append(r)
    by_method: dict[str, list[ObjectResult]] = {}
    for (_, method), items in groups.items():
        by_method.setdefault(method, []).extend(items)
    keys = list(groups) + ([("all", m) for m in by_method] if len({d for d, _ in groups}) > 1 else [])
    rows = []
    for dataset, method in keys:
        items = groups[(dataset, method)] if dataset != "all" else by_method[method]
        clicks, boxes = _pairs(items)
        both = clicks + boxes
        rows.append(
            CalibrationRow(
                dataset,
                method,
                len(clicks),
                _mean_error(clicks),
                len(boxes),
                _mean_error(boxes),
                _mean_error(both),
                float(np.mean([p for p, _ in both])) if both else math.nan,
                float(np.mean([t for _, t in both])) if both else math.nan,
            )
        )
    return rows


def write_calibration(
    results: Sequence[ObjectResult], out_dir: str | Path, name: str = "calibration"
) -> Path:
    """<out_dir>/<name>.md: the calibration rows as a markdown table (errors and means in IoU points)."""
    rows = calibration_rows(results)
    if not rows:
        raise ValueError("results must hold at least one ObjectResult, got none")

    def pts(value: float) -> str:
        return "" if math.isnan(value) else f"{100 * value:.1f}"

    lines = [
        "# IoU-head calibration: mean |predicted - true IoU| (IoU points)",
        "",
        "| dataset | method | 1-click masks | error | box masks | error | all: error | mean predicted | mean true |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.dataset} | {r.method} | {r.n_click} | {pts(r.click_error)} | {r.n_box} | {pts(r.box_error)} "
            f"| {pts(r.all_error)} | {pts(r.mean_predicted)} | {pts(r.mean_true)} |"
        )
    path = Path(out_dir) / f"{name}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path

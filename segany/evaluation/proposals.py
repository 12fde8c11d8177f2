"""Everything-mode proposal recall: mask AR@k as in COCO (class-agnostic, all areas).

For each IoU threshold t in 0.50:0.05:0.95, the top-k proposals (in the given score order) are matched
one-to-one to GT masks greedily, as COCOeval does: each proposal in turn takes the still-unmatched GT with
the highest IoU, if that IoU is >= t. Recall at t is matched GT / all GT, summed over images before the
division; AR@k is the mean of the recalls over the 10 thresholds. Mask IoUs come from pycocotools RLEs.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pycocotools.mask as mask_utils

from segany.evaluation.protocol import samples_with_masks

IOU_THRESHOLDS: tuple[float, ...] = tuple(round(0.5 + 0.05 * i, 2) for i in range(10))
MAX_PROPOSALS: tuple[int, ...] = (100, 1000)
_ENCODE_CHUNK = 32


def _to_rles(masks: Sequence[Any], name: str) -> list[dict[str, Any]]:
    """COCO RLEs of H x W masks (bool arrays, or RLE dicts passed through)."""
    rles: list[dict[str, Any]] = []
    arrays: list[np.ndarray] = []

    def flush() -> None:
        if arrays:
            stack = np.asfortranarray(np.stack(arrays, axis=-1).astype(np.uint8))  # H x W x n
            rles.extend(mask_utils.encode(stack))
            arrays.clear()

    for i, m in enumerate(masks):
        if isinstance(m, dict):
            flush()
            rles.append(m)
        elif isinstance(m, np.ndarray) and m.ndim == 2:
            if arrays and arrays[0].shape != m.shape:
                raise ValueError(
                    f"{name}[{i}] has shape {m.shape}, expected {arrays[0].shape} like the others"
                )
            arrays.append(m != 0)
            if len(arrays) == _ENCODE_CHUNK:
                flush()
        else:
            raise TypeError(f"{name}[{i}] must be an H x W array or a COCO RLE dict, got {type(m).__name__}")
    flush()
    return rles


def mask_iou_matrix(pred_masks: Sequence[Any], gt_masks: Sequence[Any]) -> np.ndarray:
    """P x G IoUs between predicted and GT masks (H x W bool arrays or COCO RLE dicts of one size)."""
    pred, gt = _to_rles(pred_masks, "pred_masks"), _to_rles(gt_masks, "gt_masks")
    if not pred or not gt:
        return np.zeros((len(pred), len(gt)), dtype=np.float64)
    sizes = {tuple(r["size"]) for r in pred + gt}
    if len(sizes) != 1:
        raise ValueError(f"pred_masks and gt_masks must all have one H x W, got sizes {sorted(sizes)}")
    return np.asarray(mask_utils.iou(pred, gt, [0] * len(gt)), dtype=np.float64).reshape(len(pred), len(gt))


def greedy_matches(ious: np.ndarray, threshold: float) -> int:
    """Number of GT matched when proposals (rows, best first) greedily take the unmatched GT (columns)
    of highest IoU >= threshold, as COCOeval does."""
    if ious.ndim != 2:
        raise ValueError(f"ious must be a P x G matrix, got shape {ious.shape}")
    free = np.ones(ious.shape[1], dtype=bool)
    matched = 0
    for row in ious:
        if not free.any():
            break
        candidates = np.where(free & (row >= threshold), row, -1.0)
        g = int(np.argmax(candidates))
        if candidates[g] >= 0:
            free[g] = False
            matched += 1
    return matched


class ProposalRecall:
    """Accumulates matched / total GT counts over images; result() gives {k: AR@k} as fractions."""

    def __init__(
        self,
        max_proposals: Sequence[int] = MAX_PROPOSALS,
        iou_thresholds: Sequence[float] = IOU_THRESHOLDS,
    ) -> None:
        if not max_proposals or any(int(k) < 1 for k in max_proposals):
            raise ValueError(f"max_proposals must be ints >= 1, got {list(max_proposals)}")
        if not iou_thresholds or any(not 0 < t <= 1 for t in iou_thresholds):
            raise ValueError(f"iou_thresholds must lie in (0, 1], got {list(iou_thresholds)}")
        self.max_proposals = tuple(int(k) for k in max_proposals)
        self.iou_thresholds = tuple(float(t) for t in iou_thresholds)
        self.matched = np.zeros((len(self.max_proposals), len(self.iou_thresholds)), dtype=np.int64)
        self.num_gt = 0
        self.num_images = 0

    def add(self, pred_masks: Sequence[Any], gt_masks: Sequence[Any]) -> None:
        """One image: proposals ordered by score (best first) and its GT instance masks."""
        keep = max(self.max_proposals)
        ious = mask_iou_matrix(list(pred_masks)[:keep], gt_masks)
        for i, k in enumerate(self.max_proposals):
            for j, t in enumerate(self.iou_thresholds):
                self.matched[i, j] += greedy_matches(ious[:k], t)
        self.num_gt += ious.shape[1]
        self.num_images += 1

    def recalls(self) -> np.ndarray:
        """K x T recall per max-proposal count and IoU threshold (NaN when no GT was added)."""
        if self.num_gt == 0:
            return np.full(self.matched.shape, np.nan)
        return self.matched / self.num_gt

    def result(self) -> dict[int, float]:
        """{k: AR@k}: recall averaged over the IoU thresholds."""
        return {k: float(r) for k, r in zip(self.max_proposals, self.recalls().mean(axis=1))}


def average_recall(pred_masks: Sequence[Any], gt_masks: Sequence[Any], max_proposals: int = 1000) -> float:
    """AR@max_proposals of a single image (see the module docstring)."""
    meter = ProposalRecall(max_proposals=(max_proposals,))
    meter.add(pred_masks, gt_masks)
    return meter.result()[max_proposals]


# The SAM paper's zero-shot object-proposal setting: a 64 x 64 point grid, no crops, no predicted-IoU
# or stability filter, box NMS at 0.9; proposals ranked by predicted IoU.
PAPER_PROPOSAL_SETTINGS: dict[str, Any] = {
    "points_per_side": 64,
    "crop_n_layers": 0,
    "pred_iou_thresh": 0.0,
    "stability_score_thresh": 0.0,
    "box_nms_thresh": 0.9,
}


@dataclass
class ProposalResult:
    """AR@k of one method on one dataset, with what it was measured on."""

    dataset: str
    method: str
    n_images: int
    n_gt: int
    mean_proposals: float  # proposals per image before the top-k cut
    recall: dict[int, float]  # k -> AR@k as a fraction


def evaluate_proposals(
    generate: Callable[[np.ndarray], list[dict[str, Any]]],
    reader: Any,
    method: str,
    dataset: str,
    max_samples: int | None = None,
    max_proposals: Sequence[int] = MAX_PROPOSALS,
) -> ProposalResult:
    """Everything-mode proposal recall over (the first max_samples) images of a reader.

    Args:
        generate: image (H x W x 3 uint8 RGB) -> records with "segmentation" (H x W bool or COCO RLE) and
            "predicted_iou", e.g. `SamAutomaticMaskGenerator(...).generate`.
        reader: indexable (image, GT masks, meta) samples, as `segany.data` readers; images without GT
            masks are skipped.
    """
    meter = ProposalRecall(max_proposals=max_proposals)
    counts: list[int] = []
    for _, (image, gt_masks, _) in samples_with_masks(reader, max_samples):
        records = sorted(generate(image), key=lambda r: -float(r["predicted_iou"]))
        meter.add([r["segmentation"] for r in records], gt_masks)
        counts.append(len(records))
    return ProposalResult(
        dataset=dataset,
        method=method,
        n_images=meter.num_images,
        n_gt=meter.num_gt,
        mean_proposals=float(np.mean(counts)) if counts else 0.0,
        recall=meter.result(),
    )


def write_proposal_tables(results: Sequence[ProposalResult], out_dir: str | Path) -> Path:
    """<out_dir>/proposals.md (AR in %) and proposals.csv (fractions); returns the markdown path."""
    if not results:
        raise ValueError("results must hold at least one ProposalResult, got none")
    ks = sorted({k for r in results for k in r.recall})
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    header = ["dataset", "method", "images", "GT masks", "proposals / image"] + [f"AR@{k}" for k in ks]
    lines = [
        "# Everything-mode proposal recall (%)",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for r in results:
        cells = [r.dataset, r.method, str(r.n_images), str(r.n_gt), f"{r.mean_proposals:.0f}"]
        cells += [f"{100 * r.recall[k]:.1f}" if k in r.recall else "" for k in ks]
        lines.append("| " + " | ".join(cells) + " |")
    md_path = out / "proposals.md"
    md_path.write_text("\n".join(lines) + "\n")
    with open(out / "proposals.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["dataset", "method", "n_images", "n_gt", "mean_proposals"] + [f"ar_{k}" for k in ks])
        for r in results:
            writer.writerow(
                [r.dataset, r.method, r.n_images, r.n_gt, f"{r.mean_proposals:.2f}"]
                + [f"{r.recall[k]:.6f}" if k in r.recall else "" for k in ks]
            )
    return md_path

"""The DAVIS semi-supervised protocol: J (region IoU), F (boundary F-measure), their recall and decay.

Masks are H x W bool arrays (one object) or label maps (H x W ints, 0 background). Per object and frame:

- J = |P & G| / |P | G|, 1 when both are empty (void pixels, when given, are left out of both).
- F: both masks' one-pixel boundaries (a pixel is on the boundary when it differs from its right, lower or
  lower-right neighbour; the last row / column compare with what exists); each boundary is dilated by a disk of
  radius ceil(tolerance x image diagonal) (8 px at 854x480); precision = share of predicted boundary pixels
  within the dilated true boundary, recall = share of true boundary pixels within the dilated predicted one;
  F = 2PR / (P + R). An empty boundary counts as a perfect precision (prediction) or recall (truth).
- Per object over frames 1..T-2 (the first and last frames are left out): mean, recall = share of frames
  above 0.5, decay = mean over the first quarter of those frames minus mean over the last quarter (DAVIS's
  quarters: cut at round(linspace(1, n, 5)) - 1, each quarter including its end index).
- J&F = (mean J + mean F) / 2; a data set's score averages every object of every sequence.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

BOUNDARY_TOLERANCE = 0.008  # DAVIS: the dilation radius as a fraction of the image diagonal
DECAY_BINS = 4


def jaccard(prediction: np.ndarray, truth: np.ndarray, void: np.ndarray | None = None) -> float:
    """Region similarity J of two H x W bool masks."""
    prediction, truth = _pair(prediction, truth)
    if void is not None:
        keep = ~np.asarray(void, dtype=bool)
        prediction, truth = prediction & keep, truth & keep
    union = np.count_nonzero(prediction | truth)
    return 1.0 if union == 0 else np.count_nonzero(prediction & truth) / union


def boundary_map(mask: np.ndarray) -> np.ndarray:
    """H x W bool: pixels whose value differs from the right, lower or lower-right neighbour (see module doc)."""
    mask = np.asarray(mask, dtype=bool)
    edges = np.zeros_like(mask)
    edges[:, :-1] |= mask[:, :-1] != mask[:, 1:]  # right neighbour
    edges[:-1, :] |= mask[:-1, :] != mask[1:, :]  # lower neighbour
    edges[:-1, :-1] |= mask[:-1, :-1] != mask[1:, 1:]  # lower-right neighbour
    # DAVIS's rule at the border: the last row compares with its right neighbour alone, the last column with
    # its lower neighbour alone, and the bottom-right pixel is never a boundary pixel.
    edges[-1, :-1] = mask[-1, :-1] != mask[-1, 1:]
    edges[:-1, -1] = mask[:-1, -1] != mask[1:, -1]
    edges[-1, -1] = False
    return edges


def disk(radius: int) -> np.ndarray:
    """(2r+1) x (2r+1) uint8 structuring element: 1 where x^2 + y^2 <= r^2."""
    offsets = np.arange(-radius, radius + 1)
    return (offsets[:, None] ** 2 + offsets[None, :] ** 2 <= radius**2).astype(np.uint8)


def boundary_radius(shape: tuple[int, int], tolerance: float = BOUNDARY_TOLERANCE) -> int:
    """DAVIS's dilation radius in pixels for an image of this (H, W): ceil(tolerance x diagonal)."""
    return int(np.ceil(tolerance * float(np.hypot(shape[0], shape[1]))))


def boundary_f(prediction: np.ndarray, truth: np.ndarray, tolerance: float = BOUNDARY_TOLERANCE) -> float:
    """Contour accuracy F of two H x W bool masks."""
    prediction, truth = _pair(prediction, truth)
    predicted_edges, true_edges = boundary_map(prediction), boundary_map(truth)
    element = disk(boundary_radius(prediction.shape, tolerance))
    predicted_count, true_count = np.count_nonzero(predicted_edges), np.count_nonzero(true_edges)
    if predicted_count == 0 or true_count == 0:
        # Nothing to match on one side: perfect precision (no predicted edge) / recall (no true edge).
        precision = 1.0 if predicted_count == 0 else 0.0
        recall = 1.0 if true_count == 0 else 0.0
    else:
        near_truth = cv2.dilate(true_edges.astype(np.uint8), element).astype(bool)
        near_prediction = cv2.dilate(predicted_edges.astype(np.uint8), element).astype(bool)
        precision = np.count_nonzero(predicted_edges & near_truth) / predicted_count
        recall = np.count_nonzero(true_edges & near_prediction) / true_count
    return 0.0 if precision + recall == 0 else 2.0 * precision * recall / (precision + recall)


@dataclass(frozen=True)
class Statistics:
    """One measure (J or F) of one object over the scored frames."""

    mean: float
    recall: float
    decay: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Statistics:
        array = np.asarray(values, dtype=np.float64)
        if array.size == 0:
            return cls(float("nan"), float("nan"), float("nan"))
        cuts = (np.round(np.linspace(1, array.size, DECAY_BINS + 1) + 1e-10) - 1).astype(int)
        first, last = array[cuts[0] : cuts[1] + 1], array[cuts[-2] : cuts[-1] + 1]
        return cls(float(array.mean()), float(np.mean(array > 0.5)), float(first.mean() - last.mean()))


@dataclass(frozen=True)
class ObjectScores:
    """Per-frame J and F of one object in one sequence (scored frames only), with their statistics."""

    sequence: str
    obj_id: int
    j: tuple[float, ...]
    f: tuple[float, ...]

    @property
    def j_stats(self) -> Statistics:
        return Statistics.of(self.j)

    @property
    def f_stats(self) -> Statistics:
        return Statistics.of(self.f)

    @property
    def jf(self) -> float:
        return (self.j_stats.mean + self.f_stats.mean) / 2.0


def score_sequence(
    predictions: Iterable[np.ndarray],
    truths: Iterable[np.ndarray],
    sequence: str = "sequence",
    skip_first_and_last: bool = True,
) -> list[ObjectScores]:
    """J and F per object of one sequence, from label maps (H x W ints, 0 background) frame by frame.

    The objects are those of the ground truth (labels > 0 on any frame); an object absent from a frame of
    both maps scores 1 there. The first and last frames are left out, as in DAVIS's semi-supervised protocol.
    """
    pairs = list(zip(predictions, truths, strict=True))
    if not pairs:
        raise ValueError(f"{sequence}: no frames to score")
    objects = sorted({int(v) for _, truth in pairs for v in np.unique(truth) if v != 0})
    scored = pairs[1:-1] if skip_first_and_last else pairs
    if not scored:
        raise ValueError(f"{sequence}: {len(pairs)} frames leave none to score without the first and last")
    results = []
    for obj_id in objects:
        j_values, f_values = [], []
        for prediction, truth in scored:
            mine, theirs = np.asarray(prediction) == obj_id, np.asarray(truth) == obj_id
            j_values.append(jaccard(mine, theirs))
            f_values.append(boundary_f(mine, theirs))
        results.append(ObjectScores(sequence, obj_id, tuple(j_values), tuple(f_values)))
    return results


def summarize(scores: Sequence[ObjectScores]) -> dict[str, float]:
    """Data-set figures: means over all objects of J/F mean, recall and decay, and J&F."""
    if not scores:
        raise ValueError("no object scores to summarize")
    table: dict[str, float] = {}
    for name, stats in (("J", [s.j_stats for s in scores]), ("F", [s.f_stats for s in scores])):
        table[f"{name}_mean"] = float(np.mean([s.mean for s in stats]))
        table[f"{name}_recall"] = float(np.mean([s.recall for s in stats]))
        table[f"{name}_decay"] = float(np.mean([s.decay for s in stats]))
    table["JF"] = (table["J_mean"] + table["F_mean"]) / 2.0
    return table


def _pair(prediction: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    prediction, truth = np.asarray(prediction, dtype=bool), np.asarray(truth, dtype=bool)
    if prediction.shape != truth.shape or prediction.ndim != 2:
        raise ValueError(
            f"prediction and truth must be H x W masks of one shape, got {prediction.shape} and {truth.shape}"
        )
    return prediction, truth

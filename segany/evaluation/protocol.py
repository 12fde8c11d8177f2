"""N-click and box-prompt evaluation of any predictor with the official SamPredictor interface.

Point protocol (per object, per selection rule, max_clicks clicks; results kept after each click):
  click 1 at the deepest GT point, predicted with multimask_output=True (3 masks for SAM) and no mask
  input; clicks 2.. add the next simulated click (segany.evaluation.clicks) to all previous ones and
  predict with multimask_output=False, passing the chosen previous mask's 256x256 low-res logits as
  mask_input (1 x 256 x 256) when use_mask_input is True. The chosen mask of each step is the one with the
  highest predicted score ("most_confident", the paper's default) or the highest IoU with the GT
  ("oracle"); the two rules run as separate click sequences, since the choice drives later clicks.
  If a prediction is perfect, no further click exists and its IoU is carried to the remaining counts.
Box protocol: the GT's tight XYXY box, multimask_output=False; then one refinement pass with the same box
  and the first prediction's (highest-scoring) low-res logits as mask_input, as in the paper.
The predicted score of each chosen mask (SAM's IoU prediction) is kept beside its true IoU, so the IoU
head's calibration, mean |predicted - true IoU|, can be reported (`segany.evaluation.report`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from segany.data.sample import SampleReader
from segany.evaluation.clicks import Click, first_click, next_click
from segany.evaluation.metrics import as_bool_mask, mask_iou, mask_to_box_xyxy

CLICK_COUNTS: tuple[int, ...] = (1, 2, 3, 5, 9)
SELECTIONS: tuple[str, ...] = ("most_confident", "oracle")


class PromptPredictor(Protocol):
    """The official SamPredictor calling convention (numpy in, numpy out)."""

    def set_image(self, image: np.ndarray) -> None:
        """image: H x W x 3 uint8 RGB."""
        ...

    def predict(
        self,
        point_coords: np.ndarray | None = None,  # N x 2 float, (x, y) pixels
        point_labels: np.ndarray | None = None,  # N int, 1 positive / 0 negative
        box: np.ndarray | None = None,  # (4,) XYXY pixels
        mask_input: np.ndarray | None = None,  # 1 x 256 x 256 logits
        multimask_output: bool = True,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """-> (masks C x H x W bool, scores C, low-res logits C x 256 x 256)."""
        ...


@dataclass
class ObjectResult:
    """Scores of one GT object. click_ious[selection][k] is the IoU after k + 1 clicks; clicks holds the
    (x, y, label) clicks of each selection's sequence; box IoUs are None when boxes were not run."""

    dataset: str
    method: str
    sample_id: str
    object_index: int
    click_ious: dict[str, list[float]] = field(default_factory=dict)
    clicks: dict[str, list[tuple[int, int, int]]] = field(default_factory=dict)
    box_iou_initial: float | None = None
    box_iou: float | None = None
    # Predicted score (IoU estimate) of the mask chosen after each click / of the first box prediction.
    click_scores: dict[str, list[float]] = field(default_factory=dict)
    box_score_initial: float | None = None


def _checked_prediction(
    output: tuple[np.ndarray, np.ndarray, np.ndarray], shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if not isinstance(output, tuple) or len(output) != 3:
        raise TypeError(f"predict must return (masks, scores, low_res_logits), got {type(output).__name__}")
    masks, scores, logits = (np.asarray(a) for a in output)
    if masks.ndim != 3 or masks.shape[1:] != shape:
        raise ValueError(f"predict must return masks of shape C x {shape[0]} x {shape[1]}, got {masks.shape}")
    c = masks.shape[0]
    if c == 0 or scores.shape != (c,) or logits.ndim != 3 or logits.shape[0] != c:
        raise ValueError(
            f"predict must return C >= 1 masks, scores (C,) and logits C x h x w; got masks {masks.shape}, "
            f"scores {scores.shape}, logits {logits.shape}"
        )
    return masks.astype(bool, copy=False), scores, logits


def _choose(masks: np.ndarray, scores: np.ndarray, gt: np.ndarray, selection: str) -> tuple[int, float]:
    """(index of the chosen mask, its IoU with gt)."""
    ious = [mask_iou(m, gt) for m in masks]
    k = int(np.argmax(scores)) if selection == "most_confident" else int(np.argmax(ious))
    return k, ious[k]


def simulate_clicks(
    predictor: PromptPredictor,
    gt_mask: np.ndarray,
    max_clicks: int = 9,
    selection: str = "most_confident",
    use_mask_input: bool = True,
) -> tuple[list[float], list[Click]]:
    """Run the point protocol on the image already set in predictor; returns (IoU after each of the
    max_clicks clicks, the clicks made). See the module docstring."""
    ious, _, clicks = simulate_clicks_scored(predictor, gt_mask, max_clicks, selection, use_mask_input)
    return ious, clicks


def simulate_clicks_scored(
    predictor: PromptPredictor,
    gt_mask: np.ndarray,
    max_clicks: int = 9,
    selection: str = "most_confident",
    use_mask_input: bool = True,
) -> tuple[list[float], list[float], list[Click]]:
    """`simulate_clicks` plus the predicted score of the chosen mask after each click:
    (IoUs, scores, clicks); a perfect mask's IoU and score are carried to the remaining counts."""
    if selection not in SELECTIONS:
        raise ValueError(f"selection must be one of {SELECTIONS}, got {selection!r}")
    if not isinstance(max_clicks, int) or max_clicks < 1:
        raise ValueError(f"max_clicks must be an int >= 1, got {max_clicks!r}")
    gt = as_bool_mask(gt_mask, "gt_mask")
    clicks = [first_click(gt)]
    ious: list[float] = []
    scores_kept: list[float] = []
    prev_logits: np.ndarray | None = None
    while len(ious) < max_clicks:
        coords = np.array([[c.x, c.y] for c in clicks], dtype=np.float32)  # N x 2, (x, y)
        labels = np.array([c.label for c in clicks], dtype=np.int32)
        single = len(clicks) == 1
        output = predictor.predict(
            point_coords=coords,
            point_labels=labels,
            box=None,
            mask_input=None if (single or not use_mask_input) else prev_logits,
            multimask_output=single,
        )
        masks, scores, logits = _checked_prediction(output, gt.shape)
        k, iou = _choose(masks, scores, gt, selection)
        ious.append(iou)
        scores_kept.append(float(scores[k]))
        prev_logits = logits[k][None].astype(np.float32)  # 1 x 256 x 256
        if len(ious) == max_clicks:
            break
        click = next_click(masks[k], gt)
        if click is None:  # perfect mask: carry the IoU forward
            scores_kept.extend([scores_kept[-1]] * (max_clicks - len(ious)))
            ious.extend([iou] * (max_clicks - len(ious)))
            break
        clicks.append(click)
    return ious, scores_kept, clicks


def evaluate_box(predictor: PromptPredictor, gt_mask: np.ndarray, refine: bool = True) -> tuple[float, float]:
    """(IoU of the box prediction, IoU after the refinement pass) for the GT's tight XYXY box, on the
    image already set in predictor; without refine both values are the first IoU."""
    first, refined, _ = evaluate_box_scored(predictor, gt_mask, refine)
    return first, refined


def evaluate_box_scored(
    predictor: PromptPredictor, gt_mask: np.ndarray, refine: bool = True
) -> tuple[float, float, float]:
    """`evaluate_box` plus the predicted score of the first box mask: (first IoU, refined IoU, score)."""
    gt = as_bool_mask(gt_mask, "gt_mask")
    box = mask_to_box_xyxy(gt)  # (4,) XYXY
    masks, scores, logits = _checked_prediction(predictor.predict(box=box, multimask_output=False), gt.shape)
    k, first = _choose(masks, scores, gt, "most_confident")
    score = float(scores[k])
    if not refine:
        return first, first, score
    masks, scores, _ = _checked_prediction(
        predictor.predict(box=box, mask_input=logits[k][None].astype(np.float32), multimask_output=False),
        gt.shape,
    )
    _, refined = _choose(masks, scores, gt, "most_confident")
    return first, refined, score


def samples_with_masks(reader: SampleReader, max_samples: int | None = None) -> Iterator[tuple[int, Any]]:
    """(index, (image, masks, meta)) of the first max_samples samples (all when None) that hold a mask."""
    n = len(reader) if max_samples is None else min(max_samples, len(reader))
    for i in range(n):
        sample = reader[i]
        if sample[1]:
            yield i, sample


def draw_objects(rng: np.random.Generator, count: int, max_objects: int | None) -> list[int]:
    """Indices of the objects of one image to evaluate: all of them, or max_objects drawn without replacement
    (sorted), so every evaluation of the same reader with the same seed scores the same objects."""
    if max_objects is None or count <= max_objects:
        return list(range(count))
    return sorted(rng.choice(count, size=max_objects, replace=False).tolist())


@dataclass(frozen=True)
class OpeningPrompts:
    """The protocol's first prompts for one GT object: its tight XYXY box and the first click."""

    gt: np.ndarray  # H x W bool, non-empty
    box: np.ndarray  # (4,) float32 XYXY pixels
    click: Click


def opening_prompts(
    samples: Iterable[tuple[np.ndarray, Sequence[np.ndarray]]],
    max_objects_per_image: int | None = None,
    seed: int = 0,
) -> Iterator[tuple[np.ndarray, list[OpeningPrompts]]]:
    """(image, opening prompts of its drawn non-empty objects) per (image, GT masks) sample.

    Objects are drawn as `evaluate_reader` draws them (`draw_objects`, one generator seeded with seed), so the
    same samples, limit and seed give the same objects; the caller sets each image on its predictor once.
    """
    rng = np.random.default_rng(seed)
    for image, gt_masks in samples:
        objects = []
        for j in draw_objects(rng, len(gt_masks), max_objects_per_image):
            gt = as_bool_mask(gt_masks[j], "gt_masks[j]")
            if gt.any():
                box = np.asarray(mask_to_box_xyxy(gt), dtype=np.float32)
                objects.append(OpeningPrompts(gt, box, first_click(gt)))
        yield image, objects


def evaluate_reader(
    predictor: PromptPredictor,
    reader: SampleReader,
    method: str,
    dataset: str,
    max_clicks: int = max(CLICK_COUNTS),
    selections: Sequence[str] = SELECTIONS,
    boxes: bool = True,
    use_mask_input: bool = True,
    max_samples: int | None = None,
    max_objects_per_image: int | None = None,
    seed: int = 0,
) -> list[ObjectResult]:
    """Evaluate every object of (the first max_samples) samples of reader.

    With max_objects_per_image, that many objects per image are drawn without replacement by a generator
    seeded with seed (deterministic for a fixed reader order); set_image runs once per image.
    """
    for name in selections:
        if name not in SELECTIONS:
            raise ValueError(f"selections must be drawn from {SELECTIONS}, got {name!r}")
    rng = np.random.default_rng(seed)
    results: list[ObjectResult] = []
    for i, (image, masks, meta) in samples_with_masks(reader, max_samples):
        chosen = draw_objects(rng, len(masks), max_objects_per_image)
        predictor.set_image(image)
        for j in chosen:
            result = ObjectResult(dataset, method, str(meta.get("id", i)), j)
            for name in selections:
                ious, scores, clicks = simulate_clicks_scored(
                    predictor, masks[j], max_clicks, name, use_mask_input
                )
                result.click_ious[name] = ious
                result.click_scores[name] = scores
                result.clicks[name] = [(c.x, c.y, c.label) for c in clicks]
            if boxes:
                result.box_iou_initial, result.box_iou, result.box_score_initial = evaluate_box_scored(
                    predictor, masks[j]
                )
            results.append(result)
    return results

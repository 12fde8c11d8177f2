"""mIoU of box and 1-click masks at several mask-logit thresholds: is the model's decision boundary biased?

SAM thresholds its mask logits at 0. A model whose loss weighs foreground and background pixels unequally (a focal
loss with alpha = 0.25 weighs foreground pixels a third of background ones) learns a boundary shifted towards the
background: its masks then score higher at a threshold below 0 than at 0. This measures that on any data, with the
evaluation protocol's opening prompts (the GT box, single-mask output; the first click at the deepest GT point,
the most confident of the three multimask outputs), without changing the model.

    python -m segany.evaluation.threshold_sweep --model NAME|PATH --data shared:bsds500:val [--data ...] \
        [--max-images 40] [--max-objects 3] [--thresholds -2,-1,-0.5,0,0.5,1]

Use validation splits: a threshold chosen on test data would be tuned on it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from segany.evaluation.metrics import mask_iou
from segany.evaluation.protocol import opening_prompts

DEFAULT_THRESHOLDS = (-2.0, -1.0, -0.5, 0.0, 0.5, 1.0)


class LogitPredictor(Protocol):
    """`segany.SamPredictor`'s calling convention with return_logits (full-resolution logits instead of masks)."""

    def set_image(self, image: np.ndarray) -> None: ...

    def predict(
        self,
        point_coords: np.ndarray | None = None,
        point_labels: np.ndarray | None = None,
        box: np.ndarray | None = None,
        mask_input: np.ndarray | None = None,
        multimask_output: bool = True,
        return_logits: bool = False,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...


@dataclass(frozen=True)
class SweepResult:
    """Mean IoU (0-1) per threshold of the box masks and of the 1-click masks, over `objects` GT objects."""

    thresholds: tuple[float, ...]
    box: tuple[float, ...]
    click: tuple[float, ...]
    objects: int


def sweep(
    predictor: LogitPredictor,
    samples: Iterable[tuple[np.ndarray, Sequence[np.ndarray]]],
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
    max_objects_per_image: int | None = None,
    seed: int = 0,
) -> SweepResult:
    """Mean IoU at each threshold over the objects of (H x W x 3 uint8 image, GT masks) samples.

    Objects are drawn per image as `segany.evaluation.protocol.evaluate_reader` draws them (`opening_prompts`),
    so the same seed and limits score the same objects as `segany eval`.
    """
    if len(thresholds) == 0:
        raise ValueError("thresholds must hold at least one logit threshold, got none")
    box_ious: list[list[float]] = []
    click_ious: list[list[float]] = []
    for image, objects in opening_prompts(samples, max_objects_per_image, seed):
        predictor.set_image(image)
        for prompt in objects:
            box_logits, _, _ = predictor.predict(box=prompt.box, multimask_output=False, return_logits=True)
            box_ious.append([mask_iou(box_logits[0] > t, prompt.gt) for t in thresholds])
            click_logits, scores, _ = predictor.predict(
                point_coords=np.array([[prompt.click.x, prompt.click.y]], dtype=np.float32),
                point_labels=np.array([prompt.click.label]),
                multimask_output=True,
                return_logits=True,
            )
            best = click_logits[int(np.argmax(scores))]
            click_ious.append([mask_iou(best > t, prompt.gt) for t in thresholds])
    if not box_ious:
        raise ValueError("samples held no non-empty GT mask to evaluate")
    return SweepResult(
        tuple(float(t) for t in thresholds),
        tuple(float(v) for v in np.mean(box_ious, axis=0)),
        tuple(float(v) for v in np.mean(click_ious, axis=0)),
        len(box_ious),
    )


def markdown(results: dict[str, SweepResult]) -> str:
    """One table per prompt kind: a row per dataset, a column per threshold (mIoU %)."""
    lines: list[str] = []
    for kind in ("box", "click"):
        thresholds = next(iter(results.values())).thresholds
        lines += [
            f"## {'box' if kind == 'box' else '1 click (most confident)'}",
            "",
            "| data | objects | " + " | ".join(f"t = {t:g}" for t in thresholds) + " |",
            "|---|---|" + "---|" * len(thresholds),
        ]
        for name, result in results.items():
            values = getattr(result, kind)
            lines.append(
                f"| {name} | {result.objects} | " + " | ".join(f"{100 * v:.1f}" for v in values) + " |"
            )
        lines.append("")
    return "\n".join(lines)


def parse_thresholds(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--thresholds must be comma-separated numbers such as -1,-0.5,0, got {text!r}"
        ) from None
    if not values:
        raise argparse.ArgumentTypeError(f"--thresholds must name at least one number, got {text!r}")
    return values


def main(argv: Sequence[str] | None = None) -> int:
    import torch

    from segany.evaluation.protocol import samples_with_masks
    from segany.predictor import SamPredictor
    from segany.training.cli_eval import load_eval_model
    from segany.training.data import parse_source

    parser = argparse.ArgumentParser(
        prog="python -m segany.evaluation.threshold_sweep", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--model", required=True, help="bundled model name, weights file or run folder")
    parser.add_argument("--data", action="append", required=True, help="source spec, e.g. shared:bsds500:val")
    parser.add_argument(
        "--max-images", type=int, default=40, help="first N images of each source (default 40)"
    )
    parser.add_argument("--max-objects", type=int, default=3, help="objects per image (default 3)")
    parser.add_argument("--thresholds", type=parse_thresholds, default=DEFAULT_THRESHOLDS)
    args = parser.parse_args(argv)
    sam, name = load_eval_model(args.model, None, torch.device("cpu"))
    predictor = SamPredictor(sam)
    results: dict[str, SweepResult] = {}
    for spec in args.data:
        source = parse_source(spec, None)
        samples = (
            (image, masks) for _, (image, masks, _meta) in samples_with_masks(source.reader, args.max_images)
        )
        results[spec] = sweep(predictor, samples, args.thresholds, args.max_objects)
    print(f"# mIoU (%) of {name} by mask-logit threshold\n")
    print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())

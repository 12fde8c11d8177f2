"""Calibrate a trained model's IoU head on validation data, folded into its weights.

    python -m segany.training.calibrate_iou RUN_OR_WEIGHTS --data shared:bsds500:val --data shared:ccp:val \
        [--max-images 40] [--max-objects 3] --out RUN/model_calibrated.pt

Everything mode and the data engine's pre-filling rank and filter masks by the IoU head's prediction, so a head
that is optimistic on photos unlike its training data keeps bad masks and drops good ones. This fits, per mask
token k, an affine map ``true IoU ~ a_k * predicted_k + c_k`` on (predicted, true IoU) pairs from the prompts the
evaluation protocol starts with (the GT box and its refinement pass for the single-mask token 0; the first click
at the deepest GT point for the three multimask tokens), by least absolute deviation.

The IoU head ends in a Linear layer with one output per mask token and no activation (as SAM's), so each map folds
exactly into that layer: row k of the weight times a_k, bias k -> a_k * bias_k + c_k. The model's architecture,
every export path (ONNX, bundled fp16 weights) and SAM parity for official checkpoints stay untouched: calibration
is a change of weights, written as a new checkpoint.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from segany.evaluation.metrics import mask_iou
from segany.evaluation.protocol import PromptPredictor, opening_prompts, samples_with_masks
from segany.modeling.sam import Sam

NUM_TOKENS = 4  # SAM's mask tokens: 0 = single-mask output, 1..3 = the multimask outputs
MIN_SCALE = 0.05  # the smallest slope a map may have (keeps every map increasing)


@dataclass(frozen=True)
class IouPairs:
    """Parallel arrays: which mask token predicted, its predicted IoU and the mask's true IoU with the GT."""

    token: np.ndarray  # (N,) int in 0..3
    predicted: np.ndarray  # (N,) float
    true: np.ndarray  # (N,) float in [0, 1]

    def __len__(self) -> int:
        return int(self.token.shape[0])


@dataclass(frozen=True)
class AffineMap:
    """true ~ scale * predicted + offset, for one mask token."""

    scale: float
    offset: float

    def apply(self, predicted: np.ndarray) -> np.ndarray:
        return self.scale * predicted + self.offset


def collect_pairs(
    predictor: PromptPredictor,
    samples: Sequence[tuple[np.ndarray, Sequence[np.ndarray]]],
    max_objects_per_image: int | None = None,
    seed: int = 0,
) -> IouPairs:
    """(token, predicted, true IoU) of every mask the protocol's opening prompts give, over (image, GT masks).

    Objects are drawn per image as `segany.evaluation.protocol.evaluate_reader` draws them (`opening_prompts`).
    """
    tokens: list[int] = []
    predicted: list[float] = []
    true: list[float] = []

    def keep(token: int, masks: np.ndarray, scores: np.ndarray, gt: np.ndarray) -> None:
        for mask, score in zip(masks, scores, strict=True):
            tokens.append(token)
            predicted.append(float(score))
            true.append(mask_iou(mask, gt))
            token += 1

    for image, objects in opening_prompts(samples, max_objects_per_image, seed):
        predictor.set_image(image)
        for prompt in objects:
            masks, scores, logits = predictor.predict(box=prompt.box, multimask_output=False)
            keep(0, masks, scores, prompt.gt)
            best = int(np.argmax(scores))
            masks, scores, _ = predictor.predict(
                box=prompt.box, mask_input=logits[best : best + 1], multimask_output=False
            )
            keep(0, masks, scores, prompt.gt)
            masks, scores, _ = predictor.predict(
                point_coords=np.array([[prompt.click.x, prompt.click.y]], dtype=np.float32),
                point_labels=np.array([prompt.click.label]),
                multimask_output=True,
            )
            keep(1, masks, scores, prompt.gt)
    return IouPairs(np.asarray(tokens, dtype=np.int64), np.asarray(predicted), np.asarray(true))


def fit_affine(
    predicted: np.ndarray, true: np.ndarray, min_scale: float = MIN_SCALE, iterations: int = 50
) -> AffineMap:
    """Least-absolute-deviation fit of true ~ scale * predicted + offset (iteratively reweighted least squares).

    The scale is kept >= min_scale > 0, so the map stays increasing and never reverses the head's ranking (a
    head that is uninformative on some data would otherwise get a negative slope, and the "most confident" mask
    would become the one it likes least); at the floor the offset is the median residual. With fewer than 2
    distinct predictions no slope can be fitted: the map then only shifts by the median error.
    """
    predicted = np.asarray(predicted, dtype=np.float64)
    true = np.asarray(true, dtype=np.float64)
    if predicted.shape != true.shape or predicted.ndim != 1 or predicted.size == 0:
        raise ValueError(
            f"predicted and true must be equal-length non-empty 1-D arrays, got {predicted.shape} and {true.shape}"
        )
    if np.ptp(predicted) < 1e-9:
        return AffineMap(1.0, float(np.median(true - predicted)))
    design = np.stack([predicted, np.ones_like(predicted)], axis=1)
    weights = np.ones_like(predicted)
    coef = np.zeros(2)
    for _ in range(iterations):
        sqrt_w = np.sqrt(weights)[:, None]
        coef, *_ = np.linalg.lstsq(design * sqrt_w, true * sqrt_w[:, 0], rcond=None)
        residual = np.abs(true - design @ coef)
        weights = 1.0 / np.maximum(residual, 1e-4)
    if coef[0] < min_scale:
        return AffineMap(min_scale, float(np.median(true - min_scale * predicted)))
    return AffineMap(float(coef[0]), float(coef[1]))


def fit_token_maps(pairs: IouPairs, min_pairs: int = 20) -> list[AffineMap]:
    """One map per mask token; the identity for a token with fewer than min_pairs pairs."""
    maps = []
    for k in range(NUM_TOKENS):
        chosen = pairs.token == k
        if int(chosen.sum()) < min_pairs:
            maps.append(AffineMap(1.0, 0.0))
        else:
            maps.append(fit_affine(pairs.predicted[chosen], pairs.true[chosen]))
    return maps


def mean_abs_error(pairs: IouPairs, maps: Sequence[AffineMap] | None = None) -> float:
    """Mean |predicted - true| over all pairs, after the per-token maps when given."""
    predicted = pairs.predicted.copy()
    if maps is not None:
        for k, affine in enumerate(maps):
            chosen = pairs.token == k
            predicted[chosen] = affine.apply(predicted[chosen])
    return float(np.mean(np.abs(predicted - pairs.true)))


def iou_head_output_layer(sam: Sam) -> nn.Linear:
    """The last Linear layer of the IoU head (its outputs are the predictions: no activation follows)."""
    head = sam.mask_decoder.iou_prediction_head
    layer = head.layers[-1]
    if not isinstance(layer, nn.Linear) or getattr(head, "sigmoid_output", False):
        raise TypeError(
            "the IoU head must end in a Linear layer without sigmoid to fold an affine map into it"
        )
    if layer.out_features != NUM_TOKENS:
        raise ValueError(
            f"the IoU head has {layer.out_features} outputs, expected one per mask token ({NUM_TOKENS})"
        )
    return layer


@torch.no_grad()
def fold_into_model(sam: Sam, maps: Sequence[AffineMap]) -> None:
    """Make the IoU head output scale_k * old_k + offset_k for every mask token k (in place)."""
    if len(maps) != NUM_TOKENS:
        raise ValueError(f"maps must hold one AffineMap per mask token ({NUM_TOKENS}), got {len(maps)}")
    layer = iou_head_output_layer(sam)
    scale = torch.tensor([m.scale for m in maps], dtype=layer.weight.dtype)
    offset = torch.tensor([m.offset for m in maps], dtype=layer.weight.dtype)
    layer.weight.mul_(scale[:, None])
    if layer.bias is None:
        layer.bias = nn.Parameter(offset.clone())
    else:
        layer.bias.mul_(scale).add_(offset)


def main(argv: Sequence[str] | None = None) -> int:
    from segany.predictor import SamPredictor
    from segany.training.cli_eval import load_eval_model
    from segany.training.data import parse_source

    parser = argparse.ArgumentParser(
        prog="python -m segany.training.calibrate_iou", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("model", help="training run folder, checkpoint file or registry weights name")
    parser.add_argument("--data", action="append", required=True, help="validation source (repeatable)")
    parser.add_argument("--max-images", type=int, default=40, help="first N images with masks per source")
    parser.add_argument("--max-objects", type=int, default=3, help="objects drawn per image (seed 0)")
    parser.add_argument("--out", type=Path, required=True, help="calibrated state dict (.pt)")
    parser.add_argument("--shared-root", default=None, help="root of the shared data (default: auto)")
    args = parser.parse_args(argv)
    if args.max_images < 1:
        raise ValueError(f"--max-images must be >= 1, got {args.max_images}")

    sam, name = load_eval_model(args.model, None, torch.device("cpu"))
    predictor = SamPredictor(sam)
    all_pairs = []
    for spec in args.data:
        reader = parse_source(spec, args.shared_root).reader
        samples = [(image, masks) for _, (image, masks, _) in samples_with_masks(reader, args.max_images)]
        all_pairs.append(collect_pairs(predictor, samples, args.max_objects))
        print(f"calibrate_iou: {spec}: {len(all_pairs[-1])} pairs", file=sys.stderr)
    pairs = IouPairs(
        *(np.concatenate([getattr(p, f) for p in all_pairs]) for f in ("token", "predicted", "true"))
    )
    maps = fit_token_maps(pairs)
    fold_into_model(sam, maps)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(sam.state_dict(), args.out)
    report = {
        "model": name,
        "data": args.data,
        "pairs": len(pairs),
        "maps": [{"scale": m.scale, "offset": m.offset} for m in maps],
        "mean_abs_error_before": mean_abs_error(pairs),
        "mean_abs_error_after": mean_abs_error(pairs, maps),
    }
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

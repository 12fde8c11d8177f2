"""Pre-fill precision and recall of the engine's semi-automatic stage on held-out photos.

Runs the engine's pre-fill (`segany.engine.stages.generated_masks`: the generator with the job's thresholds)
on the first N photos of a held-out split and matches its masks one-to-one to the human masks (greedy, best
predicted IoU first, as COCOeval): precision = matched pre-filled masks / pre-filled masks (the share an
annotator would keep), recall = matched human masks / human masks (the share left to draw is 1 - recall),
at mask IoU >= 0.5 and >= 0.75, for each threshold pair (predicted IoU, stability).

    python benchmarks/engine_prefill_quality.py [--dataset camvid] [--images 8] [--model segany_small]
        [--points-per-side 32] [--settings "0.88,0.95;0.5,0.5"]
"""

from __future__ import annotations

import argparse
import time

from segany.cli.models import resolve_model
from segany.data.shared_splits import split_reader
from segany.engine.stages import generated_masks
from segany.evaluation.proposals import greedy_matches, mask_iou_matrix
from segany.evaluation.protocol import samples_with_masks

SETTINGS = (
    (0.88, 0.95),
    (0.7, 0.9),
    (0.5, 0.8),
    (0.5, 0.5),  # the engine_rounds.py default for segany_small
    (0.3, 0.5),
)  # (pred_iou, stability) thresholds; first = paper


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--dataset", default="camvid")
    parser.add_argument("--split", default="test")
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--points-per-side", type=int, default=32)
    parser.add_argument("--model", default="segany_small")
    parser.add_argument(
        "--settings", default=None, help='threshold pairs "iou,stability;iou,stability" (default: a sweep)'
    )
    args = parser.parse_args()
    settings_list = SETTINGS
    if args.settings:
        settings_list = tuple(
            (float(pair.split(",")[0]), float(pair.split(",")[1])) for pair in args.settings.split(";")
        )
    sam, description = resolve_model(args.model, "cpu")
    samples = list(samples_with_masks(split_reader(args.dataset, args.split), args.images))
    print(
        f"model {description.spec}, {args.dataset}/{args.split}: {len(samples)} photos, "
        f"{sum(len(s[1]) for _, s in samples)} human masks, {args.points_per_side}^2 points"
    )
    print(
        f"{'iou_th':>6} {'stab_th':>7} {'masks':>6} {'P@.5':>6} {'R@.5':>6} {'P@.75':>6} {'R@.75':>6} {'s/img':>6}"
    )
    for iou_th, stab_th in settings_list:
        settings = {
            "points_per_side": args.points_per_side,
            "pred_iou_thresh": iou_th,
            "stability_score_thresh": stab_th,
            "box_nms_thresh": 0.7,
        }
        predicted = matched50 = matched75 = gts = 0
        started = time.perf_counter()
        for _, (image, masks, _meta) in samples:
            new = generated_masks(sam, image, settings, "prefilled", "q", None, None)
            new.sort(key=lambda item: -(item.predicted_iou or 0.0))
            ious = mask_iou_matrix([item.segmentation for item in new], masks)
            predicted, gts = predicted + len(new), gts + len(masks)
            matched50 += greedy_matches(ious, 0.5) if new else 0
            matched75 += greedy_matches(ious, 0.75) if new else 0
        seconds = (time.perf_counter() - started) / len(samples)

        def ratio(a: int, b: int) -> str:
            return f"{a / b:.3f}" if b else "  -  "

        print(
            f"{iou_th:>6} {stab_th:>7} {predicted:>6} {ratio(matched50, predicted):>6} {ratio(matched50, gts):>6} "
            f"{ratio(matched75, predicted):>6} {ratio(matched75, gts):>6} {seconds:>6.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()

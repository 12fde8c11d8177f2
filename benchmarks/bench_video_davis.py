"""Video object segmentation on DAVIS sequences: the baselines, the full tracker and keyframe intervals.

    python benchmarks/bench_video_davis.py --split test        # the table in the README (held-out sequences)
    python benchmarks/bench_video_davis.py --split dev         # the sequences the settings were tuned on

Each sequence starts from its first ground-truth mask (DAVIS's semi-supervised protocol) and is scored on
frames 1..T-2 with `segany.video.metrics` (J, F, J&F, recall, decay). Frame embeddings are cached on disk
(`--cache`, gitignored) so all variants share them; the image encoder's cost is measured apart, by encoding
`--encoder-samples` frames per sequence in this run, and each variant's frames per second count the encoder
on the frames where it actually runs the model (keyframe variants skip it in between):

    fps = frames / (time of the walk without loading cached embeddings + model frames x encoder median)
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from segany import SamPredictor, load_pretrained
from segany.video.encoding import CachedEncoder
from segany.video.frames import FolderFrames
from segany.video.mask_io import read_label_png
from segany.video.metrics import ObjectScores, score_sequence, summarize
from segany.video.settings import PRESETS
from segany.video.video_predictor import VideoPredictor

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "davis_video"
LABELS = {
    "copy": "(a) first mask copied",
    "flow": "(b) flow warping only",
    "reprompt": "(c) SAM re-prompted from the previous box",
    "full": "(d) full method",
    "full_warped_box": "(d') full method, box of the warped mask",
    "full_v1": "(d'') previous full method (agreement >= 0.5, no flow check)",
    "key2": "(e) keyframes every 2",
    "key5": "(e) keyframes every 5",
    "key10": "(e) keyframes every 10",
}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--split", default="dev", help="dev or test (davis_video/splits/<split>.txt)")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument(
        "--model",
        default="segany_small",
        help="weights name for load_pretrained (e.g. segany_small_v2, vit_b)",
    )
    parser.add_argument("--variants", default=",".join(PRESETS), help=f"comma list of {', '.join(PRESETS)}")
    parser.add_argument("--cache", type=Path, default=Path(".cache/video_embeddings"))
    parser.add_argument(
        "--encoder-samples", type=int, default=3, help="frames encoded per sequence for timing"
    )
    parser.add_argument("--out", type=Path, default=None, help="json with every figure")
    parser.add_argument(
        "--overlays",
        type=Path,
        default=None,
        help="folder for overlay PNGs of the full method (middle and last frame per sequence)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch and OpenCV threads (1: on a shared 2-core host, 2 threads ran 5-20x slower)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a tracker setting for every model variant (tuning on dev)",
    )
    args = parser.parse_args()
    sequences = (args.data / "splits" / f"{args.split}.txt").read_text().split()
    variants = args.variants.split(",")
    unknown = [v for v in variants if v not in PRESETS]
    if unknown:
        parser.error(f"unknown variants {unknown}")
    overrides = dict(_parse_override(text) for text in args.set)
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    sam = load_pretrained(args.model)
    encoder_seconds = _encoder_times(sam, args.data, sequences, args.encoder_samples)
    encoder_median = statistics.median(encoder_seconds)
    print(
        f"encoder: median {encoder_median:.3f} s per frame over {len(encoder_seconds)} frames",
        file=sys.stderr,
    )
    report: dict[str, dict[str, float]] = {}
    per_sequence: dict[str, dict[str, float]] = {}
    for variant in variants:
        settings = PRESETS[variant]
        if overrides and settings.keyframe_interval > 0:
            settings = settings.with_options(**overrides)
        scores: list[ObjectScores] = []
        frames = model_frames = 0
        rest_seconds = 0.0
        for sequence in sequences:
            overlays = args.overlays if variant == "full" else None
            result = _run(
                sam, args.data / sequence, args.cache / args.model / sequence, settings, overlays, args.model
            )
            sequence_scores, seconds, count, model = result
            scores.extend(sequence_scores)
            frames, model_frames, rest_seconds = frames + count, model_frames + model, rest_seconds + seconds
            per_sequence.setdefault(variant, {})[sequence] = 100 * summarize(sequence_scores)["JF"]
        table = summarize(scores)
        total = rest_seconds + model_frames * encoder_median
        report[variant] = {
            **{
                key: 100 * value
                if "decay" in key or "mean" in key or "recall" in key or key == "JF"
                else value
                for key, value in table.items()
            },
            "frames": frames,
            "model_frames": model_frames,
            "seconds_without_encoder": rest_seconds,
            "fps_without_encoder": frames / rest_seconds,
            "fps": frames / total,
        }
        row = report[variant]
        print(
            f"{variant:9s} J&F {row['JF']:.1f} J {row['J_mean']:.1f} F {row['F_mean']:.1f} "
            f"fps {row['fps']:.2f} (rest {row['fps_without_encoder']:.1f})",
            file=sys.stderr,
            flush=True,
        )
    _print_table(report, encoder_median, args.split, args.model)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        document = {
            "split": args.split,
            "sequences": sequences,
            "encoder_median_s": encoder_median,
            "encoder_samples_s": encoder_seconds,
            "variants": report,
            "per_sequence_JF": per_sequence,
            "overrides": overrides,
        }
        args.out.write_text(json.dumps(document, indent=2) + "\n")
    return 0


def _run(sam, folder: Path, cache: Path, settings, overlays: Path | None = None, model: str = "segany_small"):  # type: ignore[no-untyped-def]
    """(object scores, walk seconds without embedding loads, frames, model frames) for one sequence."""
    source = FolderFrames(folder / "images")
    truths = [read_label_png(folder / "masks" / f"{source.frame_name(i)}.png") for i in range(len(source))]
    encoder = CachedEncoder(cache, model)
    video = VideoPredictor(sam, source, settings, encoder=encoder)
    video.add_mask(0, 1, truths[0] == 1)
    predictions = {}
    model_frames = 0
    start = time.perf_counter()
    for result in video.propagate():
        predictions[result.index] = result.label_map(source.size)
        model_frames += int(result.model_ran)
    seconds = time.perf_counter() - start - encoder.seconds
    if encoder.encoded:
        print(
            f"  (encoded {encoder.encoded} uncached frames of {folder.name}: cache was incomplete)",
            file=sys.stderr,
        )
    ordered = [predictions[i] for i in range(len(source))]
    if overlays is not None:
        from segany.cli.drawing import draw_overlay

        overlays.mkdir(parents=True, exist_ok=True)
        for index in (len(source) // 2, len(source) - 1):
            picture = draw_overlay(source.read(index), [ordered[index] == 1])
            picture.save(overlays / f"{folder.name}_{index:05d}.png")
    return score_sequence(ordered, truths, folder.name), seconds, len(source), model_frames


def _encoder_times(sam, data: Path, sequences: list[str], samples: int) -> list[float]:  # type: ignore[no-untyped-def]
    predictor = SamPredictor(sam)
    times = []
    for sequence in sequences:
        source = FolderFrames(data / sequence / "images")
        for index in np.linspace(0, len(source) - 1, samples).round().astype(int):
            frame = source.read(int(index))
            start = time.perf_counter()
            predictor.set_image(frame)
            times.append(time.perf_counter() - start)
    return times


def _parse_override(text: str) -> tuple[str, object]:
    key, _, value = text.partition("=")
    for kind in (int, float):
        try:
            return key, kind(value)
        except ValueError:
            pass
    return key, {"true": True, "false": False}.get(value.lower(), value)


def _print_table(report: dict[str, dict[str, float]], encoder_median: float, split: str, model: str) -> None:
    print(f"\nDAVIS 2016 `{split}` sequences, {model}, encoder {encoder_median:.2f} s/frame (median)\n")
    print("| variant | J&F | J | F | J recall | J decay | model frames | fps (all) | fps without encoder |")
    print("|---|---|---|---|---|---|---|---|---|")
    for variant, row in report.items():
        print(
            f"| {LABELS[variant]} | {row['JF']:.1f} | {row['J_mean']:.1f} | {row['F_mean']:.1f} | "
            f"{row['J_recall']:.1f} | {row['J_decay']:.1f} | {row['model_frames']} / {row['frames']} | "
            f"{row['fps']:.2f} | {row['fps_without_encoder']:.1f} |"
        )


if __name__ == "__main__":
    sys.exit(main())

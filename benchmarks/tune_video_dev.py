"""Tracker settings tried on the DAVIS `dev` sequences (never the test ones): one line per try.

    python benchmarks/tune_video_dev.py --try "strict:min_agreement=0.8" --try "band:fusion=band,band=0.05"

Each try starts from the full method (`PRESETS["full"]`, or `--base`) with the given overrides, walks every dev
sequence from its first true mask and prints J&F, J, F and the share of model frames whose SAM answer was kept
(the rest kept the carried mask). `--transform rot90` turns frames and masks a quarter turn: segany_small
trained on every 5th dev frame upright, so upright dev over-rates its answers; turned, they are less familiar.
Embeddings come from the same cache as `bench_video_davis.py`. Lines are
appended to `--log` (jsonl) so a table of everything tried can be rebuilt.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from segany import load_pretrained
from segany.video.encoding import CachedEncoder
from segany.video.frames import ArrayFrames, FolderFrames, FrameSource
from segany.video.mask_io import read_label_png
from segany.video.metrics import ObjectScores, score_sequence, summarize
from segany.video.settings import PRESETS
from segany.video.video_predictor import VideoPredictor

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "davis_video"


def _parse(text: str) -> tuple[str, dict[str, object]]:
    name, _, rest = text.partition(":")
    options: dict[str, object] = {}
    for item in filter(None, rest.split(",")):
        key, _, value = item.partition("=")
        parsed: object = {"true": True, "false": False}.get(value.lower(), value)
        for kind in (int, float):
            try:
                parsed = kind(value)
                break
            except ValueError:
                pass
        options[key] = parsed
    return name, options


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--try", dest="tries", action="append", default=[], metavar="NAME:KEY=VALUE,...")
    parser.add_argument(
        "--base", default="full", help=f"preset the overrides start from ({', '.join(PRESETS)})"
    )
    parser.add_argument("--split", default="dev")
    parser.add_argument("--model", default="segany_small", help="weights name for load_pretrained")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--cache", type=Path, default=Path(".cache/video_embeddings"))
    parser.add_argument(
        "--transform",
        choices=("none", "rot90"),
        default="none",
        help="rot90: frames and masks turned a quarter turn (a layout segany_small never trained on)",
    )
    parser.add_argument("--log", type=Path, default=Path("runs/video/dev_tries.jsonl"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    sam = load_pretrained(args.model)
    sequences = (args.data / "splits" / f"{args.split}.txt").read_text().split()
    args.log.parent.mkdir(parents=True, exist_ok=True)
    for text in args.tries or ["base:"]:
        name, options = _parse(text)
        settings = PRESETS[args.base].with_options(**options)
        scores: list[ObjectScores] = []
        kept = model = 0
        per_sequence: dict[str, float] = {}
        start = time.perf_counter()
        for sequence in sequences:
            folder = args.data / sequence
            files = FolderFrames(folder / "images")
            names = [files.frame_name(i) for i in range(len(files))]
            truths = [read_label_png(folder / "masks" / f"{name}.png") for name in names]
            source: FrameSource = files
            cache = args.cache / args.model / sequence
            if args.transform == "rot90":
                source = ArrayFrames(
                    [np.ascontiguousarray(np.rot90(files.read(i))) for i in range(len(files))]
                )
                truths = [np.ascontiguousarray(np.rot90(truth)) for truth in truths]
                cache = args.cache / f"{args.model}_rot90" / sequence
            encoder = CachedEncoder(cache, args.model)
            video = VideoPredictor(sam, source, settings, encoder=encoder)
            video.add_mask(0, 1, truths[0] == 1)
            predictions = {}
            for result in video.propagate():
                predictions[result.index] = result.label_map(source.size)
                if result.model_ran and 1 in result.sources:
                    model += 1
                    kept += int(result.sources[1] in ("sam", "redetected"))
            found = score_sequence([predictions[i] for i in range(len(source))], truths, sequence)
            scores.extend(found)
            per_sequence[sequence] = round(100 * summarize(found)["JF"], 1)
        table = summarize(scores)
        row = {
            "name": name,
            "split": args.split,
            "transform": args.transform,
            "base": args.base,
            "options": options,
            "JF": round(100 * table["JF"], 1),
            "J": round(100 * table["J_mean"], 1),
            "F": round(100 * table["F_mean"], 1),
            "kept": f"{kept}/{model}",
            "per_sequence": per_sequence,
            "seconds": round(time.perf_counter() - start, 1),
        }
        print(json.dumps(row), flush=True)
        with args.log.open("a") as log:
            log.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

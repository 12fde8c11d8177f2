"""`segany eval-video`: DAVIS's semi-supervised scores (J, F, J&F, recall, decay) of predicted masks.

PRED and TRUTH are either two folders of per-frame PNGs of one sequence (same file names), or two roots with
one such folder per sequence (`TRUTH/<sequence>/*.png`; every sequence of TRUTH must be in PRED). PNGs are
indexed label maps (DAVIS) or 0/255 masks (one object). The first and last frames of each sequence are not
scored (DAVIS's protocol; `--all-frames` scores them too). The data-set score averages every object of every
sequence, as DAVIS 2017 and vos-benchmark do.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from segany.cli.common import CliError, subcommand_parser, write_json_file

EXAMPLES = """
  segany eval-video tracked/masks shared/data/davis_video/blackswan/masks
  segany eval-video results/ davis_truth/ --out scores.json         # one subfolder per sequence
"""


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subcommand_parser(
        subparsers,
        "eval-video",
        "DAVIS J / F / J&F of predicted video masks",
        __doc__.split("\n\n", 1)[1] if __doc__ else "",
        EXAMPLES,
    )
    parser.add_argument("pred", help="predicted masks: a sequence folder, or a root of sequence folders")
    parser.add_argument("truth", help="ground-truth masks, laid out like PRED")
    parser.add_argument("--out", metavar="FILE.json", default=None, help="write every figure as json")
    parser.add_argument(
        "--all-frames",
        action="store_true",
        default=None,
        help="score the first and last frames too (not DAVIS's protocol)",
    )
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from segany.video.mask_io import read_label_png
    from segany.video.metrics import ObjectScores, score_sequence, summarize

    pred, truth = Path(args.pred), Path(args.truth)
    for name, folder in (("PRED", pred), ("TRUTH", truth)):
        if not folder.is_dir():
            raise CliError(f"{name} {folder} is not a folder of PNG masks (or of sequence folders)")
    pairs = _sequences(pred, truth)
    scores: list[ObjectScores] = []
    for sequence, pred_dir, truth_dir in pairs:
        files = sorted(truth_dir.glob("*.png"))
        missing = [f.name for f in files if not (pred_dir / f.name).is_file()]
        if missing:
            raise CliError(
                f"{pred_dir} lacks {len(missing)} of the {len(files)} masks of {truth_dir}, e.g. {missing[0]}"
            )
        predictions = (read_label_png(pred_dir / f.name) for f in files)
        truths = (read_label_png(f) for f in files)
        scores.extend(score_sequence(predictions, truths, sequence, skip_first_and_last=not args.all_frames))
    if not scores:
        raise CliError(f"no object found in the masks of {truth}")
    table = summarize(scores)
    print(f"{'sequence':24s} {'obj':>3s} {'J&F':>6s} {'J':>6s} {'F':>6s} {'J-rec':>6s} {'J-dec':>6s}")
    for item in scores:
        j, f = item.j_stats, item.f_stats
        print(
            f"{item.sequence:24s} {item.obj_id:3d} {100 * item.jf:6.1f} {100 * j.mean:6.1f} "
            f"{100 * f.mean:6.1f} {100 * j.recall:6.1f} {100 * j.decay:6.1f}"
        )
    print(
        f"{'all objects':24s} {'':3s} {100 * table['JF']:6.1f} {100 * table['J_mean']:6.1f} "
        f"{100 * table['F_mean']:6.1f} {100 * table['J_recall']:6.1f} {100 * table['J_decay']:6.1f}"
    )
    if args.out is not None:
        document = {
            "summary": {key: 100 * value for key, value in table.items()},
            "objects": [
                {
                    "sequence": s.sequence,
                    "object": s.obj_id,
                    "JF": 100 * s.jf,
                    "J": vars(s.j_stats),
                    "F": vars(s.f_stats),
                    "J_per_frame": list(s.j),
                    "F_per_frame": list(s.f),
                }
                for s in scores
            ],
            "first_and_last_frames_scored": bool(args.all_frames),
        }
        write_json_file(document, Path(args.out))
    return 0


def _sequences(pred: Path, truth: Path) -> list[tuple[str, Path, Path]]:
    if any(truth.glob("*.png")):
        return [(truth.name, pred, truth)]
    subfolders = sorted(p for p in truth.iterdir() if p.is_dir() and any(p.glob("*.png")))
    if not subfolders:
        raise CliError(f"TRUTH {truth} holds no PNG masks and no sequence folders of them")
    missing = [p.name for p in subfolders if not (pred / p.name).is_dir()]
    if missing:
        raise CliError(f"PRED {pred} lacks the sequence folders {missing}")
    return [(p.name, pred / p.name, p) for p in subfolders]

"""`segany eval --model M --data SPEC [--data SPEC ...] --out DIR`: the paper's point and box protocol
(segany.evaluation) for a model and the GrabCut baselines, written as tables and a plot.

For each data source (same specs as training: shared:horses:test, folder:ROOT[:TYPE], coco:..., sa1b:...)
every object (or --max-objects per image) is prompted with 1..9 simulated clicks (most confident and
oracle mask) and with its GT box (+ one refinement pass). GrabCut runs the same clicks and box unless
--no-grabcut. Outputs in --out: miou.md and miou.csv (mIoU at 1, 2, 3, 5, 9 clicks and box), objects.csv
(per object), calibration.md (the IoU head: mean |predicted - true IoU|), miou.png (needs matplotlib),
eval_config.json (the settings). --proposals adds everything-mode
proposal recall (AR@100, AR@1000 against every GT mask of each image) in proposals.md / proposals.csv.

--model: a registry name, a checkpoint file, or a training run folder (its config.json and model.pt, or
checkpoints/last.pt when model.pt is missing).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

EXAMPLES = """
  segany eval --model runs/horses --data shared:horses:test --out eval/horses
  segany eval --model vit_b --data shared:davis:test --data shared:camvid:test --max-objects 5 --out eval/vit_b
  segany eval --model runs/segany_small --data shared:camvid:test --max-clicks 5 --grabcut-max-clicks 0 --out eval/c
  segany eval --data shared:camvid:test --no-prompts --proposals --proposal-max-images 20 --out eval/ar
"""
DEFAULT_GRABCUT_MAX_SIDE = 512


def add_eval_arguments(parser: argparse.ArgumentParser) -> None:
    """Add `segany eval`'s arguments (all optional ones default to None: run_eval decides)."""
    parser.add_argument(
        "--model",
        default=None,
        metavar="NAME|PATH|RUN_DIR",
        help="registry name, checkpoint file or training run folder (default: as segany segment)",
    )
    parser.add_argument("--arch", default=None, help="architecture of a --model checkpoint file")
    parser.add_argument(
        "--data",
        action="append",
        required=True,
        metavar="SPEC",
        help="evaluation data, e.g. shared:horses:test (repeat for several datasets)",
    )
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder (created if needed)")
    parser.add_argument("--shared-root", default=None, help="root of the shared datasets")
    parser.add_argument("--max-clicks", type=int, default=None, help="clicks per object (default 9)")
    parser.add_argument("--max-images", type=int, default=None, help="first N images of each source")
    parser.add_argument("--max-objects", type=int, default=None, help="objects per image, drawn at random")
    parser.add_argument(
        "--grabcut",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also evaluate the GrabCut baselines (default on)",
    )
    parser.add_argument(
        "--grabcut-max-clicks",
        type=int,
        default=None,
        help="clicks per object for the GrabCut baseline (default: --max-clicks; 0 runs its box row only, the "
        "cheap one)",
    )
    parser.add_argument(
        "--grabcut-max-side",
        type=int,
        default=None,
        help=f"GrabCut works on images shrunk to this side (default {DEFAULT_GRABCUT_MAX_SIDE})",
    )
    parser.add_argument(
        "--prompts",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="run the click and box protocol (default on; --no-prompts with --proposals measures AR only)",
    )
    parser.add_argument(
        "--proposals",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also measure everything-mode proposal recall AR@100 / AR@1000 (the paper's setting: grid, "
        "no crops, no IoU/stability filter, NMS 0.9); slow on a CPU",
    )
    parser.add_argument(
        "--proposal-points-per-side",
        type=int,
        default=None,
        help="point grid of the proposal run (default 64, the paper's)",
    )
    parser.add_argument(
        "--proposal-max-images",
        type=int,
        default=None,
        help="first N images of each source for the proposal run (default: --max-images)",
    )
    parser.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default=None)
    parser.add_argument("--name", default=None, help="method name of the model in the tables")
    parser.add_argument("--seed", type=int, default=None, help="seed of the object sampling (default 0)")
    parser.add_argument("-q", "--quiet", action="store_true", default=None, help="no progress notes")


def load_eval_model(spec: str | None, arch: str | None, device: Any) -> tuple[Any, str]:
    """(eval-mode Sam on device, method name) for a registry name, checkpoint file or run folder."""
    from segany.checkpoint import load_state_dict_into, read_state_dict
    from segany.training.config import CONFIG_FILE, TrainConfig, run_config_path
    from segany.training.model_setup import build_model

    path = Path(spec) if spec else None
    run_dir = None
    if path is not None and path.is_dir():
        run_dir = path
        weights = path / "model.pt"
        if not weights.is_file():
            weights = path / "checkpoints" / "last.pt"
    elif path is not None and path.is_file():
        config_path = run_config_path(path)
        run_dir = None if config_path is None else config_path.parent
        weights = path
    if run_dir is not None:
        if not (run_dir / CONFIG_FILE).is_file():
            raise FileNotFoundError(f"{run_dir} is not a training run folder (no {CONFIG_FILE})")
        if not weights.is_file():
            raise FileNotFoundError(f"no weights in {run_dir} (expected model.pt or checkpoints/last.pt)")
        sam = build_model(TrainConfig.load(run_dir / CONFIG_FILE))
        load_state_dict_into(sam, read_state_dict(weights), strict=True, source=f"checkpoint {weights}")
        return sam.to(device).eval(), run_dir.name
    from segany.cli.models import resolve_model

    sam, description = resolve_model(spec, device, arch)
    return sam, description.spec if description.source == "official" else description.arch


def _dataset_name(spec: str) -> str:
    body = spec.rpartition("@")[0] if "@" in spec else spec
    return body.removeprefix("shared:")


def run_eval(args: argparse.Namespace) -> int:
    """Run `segany eval`; returns the exit code. Prints the markdown table to stdout."""
    from segany.cli.models import resolve_device
    from segany.evaluation import (
        CLICK_COUNTS,
        PAPER_PROPOSAL_SETTINGS,
        GrabCutPredictor,
        evaluate_proposals,
        evaluate_reader,
        plot_miou,
        write_object_csv,
        write_proposal_tables,
        write_tables,
    )
    from segany.evaluation.calibration import write_calibration
    from segany.predictor import SamPredictor
    from segany.training.data import parse_source

    quiet = bool(getattr(args, "quiet", None))
    max_clicks = args.max_clicks if args.max_clicks is not None else max(CLICK_COUNTS)
    if max_clicks < 1:
        raise ValueError(f"--max-clicks must be >= 1, got {max_clicks}")
    grabcut = True if args.grabcut is None else bool(args.grabcut)
    grabcut_clicks = max_clicks if args.grabcut_max_clicks is None else args.grabcut_max_clicks
    if not 0 <= grabcut_clicks <= max_clicks:
        raise ValueError(
            f"--grabcut-max-clicks must be in 0..--max-clicks ({max_clicks}), got {grabcut_clicks}"
        )
    prompts = True if args.prompts is None else bool(args.prompts)
    proposals = bool(args.proposals)
    if not (prompts or proposals):
        raise ValueError("--no-prompts leaves nothing to evaluate: add --proposals")
    points_per_side = PAPER_PROPOSAL_SETTINGS["points_per_side"]
    if args.proposal_points_per_side is not None:
        points_per_side = args.proposal_points_per_side
    if points_per_side < 1:
        raise ValueError(f"--proposal-points-per-side must be >= 1, got {points_per_side}")
    proposal_images = args.max_images if args.proposal_max_images is None else args.proposal_max_images
    seed = 0 if args.seed is None else args.seed
    device = resolve_device(args.device)
    sam, model_name = load_eval_model(args.model, args.arch, device)
    method = args.name or model_name
    predictor = SamPredictor(sam)
    baseline = GrabCutPredictor(max_side=args.grabcut_max_side or DEFAULT_GRABCUT_MAX_SIDE, seed=seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = []
    ar_results = []
    generator = None
    settings_ar: dict[str, Any] = {}
    if proposals:
        from segany.amg import SamAutomaticMaskGenerator

        settings_ar = {**PAPER_PROPOSAL_SETTINGS, "points_per_side": points_per_side}
        generator = SamAutomaticMaskGenerator(sam, output_mode="coco_rle", **settings_ar)
    common = {
        "max_clicks": max_clicks,
        "max_samples": args.max_images,
        "max_objects_per_image": args.max_objects,
        "seed": seed,
    }
    settings = {k: v for k, v in vars(args).items() if not callable(v)}
    settings.update(
        method=method,
        max_clicks=max_clicks,
        grabcut=grabcut,
        grabcut_max_clicks=grabcut_clicks,
        prompts=prompts,
        proposals=proposals,
        proposal_settings=settings_ar or None,
        proposal_max_images=proposal_images,
        seed=seed,
        device=str(device),
    )
    (out / "eval_config.json").write_text(json.dumps(settings, indent=2, default=str) + "\n")
    md_path = ar_path = None
    for spec in args.data:
        source = parse_source(spec, args.shared_root)
        dataset = _dataset_name(spec)
        started = time.perf_counter()
        if prompts:
            results += evaluate_reader(predictor, source.reader, method, dataset, **common)
        if prompts and grabcut:
            results += evaluate_reader(
                baseline,
                source.reader,
                "GrabCut",
                dataset,
                selections=("most_confident",) if grabcut_clicks > 0 else (),
                **{**common, "max_clicks": max(1, grabcut_clicks)},
            )
        if generator is not None:
            ar_results.append(
                evaluate_proposals(
                    generator.generate, source.reader, method, dataset, max_samples=proposal_images
                )
            )
        if not quiet:
            print(f"segany eval: {dataset}: {time.perf_counter() - started:.1f} s", file=sys.stderr)
        # Tables after every dataset: a long evaluation stopped midway keeps what it finished.
        if results:
            md_path, _ = write_tables(results, out)
            write_object_csv(results, out / "objects.csv")
            write_calibration([r for r in results if r.method == method], out)
        if ar_results:
            ar_path = write_proposal_tables(ar_results, out)
    if prompts and md_path is None:
        raise ValueError("the data sources hold no objects to evaluate")
    if md_path is not None:
        try:
            plot_miou(results, out / "miou.png")
        except ImportError as error:
            print(f"segany eval: warning: no plot ({error})", file=sys.stderr)
        print(md_path.read_text())
    if ar_path is not None:
        print(ar_path.read_text())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="segany eval",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        epilog="examples:\n" + EXAMPLES.strip("\n"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_eval_arguments(parser)
    return run_eval(parser.parse_args(None if argv is None else list(argv)))


if __name__ == "__main__":
    sys.exit(main())

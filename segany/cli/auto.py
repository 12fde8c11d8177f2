"""`segany auto`: the fully automatic stage over many images, locally or on a Ray cluster, resumable.

INPUT is a folder, a glob, one image, a list file (.txt: one path or URL per line) or a manifest (.parquet,
.csv or .jsonl with `id` and `uri` columns); URLs (s3://, gs://, ...) are read with pyarrow / fsspec once
the store is configured. Every image gets an SA-1B json of all its masks (a point grid, as `segany
everything`), or, with --boxes, one mask per given box (a detector's output -> masks); with --format parquet,
each shard gets one Parquet table of its masks instead (one row per mask, RLE counts).

The work is cut into shards of --shard-size images; a finished shard is renamed into OUT/shards/ and marked
done with the model fingerprint and a settings hash. Re-running the same command skips finished shards and
images; the same inputs and settings give the same bytes; other settings or another model in the same OUT
are refused unless --overwrite. OUT/index.jsonl lists every image's output (or error) in input order.
"""

from __future__ import annotations

import argparse
from typing import Any

from segany.cli.common import (
    CliError,
    add_model_options,
    add_quiet_option,
    finite_float,
    note,
    output_dir,
    positive_int,
    progress_bar,
    subcommand_parser,
)
from segany.cli.everything import PRESETS, add_generator_options, generator_settings

OUTPUT_FORMATS = ("sa1b", "parquet")  # segany.auto.OUTPUT_FORMATS (not imported here: keeps --help light)

EXAMPLES = """
  segany auto photos/ --out auto/ --preset fast
  segany auto manifest.parquet --out auto/ --engine ray --workers 2
  segany auto manifest.csv --out auto/ --engine ray --address ray://head:10001 --gpus-per-worker 1 --device cuda
  segany auto photos/ --out boxes/ --boxes detections.jsonl
  segany auto manifest.jsonl --out auto/ --format parquet
  segany engine import-auto engine_dir/ auto/ --project gulls   (review the masks in the data engine)
  (run the same command again to resume; finished shards are skipped)
"""
DEFAULT_SHARD_SIZE = 64


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subcommand_parser(
        subparsers,
        "auto",
        "automatic masks for many images (local or Ray), resumable, as SA-1B json",
        __doc__.split("\n\n", 1)[1] if __doc__ else "",
        EXAMPLES,
    )
    parser.add_argument("input", metavar="INPUT", help="folder, glob, image, list file or manifest")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder (created if needed)")
    parser.add_argument("--engine", choices=("local", "ray"), default=None, help="executor (default local)")
    parser.add_argument(
        "--address", metavar="ADDR", default=None, help="Ray cluster address (default: local)"
    )
    parser.add_argument(
        "--workers", type=positive_int, default=None, metavar="N", help="Ray model actors (default 1)"
    )
    parser.add_argument(
        "--cpus-per-worker", type=finite_float, default=None, metavar="F", help="CPUs per actor (1)"
    )
    parser.add_argument(
        "--gpus-per-worker", type=finite_float, default=None, metavar="F", help="GPUs per actor (0)"
    )
    parser.add_argument(
        "--batch-size",
        type=positive_int,
        default=None,
        metavar="N",
        help="images per actor call (encoded in one pass on CUDA)",
    )
    parser.add_argument(
        "--shard-size",
        type=positive_int,
        default=None,
        metavar="N",
        help=f"images per shard ({DEFAULT_SHARD_SIZE})",
    )
    parser.add_argument(
        "--format",
        dest="output_format",
        choices=OUTPUT_FORMATS,
        default=None,
        help="sa1b: a json per image (default); parquet: a mask table per shard (one row per mask)",
    )
    parser.add_argument(
        "--boxes",
        metavar="FILE",
        default=None,
        help="XYXY boxes per image id (.jsonl / .json) or a COCO json of detections (XYWH)",
    )
    parser.add_argument(
        "--preset", choices=PRESETS, default=None, help="generator settings preset (flags override)"
    )
    parser.add_argument("--recursive", action="store_true", default=None, help="include subfolders")
    parser.add_argument(
        "--overwrite", action="store_true", default=None, help="discard results of other settings"
    )
    add_generator_options(parser, "generator settings, grid mode")
    add_model_options(parser)
    add_quiet_option(parser)
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from segany.auto import ModelSource, read_boxes, read_manifest, run_auto
    from segany.cli.models import resolve_device

    engine = args.engine or "local"
    ray_flags = ("address", "workers", "cpus_per_worker", "gpus_per_worker", "batch_size")
    given_ray = [name for name in ray_flags if getattr(args, name) is not None]
    if engine == "local" and given_ray:
        raise CliError(f"--{given_ray[0].replace('_', '-')} applies to --engine ray")
    generator = generator_settings(args)
    boxes = None
    if args.boxes is not None:
        if generator:
            raise CliError(
                "--boxes gives one mask per box: the grid settings (--preset, --points-per-side, ...) do not apply"
            )
        boxes = read_boxes(args.boxes)
    entries = read_manifest(args.input, recursive=bool(args.recursive))
    out = output_dir(args.out)
    if engine == "local":
        resolve_device(args.device)  # an unavailable --device fails here, before any work
    source = ModelSource(args.model, args.arch, args.device or "auto")
    options = {
        name: value
        for name, value in (
            ("address", args.address),
            ("workers", args.workers),
            ("cpus_per_worker", args.cpus_per_worker),
            ("gpus_per_worker", args.gpus_per_worker),
            ("batch_size", args.batch_size),
        )
        if value is not None
    }
    note(args, f"{len(entries)} image(s), engine {engine}")
    with progress_bar(args, total=len(entries), unit="image") as bar:

        def planned(todo: int, skipped: int) -> None:
            bar.update(skipped)
            note(args, f"{skipped} image(s) already done, {todo} to do")

        try:
            summary = run_auto(
                entries,
                out,
                source,
                generator=None if boxes is not None else generator,
                boxes=boxes,
                shard_size=args.shard_size or DEFAULT_SHARD_SIZE,
                engine=engine,
                overwrite=bool(args.overwrite),
                output_format=args.output_format or "sa1b",
                on_row=lambda row: bar.update(1),
                on_plan=planned,
                **options,
            )
        except ImportError as exc:  # the Ray engine without the scale extra
            raise CliError(str(exc)) from exc
    print(f"{out}: {summary.line()}")
    if summary.shards_unfinished:
        print(
            f"{out}: {summary.shards_unfinished} shard(s) unfinished; run the command again to complete them"
        )
    return 1 if summary.errors or summary.shards_unfinished else 0

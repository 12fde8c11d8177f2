"""`segany auto` throughput: the local engine against Ray with 1 and 2 worker processes, on the same photos.

    python benchmarks/bench_auto.py PHOTOS [PHOTOS ...] [--per-input 50] [--limit 200] [--model segany_small]

PHOTOS is anything `segany auto` reads (folder, glob, list file, manifest); with several, --per-input takes the
first N of each (ids get the input's position in front). Every configuration writes a fresh output folder, so
each does all the images; the outputs are then compared byte for byte. Reported per
configuration: wall time including start-up (model load, Ray start, actor start), the steady time from the
first to the last finished image, images per minute for both, and Ray's overhead per image against the local
engine, from the configurations with the model, and, with the ``-noop`` configurations (the default list has
them: no model, an empty document per image), Ray's own per-image cost isolated: reading, decoding, moving
pixels through the object store, staging and committing. A first pass over --split-images images times the
model alone (one thread): the image encoder
(``SamPredictor.set_image``) against the rest of everything mode (decoder, upscaling, filters, NMS, RLE), the
split that docs/scale_estimate.md builds on. Each process runs torch with --threads threads (Ray actors get
as many CPUs).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("photos", nargs="+", help="folder, glob, list file or manifest (one or more)")
    parser.add_argument("--per-input", type=int, default=None, help="images taken from each input (first N)")
    parser.add_argument("--limit", type=int, default=None, help="images used in all (first N)")
    parser.add_argument("--model", default="segany_small")
    parser.add_argument("--points-per-side", type=int, default=8, help="grid side (the fast preset has 16)")
    # segany_small's logits are soft: at SAM's thresholds (0.88 / 0.95) it keeps no mask at all, and the
    # filters, NMS and RLE that follow would go untimed; these lower ones keep a few masks per image.
    parser.add_argument("--pred-iou-thresh", type=float, default=0.7)
    parser.add_argument("--stability-score-thresh", type=float, default=0.6)
    parser.add_argument(
        "--configs",
        default="local,ray1,ray2,local-noop,ray1-noop",
        help="comma-separated: local, ray1, ray2, ... (-noop: no model, for the engines' own cost)",
    )
    parser.add_argument("--format", choices=("sa1b", "parquet"), default="sa1b", help="output format")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per process / CPUs per actor")
    parser.add_argument("--split-images", type=int, default=20, help="images timed for the encoder split")
    parser.add_argument("--shard-size", type=int, default=25)
    parser.add_argument("--json", metavar="FILE", help="also write the figures as json")
    args = parser.parse_args()

    import torch

    from segany.auto import ModelSource

    torch.set_num_threads(args.threads)
    entries = gather_entries(args.photos, args.per_input)[: args.limit]
    generator = {
        "points_per_side": args.points_per_side,
        "pred_iou_thresh": args.pred_iou_thresh,
        "stability_score_thresh": args.stability_score_thresh,
    }
    source = ModelSource(args.model)
    print(
        f"{len(entries)} images, model {args.model}, generator {generator} (no crops), {args.threads} thread(s), "
        f"{args.format} output"
    )
    report: dict[str, Any] = {"images": len(entries), "model": args.model, "generator": generator}
    if args.split_images > 0:
        report["split"] = time_split(entries[: args.split_images], source, generator)
        print_split(report["split"])
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench_auto_") as folder:
        for config in args.configs.split(","):
            out = Path(folder) / config
            results[config] = run_config(config, entries, out, source, generator, args)
            print_config(config, results[config])
        names = [name for name in results if not name.endswith("-noop")]
        same = all(results[name]["bytes"] == results[names[0]]["bytes"] for name in names[1:])
    for result in results.values():
        del result["bytes"]
    report["configs"] = results
    report["outputs_identical"] = same
    print(f"outputs identical across {', '.join(names)}: {same}")
    for suffix in ("", "-noop"):
        if "local" + suffix not in results:
            continue
        local = results["local" + suffix]["steady_seconds_per_image"]
        for name, result in results.items():
            if name.startswith("ray") and name.endswith(suffix) and ("-noop" in name) == bool(suffix):
                workers = int(name[3:].partition("-")[0])
                # Overhead per image: the extra seconds each image costs a worker beyond the local engine.
                overhead = result["steady_seconds_per_image"] * workers - local
                result["overhead_seconds_per_image"] = overhead
                print(
                    f"{name}: overhead per image per worker {overhead * 1000:.0f} ms "
                    f"({100 * overhead / local:.1f}% of the local {local * 1000:.0f} ms)"
                )
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")


def gather_entries(inputs: list[str], per_input: int | None) -> list[Any]:
    """The images of every input (the first ``per_input`` of each), numbered in order; with several inputs,
    ids are ``<k>/<id>`` (k: the input's position) so that equal names in two folders stay apart."""
    from segany.auto import ImageEntry, read_manifest

    pairs = []
    for position, spec in enumerate(inputs):
        for entry in read_manifest(spec)[:per_input]:
            pairs.append((f"{position}/{entry.id}" if len(inputs) > 1 else entry.id, entry.uri))
    return [ImageEntry(image_id, uri, number) for number, (image_id, uri) in enumerate(pairs, start=1)]


class NoModelWorker:
    """Stands in for ImageWorker in the -noop configurations: an SA-1B document without masks."""

    def __init__(self, model: Any, settings: Any) -> None:
        self.settings = settings

    def document(self, task: Any, image: Any) -> dict[str, Any]:
        from segany.formats import ImageInfo
        from segany.formats.sa1b import sa1b_document

        info = ImageInfo(
            task.id, width=int(image.shape[1]), height=int(image.shape[0]), image_id=task.image_id
        )
        return sa1b_document([], info)


def time_split(entries: list[Any], source: Any, generator: dict[str, Any]) -> dict[str, float]:
    """Median seconds per image: encoder alone, and everything mode in all (same images, same process)."""
    from segany.amg import SamAutomaticMaskGenerator
    from segany.auto.sources import read_image
    from segany.predictor import SamPredictor

    model, _ = source.load()
    predictor = SamPredictor(model)
    amg = SamAutomaticMaskGenerator(model, **generator, output_mode="coco_rle")
    encoder, total, masks = [], [], []
    for entry in entries:
        image = read_image(entry.uri)
        start = time.perf_counter()
        predictor.set_image(image)
        encoder.append(time.perf_counter() - start)
        start = time.perf_counter()
        masks.append(len(amg.generate(image)))
        total.append(time.perf_counter() - start)
    return {
        "images": len(entries),
        "encoder_s": statistics.median(encoder),
        "everything_s": statistics.median(total),
        "rest_s": statistics.median(t - e for t, e in zip(total, encoder)),
        "masks_per_image": statistics.mean(masks),
    }


def run_config(
    config: str, entries: list[Any], out: Path, source: Any, generator: dict[str, Any], args: Any
) -> dict[str, Any]:
    from segany.auto import run_auto
    from segany.auto.store import SHARDS_DIR

    options: dict[str, Any] = {}
    engine = "local"
    name, _, variant = config.partition("-")
    if name.startswith("ray"):
        engine = "ray"
        options = {"workers": int(name[3:]), "cpus_per_worker": float(args.threads)}
        if variant == "noop":
            options["worker_class"] = NoModelWorker
    elif variant == "noop":
        options["worker_class"] = NoModelWorker
    finished: list[float] = []
    start = time.perf_counter()
    summary = run_auto(
        entries,
        out,
        source,
        generator=generator,
        shard_size=args.shard_size,
        engine=engine,
        output_format=args.format,
        on_row=lambda row: finished.append(time.perf_counter()),
        **options,
    )
    wall = time.perf_counter() - start
    if engine == "ray":
        import ray

        ray.shutdown()  # each Ray configuration starts its own local cluster
    steady = (finished[-1] - finished[0]) / max(1, len(finished) - 1)
    files = {
        p.relative_to(out).as_posix(): p.read_bytes()
        for p in sorted((out / SHARDS_DIR).rglob("*"))
        if p.is_file()
    }
    return {
        "wall_s": wall,
        "images_per_minute": 60 * summary.processed / wall,
        "steady_seconds_per_image": steady,
        "steady_images_per_minute": 60 / steady,
        "startup_s": finished[0] - start,
        "masks": summary.masks,
        "errors": summary.errors,
        "bytes": files,
    }


def print_split(split: dict[str, float]) -> None:
    print(
        f"per image (median of {split['images']}): encoder {split['encoder_s'] * 1000:.0f} ms, everything mode "
        f"{split['everything_s'] * 1000:.0f} ms, of which beyond the encoder {split['rest_s'] * 1000:.0f} ms; "
        f"{split['masks_per_image']:.1f} masks per image"
    )


def print_config(name: str, result: dict[str, Any]) -> None:
    print(
        f"{name}: wall {result['wall_s']:.1f} s ({result['images_per_minute']:.1f} images/min), start-up "
        f"{result['startup_s']:.1f} s, steady {result['steady_seconds_per_image'] * 1000:.0f} ms per image "
        f"({result['steady_images_per_minute']:.1f} images/min), {result['masks']} masks, {result['errors']} errors"
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()

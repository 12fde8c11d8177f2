"""Everything mode: segany vs the official segment-anything 1.0 generator (same weights, side by side).

On a 1500 x 2250 photo (the shared cars.jpg, else synthetic) with vit_b (random seeded perturbed weights: no
pretrained weights exist here), a 16 x 16 grid and thresholds lowered so that ~100 masks survive, each side
runs in its own subprocess (interleaved): `set_image` alone (the image encoder), then `generate`. "Beyond the
encoder" = generate minus the time spent in the generator's own `set_image` calls (timed by wrapping them on
both sides). Peak RSS is the VmHWM of the generate phase (reset just before it). The
outputs are compared mask by mask. Then our time alone at 32 x 32 and with the `sa1b` preset.

    python benchmarks/bench_amg.py [--repeats 1] [--threads N] [--skip-extras] [--image PATH] [--reference-decoder]

Random weights: the masks of a random decoder are scattered over the whole image and their logits never reach
+-1, so the stability filter is off (every stability score is 0) and box NMS is off (every box is the whole
image: NMS at 0.7 would keep one mask); the predicted-IoU threshold alone selects ~100 of the 768 candidates.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from segany.modeling.reference import reference_paths

SHARED_PHOTO = Path(__file__).resolve().parents[2] / "shared" / "images" / "cars.jpg"
BENCH_DIR = Path(__file__).resolve().parent


def load_photo(path: Path | None) -> tuple[np.ndarray, str]:
    candidate = path or SHARED_PHOTO
    if candidate.is_file():
        return np.asarray(Image.open(candidate).convert("RGB")), str(candidate)
    rng = np.random.default_rng(0)
    smooth = rng.integers(0, 256, (15, 23, 3), dtype=np.uint8)
    image = np.asarray(Image.fromarray(smooth).resize((2250, 1500), Image.BILINEAR))
    return image, "synthetic 1500x2250"


# ------------------------------------------------------------------------------------------------ worker side
def _rss_reset() -> bool:
    """Reset this process's peak RSS (VmHWM) to the current RSS; False where the kernel does not allow it."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _build(side: str, model: str, weights: Path) -> torch.nn.Module:
    state = torch.load(weights, map_location="cpu", weights_only=True)
    if side == "official":
        import _oracle  # noqa: F401  (puts the torchvision stand-in on sys.path)
        from segment_anything import sam_model_registry
    else:
        from segany import sam_model_registry
    net = sam_model_registry[model]()
    net.load_state_dict(state, strict=True)
    return net.eval()


def _record_json(record: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in record.items() if k != "segmentation"}
    counts = record["segmentation"]["counts"]
    out["counts"] = counts.decode() if isinstance(counts, bytes) else counts
    out["size"] = list(record["segmentation"]["size"])
    return out


def time_decoder(predictor: Any, photo: np.ndarray, config: dict[str, Any]) -> float:
    """Seconds of the prompt encoder + mask decoder alone on the generator's grid (no upsampling)."""
    height, width = photo.shape[:2]
    side = config["points_per_side"]
    cells = (np.arange(side) + 0.5) / side
    grid = np.stack(np.meshgrid(cells, cells), axis=-1).reshape(-1, 2) * np.array([[width, height]])
    coords = torch.as_tensor(predictor.transform.apply_coords(grid, (height, width)), dtype=torch.float32)
    model = predictor.model
    batch = config.get("points_per_batch") or 64
    # segany: the generator's own decoder entry point (low-rank path; its per-image cache is built on the first
    # batch, inside the timing); official: prompt encoder + mask decoder modules, as its generator calls them.
    low_res_only = getattr(predictor, "predict_low_res_torch", None)
    start = time.perf_counter()
    for first in range(0, len(coords), batch):
        points = coords[first : first + batch, None, :]
        labels = torch.ones(points.shape[:2], dtype=torch.int64)
        if low_res_only is not None:
            low_res_only(points, labels, multimask_output=True)
            continue
        sparse, dense = model.prompt_encoder(points=(points, labels), boxes=None, masks=None)
        model.mask_decoder(
            image_embeddings=predictor.features,
            image_pe=model.prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
            multimask_output=True,
        )
    return time.perf_counter() - start


def _time_set_image(predictor: Any) -> list[float]:
    """Wrap ``predictor.set_image`` (both generators encode every crop through it); returns the running total
    of seconds spent inside it, as a one-element list updated in place."""
    total = [0.0]
    original = predictor.set_image

    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            total[0] += time.perf_counter() - start

    predictor.set_image = timed
    return total


def run_worker(args: argparse.Namespace) -> None:
    if args.threads:
        torch.set_num_threads(args.threads)
    config = json.loads(args.config)
    preset = config.pop("preset", None)
    net = _build(args.worker, args.model, args.weights)
    # --reference-decoder: segany's decoding (and the encoder inside generate) on the reference maths.
    reference = args.worker == "ours" and args.reference_decoder
    photo, _ = load_photo(args.image)
    if args.worker == "official":
        from segment_anything import SamAutomaticMaskGenerator, SamPredictor

        generator = SamAutomaticMaskGenerator(net, **config)
    else:
        from segany import SamPredictor
        from segany.amg import SamAutomaticMaskGenerator

        if preset:
            generator = SamAutomaticMaskGenerator.from_preset(net, preset, **config)
        else:
            generator = SamAutomaticMaskGenerator(net, **config)

    with torch.inference_mode():
        predictor = SamPredictor(net)
        start = time.perf_counter()
        predictor.set_image(photo)
        set_image_s = time.perf_counter() - start
        with reference_paths() if reference else nullcontext():
            decoder_s = time_decoder(predictor, photo, config) if args.decoder_time else float("nan")
        del predictor
    encoder_in_generate = _time_set_image(generator.predictor)
    rss_before = _status_mb("VmRSS")
    reset = _rss_reset()
    start = time.perf_counter()
    with reference_paths() if reference else nullcontext():
        records = generator.generate(photo)
    generate_s = time.perf_counter() - start
    peak = _status_mb("VmHWM") if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {
        "side": args.worker,
        "set_image_s": set_image_s,
        "generate_s": generate_s,
        # The encoder calls inside generate are timed themselves: a separate set_image run is a noisy
        # stand-in for them (the first call of a process, other allocations).
        "encoder_in_generate_s": encoder_in_generate[0],
        "beyond_s": generate_s - encoder_in_generate[0],
        "decoder_s": decoder_s,
        "masks": len(records),
        "rss_before_mb": rss_before,
        "peak_rss_mb": peak,
        "peak_is_generate_phase": reset,
    }
    if args.records:
        Path(args.records).write_text(json.dumps([_record_json(r) for r in records]))
    print(json.dumps(result))


# ------------------------------------------------------------------------------------------------ parent side
def spawn(
    side: str,
    config: dict[str, Any],
    args: argparse.Namespace,
    weights: Path,
    records: Path | None,
    decoder_time: bool = False,
) -> dict:
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        side,
        "--weights",
        str(weights),
        "--model",
        args.model,
        "--config",
        json.dumps(config),
    ]
    if args.image:
        command += ["--image", str(args.image)]
    if args.threads:
        command += ["--threads", str(args.threads)]
    if args.reference_decoder:
        command += ["--reference-decoder"]
    if records:
        command += ["--records", str(records)]
    if decoder_time:
        command += ["--decoder-time"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(BENCH_DIR), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{side} worker failed ({done.returncode}):\n{done.stderr[-4000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"  {side:9s} {json.dumps(config)}: {result}", flush=True)
    return result


TIMED_FIELDS = (
    "set_image_s",
    "encoder_in_generate_s",
    "generate_s",
    "beyond_s",
    "decoder_s",
    "peak_rss_mb",
)


def table_row(name: str, result: dict[str, Any]) -> str:
    rest = result["beyond_s"] - result["decoder_s"]
    return (
        f"| {name} | {result['set_image_s']:.1f} | {result['generate_s']:.1f} | {result['beyond_s']:.1f} | "
        f"{result['decoder_s']:.1f} | {rest:.1f} | {result['masks']} | {result['peak_rss_mb']:.0f} |"
    )


def compare_outputs(official: Path, ours: Path) -> dict[str, Any]:
    from pycocotools import mask as coco_mask

    reference, mine = json.loads(official.read_text()), json.loads(ours.read_text())
    same_fields = 0
    ious, pixels = [], []
    for a, b in zip(reference, mine):
        same_fields += all(a[k] == b[k] for k in ("area", "bbox", "point_coords", "crop_box"))
        rles = [{"size": r["size"], "counts": r["counts"].encode()} for r in (a, b)]
        ious.append(float(coco_mask.iou([rles[1]], [rles[0]], [False])[0, 0]))
        masks = [coco_mask.decode(rle) for rle in rles]
        pixels.append(int(np.count_nonzero(masks[0] != masks[1])))
    return {
        "official": len(reference),
        "ours": len(mine),
        "same_fields": same_fields,
        "identical_rle": sum(a["counts"] == b["counts"] for a, b in zip(reference, mine)),
        "min_iou": min(ious) if ious else float("nan"),
        "max_pixels_differing": max(pixels, default=0),
        "max_area_diff": max((abs(a["area"] - b["area"]) for a, b in zip(reference, mine)), default=0),
        "max_score_diff": max(
            [abs(a[k] - b[k]) for a, b in zip(reference, mine) for k in ("predicted_iou", "stability_score")]
            or [0.0]
        ),
    }


def make_weights(model: str, seed: int, noise: float, folder: Path) -> Path:
    from _oracle import build_reference_and_ours

    reference, _ = build_reference_and_ours(model, seed=seed, noise=noise)
    path = folder / f"{model}_seed{seed}.pt"
    torch.save(reference.state_dict(), path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="vit_b")
    parser.add_argument("--image", type=Path, default=None, help="photo (default: shared cars.jpg)")
    parser.add_argument("--points-per-side", type=int, default=16)
    parser.add_argument(
        "--pred-iou-thresh", type=float, default=0.22, help="~100 of 768 survive (vit_b seed 0)"
    )
    parser.add_argument("--points-per-batch", type=int, default=64, help="both sides (official default)")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument(
        "--reference-decoder",
        action="store_true",
        help="segany on the reference maths (reference_paths; the encoder inside generate too), for comparison",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--noise", type=float, default=0.02)
    parser.add_argument("--skip-extras", action="store_true", help="skip our 32 x 32 and sa1b runs")
    parser.add_argument("--worker", choices=["official", "ours"], help=argparse.SUPPRESS)
    parser.add_argument("--weights", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    parser.add_argument("--records", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--decoder-time", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--no-decoder-time", action="store_true", help="skip timing the decoder alone")
    args = parser.parse_args()
    if args.worker:
        run_worker(args)
        return

    photo, photo_name = load_photo(args.image)
    config = {
        "points_per_side": args.points_per_side,
        "points_per_batch": args.points_per_batch,
        "pred_iou_thresh": args.pred_iou_thresh,
        "stability_score_thresh": 0.0,
        "box_nms_thresh": 1.0,
        "output_mode": "coco_rle",
    }
    print(f"image: {photo_name} {photo.shape[1]}x{photo.shape[0]}; model {args.model}; config {config}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        weights = make_weights(args.model, args.seed, args.noise, folder)
        runs: dict[str, list[dict]] = {"official": [], "ours": []}
        for repeat in range(args.repeats):
            for side in ("official", "ours") if repeat % 2 == 0 else ("ours", "official"):
                records = folder / f"{side}.json"
                runs[side].append(spawn(side, config, args, weights, records, not args.no_decoder_time))
        identity = compare_outputs(folder / "official.json", folder / "ours.json")
        extras = {}
        if not args.skip_extras:
            auto = {**config, "points_per_batch": None}
            extras["ours, points_per_batch=None (auto)"] = spawn("ours", auto, args, weights, None)
            extras["ours 32x32"] = spawn("ours", {**config, "points_per_side": 32}, args, weights, None)
            extras["ours sa1b preset"] = spawn(
                "ours", {"preset": "sa1b", "output_mode": "coco_rle"}, args, weights, None
            )

    medians = {
        side: {key: statistics.median(r[key] for r in results) for key in TIMED_FIELDS}
        | {"masks": results[0]["masks"]}
        for side, results in runs.items()
    }
    print(
        f"\n### Everything mode, {args.model}, {photo.shape[1]}x{photo.shape[0]}, {args.points_per_side}x"
        f"{args.points_per_side} grid, median of {args.repeats} (shared, noisy 2-core machine)\n"
    )
    print(
        "| | set_image (s) | generate (s) | beyond encoder (s) | decoder alone (s) | beyond encoder and decoder (s)"
        " | masks | peak RSS of generate (MB) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for side in ("official", "ours"):
        print(table_row(side, medians[side]))
    ratios = {key: medians["official"][key] / medians["ours"][key] for key in TIMED_FIELDS}
    rest = [medians[side]["beyond_s"] - medians[side]["decoder_s"] for side in ("official", "ours")]
    print(
        f"| **official / ours** | {ratios['set_image_s']:.2f}x | {ratios['generate_s']:.2f}x | "
        f"**{ratios['beyond_s']:.2f}x** | {ratios['decoder_s']:.2f}x | {rest[0] / rest[1]:.2f}x | | "
        f"{ratios['peak_rss_mb']:.2f}x |"
    )
    for name, result in extras.items():
        print(table_row(name, result))
    print(f"\nidentical output check: {identity}")


if __name__ == "__main__":
    main()

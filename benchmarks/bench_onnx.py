"""ONNX Runtime vs torch on CPU: decoder latency per prompt and encoder latency, fp32 and int8.

    python benchmarks/bench_onnx.py                       # vit_b, random weights, cars.jpg (2250 x 1500)
    python benchmarks/bench_onnx.py --model vit_tiny --encoder-repeats 3
    python benchmarks/bench_onnx.py --checkpoint sam_vit_b_01ec64.pth --threads 2
    python benchmarks/bench_onnx.py --model segany_small --checkpoint runs/segany_small/model.pt --threads 2

Decoder rows (one positive point, 3 masks):
  ort lowres        decoder_lowres.onnx alone: 4 low-res logit maps (256 x 256 for SAM), no upscaling
  ort lowrank       the cached per-prompt graph alone (same output): decoder_lowrank.onnx (exact low-rank
  / ort dense       form) or, for narrow decoders such as segany_small's, decoder_dense.onnx (dense form); its
                    image terms computed once by decoder_prep.onnx (the "prep" row, once per image)
  ort official      decoder.onnx (the official contract), masks upscaled inside the graph to the photo size
  OnnxPredictor     the cached pair (fp32; int8: decoder_lowres.onnx) + upscaling outside ORT (OpenCV, or
                    Pillow/numpy) + threshold
  torch predictor   segany SamPredictor.predict, the reference
Encoder rows: one set_image (resize + encoder) with torch, ORT fp32 and ORT int8.
Accuracy rows (with int8): mask IoU of the int8 export against fp32 on the photo and the repository's fixture
photos, a grid of single-point prompts each. Random weights make int8 look worse than trained weights do:
pass --checkpoint to measure a real model.
Prints medians of wall time and of process CPU time (ms; CPU time sums all threads, and is the steadier number
on a machine shared with other jobs) and each row's ratios to the torch row of its group.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DEFAULT_IMAGE = Path("/work/shared/images/cars.jpg")
FIXTURE_DIR = Path(__file__).resolve().parents[1] / "tests" / "fixtures"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="vit_b", help="registry name (default vit_b, random weights)")
    parser.add_argument("--checkpoint", default=None, help="weights for --model")
    parser.add_argument(
        "--image", default=None, help=f"photo (default {DEFAULT_IMAGE}, else synthetic 2250x1500)"
    )
    parser.add_argument(
        "--export-dir", default=None, help="reuse / write the export here (default: a temp dir)"
    )
    parser.add_argument("--repeats", type=int, default=20, help="decoder repeats per row")
    parser.add_argument("--encoder-repeats", type=int, default=2, help="encoder repeats per row (slow)")
    parser.add_argument(
        "--threads", type=int, default=None, help="intra-op threads for torch and ORT (default: all)"
    )
    parser.add_argument("--no-int8", action="store_true", help="skip the int8 rows")
    parser.add_argument("--no-encoder", action="store_true", help="skip the encoder rows")
    parser.add_argument(
        "--no-accuracy", action="store_true", help="skip the int8 vs fp32 mask IoU on real photos"
    )
    parser.add_argument(
        "--accuracy-points", type=int, default=4, help="point grid side per photo for the int8 accuracy rows"
    )
    parser.add_argument(
        "--decoder-form",
        choices=("auto", "lowrank", "dense"),
        default="auto",
        help="form of the cached per-prompt decoder to export (default: the export's own choice)",
    )
    return parser.parse_args(argv)


def load_image(path: str | None) -> tuple[np.ndarray, str]:
    from PIL import Image

    candidate = Path(path) if path else DEFAULT_IMAGE
    if candidate.is_file():
        with Image.open(candidate) as image:
            return np.asarray(image.convert("RGB")), candidate.name
    if path:
        raise FileNotFoundError(path)
    rng = np.random.default_rng(0)
    ys, xs = np.mgrid[0:1500, 0:2250]
    image = np.stack([xs % 256, ys % 256, (xs + ys) % 256], axis=-1).astype(np.float32)
    image += rng.normal(0, 8, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8), "synthetic 2250x1500"


@dataclass(frozen=True)
class Timing:
    wall_ms: float  # median wall-clock latency
    cpu_ms: float  # median CPU time of this process (all its threads): robust to other jobs on the machine


def median_ms(fn: Callable[[], object], repeats: int, warmup: int = 1) -> Timing:
    for _ in range(warmup):
        fn()
    walls, cpus = [], []
    for _ in range(max(1, repeats)):
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return Timing(1000.0 * statistics.median(walls), 1000.0 * statistics.median(cpus))


def _ratio(value: float, base: float) -> str:
    return f"{base / value:.2f}x faster" if value < base else f"{value / base:.2f}x slower"


def print_table(title: str, rows: list[tuple[str, Timing]], reference: str) -> None:
    base = dict(rows)[reference]
    print(f"\n{title}")
    print(f"  {'':<40}{'wall ms':>10}{'cpu ms':>10}   {'wall vs ' + reference:<36}cpu vs reference")
    for name, timing in rows:
        wall = "1.00" if name == reference else _ratio(timing.wall_ms, base.wall_ms)
        cpu = "1.00" if name == reference else _ratio(timing.cpu_ms, base.cpu_ms)
        print(f"  {name:<40}{timing.wall_ms:>10.2f}{timing.cpu_ms:>10.2f}   {wall:<36}{cpu}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import onnxruntime as ort
    import torch

    from segany.geometry import _CV2, upscale_logits
    from segany.onnx.contract import ExportMetadata
    from segany.onnx.export import export_onnx
    from segany.onnx.runtime import OnnxPredictor
    from segany.predictor import SamPredictor
    from segany.registry import build_sam, resolve_config

    if args.threads:
        torch.set_num_threads(args.threads)
    options = ort.SessionOptions()
    if args.threads:
        options.intra_op_num_threads = args.threads
    image, image_name = load_image(args.image)
    height, width = image.shape[:2]
    print(
        f"model {args.model} ({'checkpoint' if args.checkpoint else 'random weights'}), image {image_name} "
        f"{width}x{height}, torch threads {torch.get_num_threads()}, ORT threads {args.threads or 'default'}, "
        f"cpu count {os.cpu_count()}"
    )

    sam = build_sam(resolve_config(args.model), checkpoint=args.checkpoint)
    temp = None
    if args.export_dir and (Path(args.export_dir) / "metadata.json").is_file():
        export_dir = Path(args.export_dir)
        print(f"reusing the export in {export_dir}")
    else:
        if args.export_dir:
            export_dir = Path(args.export_dir)
        else:
            temp = tempfile.TemporaryDirectory(prefix="bench_onnx_")
            export_dir = Path(temp.name)
        start = time.perf_counter()
        export_onnx(
            sam,
            export_dir,
            quantize=None if args.no_int8 else "int8",
            model_name=args.model,
            verify=False,
            decoder_form=args.decoder_form,
        )
        print(f"export{'' if args.no_int8 else ' + int8 quantization'}: {time.perf_counter() - start:.1f} s")
    int8 = not args.no_int8 and ExportMetadata.load(export_dir).quantization == "int8"

    torch_predictor = SamPredictor(sam)
    fp32 = OnnxPredictor(export_dir, session_options=options)
    quantized = OnnxPredictor(export_dir, quantized="int8", session_options=options) if int8 else None

    if not args.no_encoder:
        encoder_rows = [
            (
                "torch encoder (set_image)",
                median_ms(lambda: torch_predictor.set_image(image), args.encoder_repeats),
            )
        ]
        encoder_rows.append(
            ("ORT fp32 encoder (set_image)", median_ms(lambda: fp32.set_image(image), args.encoder_repeats))
        )
        if quantized is not None:
            encoder_rows.append(
                (
                    "ORT int8 encoder (set_image)",
                    median_ms(lambda: quantized.set_image(image), args.encoder_repeats),
                )
            )
        print_table("encoder, one image", encoder_rows, "torch encoder (set_image)")
    else:
        with torch.inference_mode():
            torch_predictor.set_image(image)

    # All decoders get the same (torch) embedding, so the rows differ only in the decoder path.
    embedding = torch_predictor.get_image_embedding().cpu().numpy()
    for predictor in filter(None, (fp32, quantized)):
        predictor.set_image_embedding(embedding, (height, width))
    low_res_hw = tuple(4 * side for side in embedding.shape[-2:])  # the decoder's mask frame
    point, label = np.array([[width * 0.45, height * 0.55]]), np.array([1])
    scale = np.array([fp32.input_size[1] / width, fp32.input_size[0] / height])  # pixels -> 1024 frame
    feeds = {
        "image_embeddings": embedding,
        "point_coords": np.array([[point[0] * scale, [0.0, 0.0]]], dtype=np.float32),
        "point_labels": np.array([[1.0, -1.0]], dtype=np.float32),
        "mask_input": np.zeros((1, 1, *low_res_hw), np.float32),
        "has_mask_input": np.zeros(1, np.float32),
    }
    lowres_session = fp32.decoder_session
    official = ort.InferenceSession(
        str(export_dir / ExportMetadata.load(export_dir).files["decoder"]),
        options,
        providers=["CPUExecutionProvider"],
    )
    official_feeds = {**feeds, "orig_im_size": np.array([height, width], np.float32)}
    files = ExportMetadata.load(export_dir).files
    rows = [("ORT fp32 lowres decoder", median_ms(lambda: lowres_session.run(None, feeds), args.repeats))]
    cached_role = fp32.cached_decoder_role
    if cached_role is not None:
        form = cached_role.removeprefix("decoder_")
        prep, low_rank = (
            ort.InferenceSession(str(export_dir / files[role]), options, providers=["CPUExecutionProvider"])
            for role in ("decoder_prep", cached_role)
        )
        prep_feeds = {"image_embeddings": embedding}
        terms = dict(zip([o.name for o in prep.get_outputs()], prep.run(None, prep_feeds)))
        low_rank_feeds = {
            "point_coords": feeds["point_coords"],
            "point_labels": feeds["point_labels"],
            **terms,
        }
        rows.append(
            (f"ORT fp32 {form} decoder", median_ms(lambda: low_rank.run(None, low_rank_feeds), args.repeats))
        )
        rows.append(
            (f"ORT fp32 {form} prep (once per image)", median_ms(lambda: prep.run(None, prep_feeds), 3))
        )
        diff = np.abs(low_rank.run(None, low_rank_feeds)[1] - lowres_session.run(None, feeds)[1]).max()
        print(f"{form} vs lowres decoder: low-res logits max |diff| {diff:.2e}")
    rows += [
        (
            f"ORT fp32 official decoder {width}x{height}",
            median_ms(lambda: official.run(None, official_feeds), args.repeats),
        ),
        ("OnnxPredictor fp32 predict", median_ms(lambda: fp32.predict(point, label), args.repeats)),
    ]
    low_res = lowres_session.run(None, feeds)[1][0, 1:]
    rows.append(
        (
            f"upscale 3 masks only ({'cv2' if _CV2 is not None else 'Pillow/numpy'})",
            median_ms(
                lambda: upscale_logits(low_res, fp32.image_size, fp32.input_size, (height, width)),
                args.repeats,
            ),
        )
    )
    if quantized is not None:
        q_session = quantized.decoder_session
        rows.append(("ORT int8 lowres decoder", median_ms(lambda: q_session.run(None, feeds), args.repeats)))
        rows.append(
            ("OnnxPredictor int8 predict", median_ms(lambda: quantized.predict(point, label), args.repeats))
        )
    rows.append(
        ("torch predictor predict", median_ms(lambda: torch_predictor.predict(point, label), args.repeats))
    )
    print_table(
        f"decoder, one point, 3 masks at {width}x{height} (lowres rows: {low_res_hw[0]}x{low_res_hw[1]} only)",
        rows,
        "torch predictor predict",
    )
    if quantized is not None and not args.no_accuracy:
        print_int8_accuracy(fp32, quantized, [(image_name, image), *accuracy_photos()], args.accuracy_points)
    if temp is not None:
        temp.cleanup()
    return 0


def accuracy_photos() -> list[tuple[str, np.ndarray]]:
    """The repository's real fixture photos (beside the benchmark photo) for the int8 accuracy rows."""
    from PIL import Image

    photos = []
    for path in sorted(FIXTURE_DIR.glob("*.jpg")):
        with Image.open(path) as photo:
            photos.append((path.name, np.asarray(photo.convert("RGB"))))
    return photos


def print_int8_accuracy(
    fp32: object, quantized: object, photos: list[tuple[str, np.ndarray]], points_per_side: int
) -> None:
    """Mask IoU of the int8 export (int8 encoder + int8 decoder, each from its own set_image) vs fp32.

    Prompts: a points_per_side x points_per_side grid of single positive points on each photo; all 3 multimask
    outputs are compared at the photo's size. Pairs where both masks are empty count as IoU 1.
    """
    print(
        f"\nint8 vs fp32 accuracy: {points_per_side}x{points_per_side} single-point prompts per photo, 3 masks each"
    )
    print(
        f"  {'photo':<24}{'size':>12}{'masks':>7}{'mean IoU':>10}{'median':>9}{'min':>8}{'share >= 0.9':>14}"
    )
    everything = []
    for name, photo in photos:
        height, width = photo.shape[:2]
        fp32.set_image(photo)
        quantized.set_image(photo)
        cells = (np.arange(points_per_side) + 0.5) / points_per_side
        ious = []
        for y in cells:
            for x in cells:
                point, label = np.array([[x * width, y * height]]), np.array([1])
                reference = fp32.predict(point, label, multimask_output=True)[0]
                candidate = quantized.predict(point, label, multimask_output=True)[0]
                for a, b in zip(reference, candidate):
                    union = np.count_nonzero(a | b)
                    ious.append(1.0 if union == 0 else np.count_nonzero(a & b) / union)
        everything += ious
        values = np.array(ious)
        print(
            f"  {name:<24}{f'{width}x{height}':>12}{values.size:>7}{values.mean():>10.4f}"
            f"{np.median(values):>9.4f}{values.min():>8.4f}{(values >= 0.9).mean():>14.2%}"
        )
    values = np.array(everything)
    print(
        f"  {'all':<24}{'':>12}{values.size:>7}{values.mean():>10.4f}{np.median(values):>9.4f}"
        f"{values.min():>8.4f}{(values >= 0.9).mean():>14.2%}"
    )


if __name__ == "__main__":
    sys.exit(main())

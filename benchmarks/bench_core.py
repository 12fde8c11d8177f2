"""Side-by-side speed of segany vs the official segment-anything 1.0 (same weights, one run, interleaved).

Measures: image encoder (vit_b, 1024 x 1024 input) and `predict` with one point, multimask, masks at the full
size of a 1500 x 2250 photo. Prints medians, ratios and the parity errors seen on the way.

    python benchmarks/bench_core.py [--model vit_b] [--encoder-repeats 3] [--predict-repeats 30] [--reference-decoder]
"""

from __future__ import annotations

import argparse
import statistics
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch
from _oracle import build_reference_and_ours, segment_anything
from PIL import Image

from segany.modeling.reference import reference_paths
from segany.predictor import SamPredictor

SHARED_PHOTO = Path(__file__).resolve().parents[2] / "shared" / "images" / "cars.jpg"


def load_photo(path: Path | None) -> tuple[np.ndarray, str]:
    candidate = path or SHARED_PHOTO
    if candidate.is_file():
        return np.asarray(Image.open(candidate).convert("RGB")), str(candidate)
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (1500, 2250, 3), dtype=np.uint8), "synthetic noise 1500x2250"


# CPU time of this process (all threads) per timed call, beside the wall time: time stolen by other jobs or
# virtual machines on a shared host stretches wall time but not CPU time, so CPU ratios are the steadier view.
CPU_TIMES: dict[str, list[float]] = {}


def timed(fn, key: str | None = None) -> float:  # type: ignore[no-untyped-def]
    start, cpu = time.perf_counter(), time.process_time()
    fn()
    wall = time.perf_counter() - start
    if key is not None:
        CPU_TIMES.setdefault(key, []).append(time.process_time() - cpu)
    return wall


def paired_ratio(reference_times: list[float], our_times: list[float]) -> float:
    """Median over interleaved pairs of reference time / our time."""
    return statistics.median(ref / ours for ref, ours in zip(reference_times, our_times))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="vit_b")
    parser.add_argument(
        "--image", type=Path, default=None, help="photo for predict (default: shared cars.jpg)"
    )
    parser.add_argument("--encoder-repeats", type=int, default=3)
    parser.add_argument("--predict-repeats", type=int, default=30)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument(
        "--reference-decoder",
        action="store_true",
        help="segany's prompt decoding on the reference maths (reference_paths), for comparison",
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    reference, ours = build_reference_and_ours(args.model)
    x = torch.randn(1, 3, 1024, 1024)
    ref_times, our_times = [], []
    with torch.inference_mode():
        for _ in range(args.encoder_repeats):  # interleaved so that machine noise hits both alike
            ref_times.append(timed(lambda: reference.image_encoder(x), "enc_ref"))
            our_times.append(timed(lambda: ours.image_encoder(x), "enc_ours"))
        ref_emb, our_emb = reference.image_encoder(x), ours.image_encoder(x)
    enc_ref, enc_ours = statistics.median(ref_times), statistics.median(our_times)
    emb_diff = (ref_emb - our_emb).abs().max().item()

    photo, photo_name = load_photo(args.image)
    ref_pred = segment_anything.SamPredictor(reference)
    our_pred = SamPredictor(ours)
    ref_pred.set_image(photo)
    our_pred.set_image(photo)
    height, width = photo.shape[:2]
    point = np.array([[width * 0.5, height * 0.6]])
    label = np.array([1])
    ref_pt, our_pt = [], []
    # --reference-decoder: segany's prompt decoding on the reference maths (the encoder ran above, fast).
    with reference_paths() if args.reference_decoder else nullcontext():
        for _ in range(args.predict_repeats):
            ref_pt.append(timed(lambda: ref_pred.predict(point, label, multimask_output=True), "pred_ref"))
            our_pt.append(timed(lambda: our_pred.predict(point, label, multimask_output=True), "pred_ours"))
        ref_masks, ref_scores, ref_logits = ref_pred.predict(point, label, multimask_output=True)
        our_masks, our_scores, our_logits = our_pred.predict(point, label, multimask_output=True)
        ref_full = ref_pred.predict(point, label, multimask_output=True, return_logits=True)[0]
        sure = np.abs(ref_full) > 1e-3
    pred_ref, pred_ours = statistics.median(ref_pt), statistics.median(our_pt)

    decoder_path = "reference" if args.reference_decoder else "low-rank"
    print(
        f"model {args.model}, torch {torch.__version__}, threads {torch.get_num_threads()}, decoder {decoder_path}"
    )
    print(f"predict photo: {photo_name} ({width}x{height})")
    print("| step | official (median) | segany (median) | speed-up |")
    print("|---|---|---|---|")
    print(f"| image encoder 1024x1024 | {enc_ref:.2f} s | {enc_ours:.2f} s | {enc_ref / enc_ours:.2f}x |")
    print(
        f"| predict, 1 point, 3 masks at {width}x{height} | {pred_ref * 1e3:.1f} ms | {pred_ours * 1e3:.1f} ms | "
        f"{pred_ref / pred_ours:.2f}x |"
    )
    cpu = {key: statistics.median(values) for key, values in CPU_TIMES.items()}
    print(
        f"process CPU time (median, all threads): encoder {cpu['enc_ref']:.2f} s vs {cpu['enc_ours']:.2f} s "
        f"({cpu['enc_ref'] / cpu['enc_ours']:.2f}x); predict {cpu['pred_ref'] * 1e3:.1f} ms vs "
        f"{cpu['pred_ours'] * 1e3:.1f} ms ({cpu['pred_ref'] / cpu['pred_ours']:.2f}x)"
    )
    # Each official run is timed right before ours, so a slow spell of the host hits both: the median of the
    # per-pair ratios is steadier than the ratio of the medians when the host's speed drifts during the run.
    print(
        f"median of per-pair ratios (official run / the segany run after it): encoder "
        f"{paired_ratio(ref_times, our_times):.2f}x, predict {paired_ratio(ref_pt, our_pt):.2f}x"
    )
    print(
        f"encoder runs (s): official {[round(t, 2) for t in ref_times]}, segany {[round(t, 2) for t in our_times]}"
    )
    print(
        f"parity: embedding max|diff| {emb_diff:.2e} (scale {ref_emb.abs().max().item():.2f}); "
        f"low-res logits {np.abs(ref_logits - our_logits).max():.2e}; scores {np.abs(ref_scores - our_scores).max():.2e}; "
        f"mask pixels differing where |ref logit| > 1e-3: {int(((ref_masks != our_masks) & sure).sum())} "
        f"(anywhere: {int((ref_masks != our_masks).sum())} of {ref_masks.size})"
    )


if __name__ == "__main__":
    main()

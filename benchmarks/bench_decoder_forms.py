"""The two forms of the cached per-prompt ONNX decoder side by side: low-rank vs dense, one model, one run.

Exports `decoder_prep.onnx` + `decoder_lowrank.onnx` and `decoder_prep.onnx` + `decoder_dense.onnx` for the
model, then times each per-prompt graph (one point, all 4 low-res masks) in its own short-lived process,
alternating between the forms: ONNX Runtime sessions left idle in one process keep spinning threads that
would distort the other's timings. Prints each round's median, the medians over rounds, their ratio, the
largest difference between the two forms' low-res logits, and which form `export_onnx` picks by default.

    python benchmarks/bench_decoder_forms.py --model segany_small --checkpoint segany/pretrained/segany_small.safetensors
    python benchmarks/bench_decoder_forms.py --model vit_b --rounds 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FORMS = ("lowrank", "dense")


def time_graph(directory: Path, form: str, repeats: int, threads: int) -> None:
    """Child process: time one per-prompt graph, print {"ms": median, "low_res_file": path} as JSON."""
    import numpy as np
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    folder = directory / form
    embedding = np.load(directory / "embedding.npy")
    prep = ort.InferenceSession(
        str(folder / "decoder_prep.onnx"), options, providers=["CPUExecutionProvider"]
    )
    names = [output.name for output in prep.get_outputs()]
    terms = dict(zip(names, prep.run(None, {"image_embeddings": embedding})))
    del prep
    session = ort.InferenceSession(
        str(folder / f"decoder_{form}.onnx"), options, providers=["CPUExecutionProvider"]
    )
    size = float(json.loads((directory / "model.json").read_text())["image_size"])
    feeds = {
        "point_coords": np.array([[[0.45 * size, 0.55 * size], [0.0, 0.0]]], np.float32),
        "point_labels": np.array([[1.0, -1.0]], np.float32),
        **terms,
    }
    times = []
    for _ in range(repeats + 5):  # the first 5 warm up and are dropped
        start = time.perf_counter()
        _, low_res = session.run(None, feeds)
        times.append(time.perf_counter() - start)
    out = folder / "low_res.npy"
    np.save(out, low_res)
    print(json.dumps({"ms": 1000.0 * statistics.median(times[5:]), "low_res_file": str(out)}))


def export_both(args: argparse.Namespace, directory: Path) -> str:
    import numpy as np
    import torch

    from segany.onnx.dense_decoder import prefers_dense_decoder
    from segany.onnx.export import export_cached_decoder
    from segany.registry import build_sam, resolve_config

    sam = build_sam(resolve_config(args.model), checkpoint=args.checkpoint).eval()
    if args.checkpoint is None:  # random weights: perturb everything so no path is trivially zero
        generator = torch.Generator().manual_seed(0)
        with torch.no_grad():
            for param in sam.parameters():
                param.add_(torch.randn(param.shape, generator=generator) * 0.02)
    for form in FORMS:
        (directory / form).mkdir()
        export_cached_decoder(sam, directory / form, form=form)
    encoder = sam.prompt_encoder
    generator = torch.Generator().manual_seed(1)
    embedding = torch.randn(1, encoder.embed_dim, *encoder.image_embedding_size, generator=generator)
    np.save(directory / "embedding.npy", embedding.numpy())
    (directory / "model.json").write_text(json.dumps({"image_size": sam.image_size}))
    return "dense" if prefers_dense_decoder(sam) else "lowrank"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="segany_small")
    parser.add_argument("--checkpoint", default=None, help="weights for --model (default: random, perturbed)")
    parser.add_argument(
        "--rounds", type=int, default=5, help="alternating rounds (one process per form each)"
    )
    parser.add_argument("--repeats", type=int, default=60, help="timed calls per process")
    parser.add_argument("--threads", type=int, default=2, help="ONNX Runtime intra-op threads")
    parser.add_argument("--child", nargs=2, metavar=("DIR", "FORM"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        time_graph(Path(args.child[0]), args.child[1], args.repeats, args.threads)
        return

    import numpy as np

    with tempfile.TemporaryDirectory(prefix="bench_forms_") as temp:
        directory = Path(temp)
        default = export_both(args, directory)
        runs: dict[str, list[float]] = {form: [] for form in FORMS}
        outputs: dict[str, str] = {}
        for _ in range(args.rounds):
            for form in FORMS:
                command = [sys.executable, __file__, "--child", str(directory), form]
                command += ["--repeats", str(args.repeats), "--threads", str(args.threads)]
                result = json.loads(
                    subprocess.run(command, check=True, capture_output=True, text=True).stdout
                )
                runs[form].append(result["ms"])
                outputs[form] = result["low_res_file"]
        diff = float(np.abs(np.load(outputs["lowrank"]) - np.load(outputs["dense"])).max())
    print(
        f"model {args.model} ({'checkpoint' if args.checkpoint else 'random weights'}), threads {args.threads}"
    )
    for form, values in runs.items():
        print(
            f"{form:8s} median {statistics.median(values):6.2f} ms   rounds {[round(v, 2) for v in values]}"
        )
    ratio = statistics.median(runs["lowrank"]) / statistics.median(runs["dense"])
    print(
        f"lowrank / dense: {ratio:.2f}x; max |low-res logit difference| {diff:.2e}; export default: {default}"
    )


if __name__ == "__main__":
    main()

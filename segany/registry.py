"""Model configurations and builders: the architecture numbers of every registered SAM live here.

`sam_model_registry[name](checkpoint=None)` mirrors the official API; `build_sam(config)` builds any
configuration (other widths, depths, image sizes).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from torch import nn

from segany.modeling import ImageEncoderViT, MaskDecoder, PromptEncoder, Sam, TwoWayTransformer
from segany.modeling.conv_encoder import ImageEncoderConv
from segany.modeling.mbconv_encoder import LITE0_STAGES, ImageEncoderMBConv, MBStage

PATCH_SIZE = 16
PROMPT_EMBED_DIM = 256


@dataclass(frozen=True)
class ViTEncoderConfig:
    embed_dim: int
    depth: int
    num_heads: int
    global_attn_indexes: tuple[int, ...]
    window_size: int = 14
    mlp_ratio: float = 4.0
    drop_path_rate: float = 0.0


@dataclass(frozen=True)
class ConvEncoderConfig:
    """The small convolutional encoder (`segany.modeling.conv_encoder`): widths/depths of its 3 stages."""

    widths: tuple[int, int, int] = (64, 128, 256)
    depths: tuple[int, int, int] = (1, 2, 4)
    drop_path_rate: float = 0.0


@dataclass(frozen=True)
class MBConvEncoderConfig:
    """The EfficientNet-Lite-shaped encoder (`segany.modeling.mbconv_encoder`): its stages, output stride 16."""

    stages: tuple[MBStage, ...] = LITE0_STAGES


EncoderConfig = ViTEncoderConfig | ConvEncoderConfig | MBConvEncoderConfig


@dataclass(frozen=True)
class SamConfig:
    encoder: EncoderConfig
    image_size: int = 1024
    prompt_embed_dim: int = PROMPT_EMBED_DIM

    def with_image_size(self, image_size: int) -> SamConfig:
        return replace(self, image_size=image_size)


VIT_B = SamConfig(ViTEncoderConfig(embed_dim=768, depth=12, num_heads=12, global_attn_indexes=(2, 5, 8, 11)))
VIT_L = SamConfig(
    ViTEncoderConfig(embed_dim=1024, depth=24, num_heads=16, global_attn_indexes=(5, 11, 17, 23))
)
VIT_H = SamConfig(
    ViTEncoderConfig(embed_dim=1280, depth=32, num_heads=16, global_attn_indexes=(7, 15, 23, 31))
)
# A few-second test model with the official decoder and prompt encoder and a 2-block encoder.
VIT_TINY = SamConfig(ViTEncoderConfig(embed_dim=64, depth=2, num_heads=2, global_attn_indexes=(1,)))

# Our own small model: a convolutional encoder with a 128-wide decoder, trained from scratch at 384 px
# (configs/segany_small.json, then configs/segany_small_stage2.json) and finished at 512 px
# (configs/segany_small_512.json, then two fine-tuning stages; all five: configs/train_segany_small.sh);
# the CLI default when no official checkpoint is cached (segany/pretrained).
SEGANY_SMALL = SamConfig(ConvEncoderConfig(), image_size=512, prompt_embed_dim=128)
# A candidate encoder for its second generation, kept for comparisons: EfficientNet-Lite0-shaped, started from
# ImageNet classification weights (segany.training.backbone_init), the same 128-wide decoder, 512 px
# (configs/v2_probe/lite0_v1_decoder.json); the second generation (segany_small_v2) uses it.
SEGANY_SMALL_LITE0 = SamConfig(MBConvEncoderConfig(), image_size=512, prompt_embed_dim=128)
# The same network fed 640-px inputs (the encoder is fully convolutional and the prompt encoder's positional
# encoding works in normalised coordinates, so the weights are shared; only the resize target differs):
# finer mask logits (160 x 160) for 1.56x the encoder's pixels (configs/segany_small_lite0_cycle3_640.json).
SEGANY_SMALL_LITE0_640 = SEGANY_SMALL_LITE0.with_image_size(640)

CONFIGS: dict[str, SamConfig] = {
    "vit_h": VIT_H,
    "vit_l": VIT_L,
    "vit_b": VIT_B,
    "vit_tiny": VIT_TINY,
    "segany_small": SEGANY_SMALL,
    "segany_small_lite0": SEGANY_SMALL_LITE0,
    "segany_small_lite0_640": SEGANY_SMALL_LITE0_640,
}
ALIASES: dict[str, str] = {"default": "vit_h"}


def resolve_config(name: str) -> SamConfig:
    key = ALIASES.get(name, name)
    if key not in CONFIGS:
        known = ", ".join(sorted([*CONFIGS, *ALIASES]))
        raise ValueError(f"unknown model name {name!r}; expected one of: {known}")
    return CONFIGS[key]


_BLOCK_KEY = re.compile(r"^image_encoder\.blocks\.(\d+)\.")


def infer_model_name(state: Mapping[str, Any]) -> tuple[str, int]:
    """(registry name, input size) of a SAM state dict, from its encoder width, depth and position grid."""
    if "image_encoder.stem.0.0.weight" in state:
        return _infer_conv_model_name(state)
    if "image_encoder.stages.0.0.depthwise.0.weight" in state:
        return _infer_mbconv_model_name(state)
    try:
        width = int(state["image_encoder.patch_embed.proj.weight"].shape[0])
    except KeyError as error:
        raise ValueError(
            "the checkpoint holds no SAM image encoder (neither a ViT's image_encoder.patch_embed.proj.weight "
            "nor a convolutional encoder's image_encoder.stem.0.0.weight)"
        ) from error
    depth = 1 + max((int(m.group(1)) for key in state if (m := _BLOCK_KEY.match(key))), default=-1)
    pos = state.get("image_encoder.pos_embed")
    image_size = int(pos.shape[1]) * PATCH_SIZE if pos is not None else 1024
    vits = {n: c.encoder for n, c in CONFIGS.items() if isinstance(c.encoder, ViTEncoderConfig)}
    for name, enc in vits.items():
        if enc.embed_dim == width and enc.depth == depth:
            return name, image_size
    known = ", ".join(f"{n} ({e.embed_dim}x{e.depth})" for n, e in vits.items())
    raise ValueError(f"no registered SAM has an encoder of width {width} and depth {depth}; known: {known}")


def _conv_encoder_config(state: Mapping[str, Any]) -> ConvEncoderConfig:
    widths = tuple(
        int(state[key].shape[0])
        for key in (
            "image_encoder.stem.1.0.weight",
            "image_encoder.down2.0.weight",
            "image_encoder.down3.0.weight",
        )
    )
    depths = tuple(
        len({key.split(".")[2] for key in state if key.startswith(f"image_encoder.stage{i}.")})
        for i in (1, 2, 3)
    )
    return ConvEncoderConfig(widths=widths, depths=depths)  # type: ignore[arg-type]


def _infer_conv_model_name(state: Mapping[str, Any]) -> tuple[str, int]:
    encoder = _conv_encoder_config(state)
    for name, config in CONFIGS.items():
        if isinstance(config.encoder, ConvEncoderConfig) and config.encoder == encoder:
            return name, config.image_size
    raise ValueError(f"no registered SAM has the convolutional encoder {encoder}")


def _infer_mbconv_model_name(state: Mapping[str, Any]) -> tuple[str, int]:
    # The stage layout is not recoverable from the keys alone; match the registered layouts by key set.
    keys = {k for k in state if k.startswith("image_encoder.stages.")}
    for name, config in CONFIGS.items():
        if isinstance(config.encoder, MBConvEncoderConfig):
            expected = {
                f"image_encoder.{k}"
                for k in ImageEncoderMBConv(config.image_size, config.encoder.stages, 16).state_dict()
                if k.startswith("stages.")
            }
            if keys == expected:
                return name, config.image_size
    raise ValueError("no registered SAM has the MBConv encoder of this checkpoint")


def build_sam(config: SamConfig, checkpoint: str | Path | None = None, strict: bool = True) -> Sam:
    """Build a SAM from a configuration, optionally loading weights (see `segany.checkpoint`)."""
    if config.image_size % PATCH_SIZE != 0:
        raise ValueError(f"image_size must be a multiple of {PATCH_SIZE}, got {config.image_size}")
    enc = config.encoder
    grid = config.image_size // PATCH_SIZE
    image_encoder: nn.Module
    if isinstance(enc, ConvEncoderConfig):
        image_encoder = ImageEncoderConv(
            img_size=config.image_size,
            widths=enc.widths,
            depths=enc.depths,
            out_chans=config.prompt_embed_dim,
            drop_path_rate=enc.drop_path_rate,
        )
    elif isinstance(enc, MBConvEncoderConfig):
        image_encoder = ImageEncoderMBConv(
            img_size=config.image_size, stages=enc.stages, out_chans=config.prompt_embed_dim
        )
    else:
        image_encoder = _vit_encoder(enc, config)
    sam = build_sam_from_encoder(image_encoder, config.image_size, grid, config.prompt_embed_dim)
    if checkpoint is not None:
        from segany.checkpoint import load_checkpoint

        load_checkpoint(sam, checkpoint, strict=strict)
    sam.eval()
    return sam


def _vit_encoder(enc: ViTEncoderConfig, config: SamConfig) -> ImageEncoderViT:
    return ImageEncoderViT(
        img_size=config.image_size,
        patch_size=PATCH_SIZE,
        embed_dim=enc.embed_dim,
        depth=enc.depth,
        num_heads=enc.num_heads,
        mlp_ratio=enc.mlp_ratio,
        out_chans=config.prompt_embed_dim,
        qkv_bias=True,
        use_rel_pos=True,
        window_size=enc.window_size,
        global_attn_indexes=enc.global_attn_indexes,
        drop_path_rate=enc.drop_path_rate,
    )


def build_sam_from_encoder(
    image_encoder: nn.Module, image_size: int, grid: int, prompt_embed_dim: int
) -> Sam:
    """Attach the standard prompt encoder and mask decoder to any encoder producing C x grid x grid maps."""
    prompt_encoder = PromptEncoder(
        embed_dim=prompt_embed_dim,
        image_embedding_size=(grid, grid),
        input_image_size=(image_size, image_size),
        mask_in_chans=16,
    )
    mask_decoder = MaskDecoder(
        transformer_dim=prompt_embed_dim,
        transformer=TwoWayTransformer(depth=2, embedding_dim=prompt_embed_dim, num_heads=8, mlp_dim=2048),
        num_multimask_outputs=3,
        iou_head_depth=3,
        iou_head_hidden_dim=256,
    )
    return Sam(image_encoder, prompt_encoder, mask_decoder)


def _registered_builder(name: str) -> Callable[..., Sam]:
    def builder(checkpoint: str | Path | None = None, strict: bool = True) -> Sam:
        return build_sam(resolve_config(name), checkpoint=checkpoint, strict=strict)

    builder.__name__ = f"build_sam_{name}"
    builder.__doc__ = f"Build the `{name}` SAM, optionally loading `checkpoint` (.pth or .safetensors)."
    return builder


sam_model_registry: dict[str, Callable[..., Sam]] = {
    name: _registered_builder(name) for name in [*ALIASES, *CONFIGS]
}

__all__ = [
    "CONFIGS",
    "MBConvEncoderConfig",
    "SamConfig",
    "ViTEncoderConfig",
    "build_sam",
    "build_sam_from_encoder",
    "infer_model_name",
    "resolve_config",
    "sam_model_registry",
]

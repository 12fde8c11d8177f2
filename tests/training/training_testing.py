"""Helpers of the training tests: tiny models, a seconds-long config, the fixture data folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from segany.registry import SamConfig, ViTEncoderConfig, build_sam
from segany.training.config import TrainConfig

SEGDATA = Path(__file__).resolve().parents[1] / "fixtures" / "segdata"
TINY_ENCODER = {"embed_dim": 32, "depth": 2, "num_heads": 2, "global_attn_indexes": [1]}
TINY_SIZE = 128  # 8 x 8 embedding grid, 32 x 32 low-res masks


def tiny_sam(seed: int = 0, image_size: int = TINY_SIZE, prompt_embed_dim: int = 32):
    torch.manual_seed(seed)
    config = SamConfig(
        ViTEncoderConfig(32, 2, 2, (1,)), image_size=image_size, prompt_embed_dim=prompt_embed_dim
    )
    return build_sam(config)


def tiny_config(out_dir: Path, **changes: Any) -> TrainConfig:
    """A seconds-long run on two fixture folders: tiny model, 4 interactive iterations, 2 masks per image."""
    values: dict[str, Any] = {
        "encoder": dict(TINY_ENCODER),
        "image_size": TINY_SIZE,
        "prompt_embed_dim": 32,
        "data": [f"folder:{SEGDATA / 'weizmann_horse'}", f"folder:{SEGDATA / 'davis'}"],
        "steps": 2,
        "warmup_steps": 2,
        "lr_decay_steps": [100, 200],
        "max_masks_per_image": 2,
        "interactive_points": 2,
        "mask_only_iterations": 1,
        "out_dir": str(out_dir),
        "device": "cpu",
        "progress": False,
        "tensorboard": False,
    }
    values.update(changes)
    return TrainConfig(**values)

"""Layer-wise lr decay groups, weight-decay exclusions, warmup and step decay."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from training_testing import tiny_sam

from segany.registry import build_sam_from_encoder
from segany.training.optim import (
    build_optimizer,
    build_scheduler,
    default_decay_steps,
    lr_factor,
    param_groups,
)


def lr_of(optimizer: torch.optim.Optimizer, model: nn.Module) -> dict[str, float]:
    by_id = {id(p): g for g in optimizer.param_groups for p in g["params"]}
    return {name: by_id[id(p)]["lr"] for name, p in model.named_parameters() if id(p) in by_id}


def test_layer_decay_gives_each_vit_block_its_lr():
    sam = tiny_sam()  # depth 2: layers 0 (patch / pos embed), 1, 2 (blocks), 3 (neck and everything else)
    optimizer = build_optimizer(sam, lr=1.0, weight_decay=0.1, layer_decay=0.5)
    lrs = lr_of(optimizer, sam)
    assert lrs["image_encoder.patch_embed.proj.weight"] == pytest.approx(0.125)
    assert lrs["image_encoder.pos_embed"] == pytest.approx(0.125)
    assert lrs["image_encoder.blocks.0.attn.qkv.weight"] == pytest.approx(0.25)
    assert lrs["image_encoder.blocks.1.mlp.lin2.bias"] == pytest.approx(0.5)
    assert lrs["image_encoder.neck.0.weight"] == pytest.approx(1.0)
    assert lrs["mask_decoder.iou_token.weight"] == pytest.approx(1.0)
    assert lrs["prompt_encoder.point_embeddings.0.weight"] == pytest.approx(1.0)
    assert len(lrs) == len(list(sam.parameters()))


def test_weight_decay_skips_biases_norms_and_position_tables():
    sam = tiny_sam()
    groups = param_groups(sam, lr=1.0, weight_decay=0.1, layer_decay=0.8)
    decay_of = {id(p): g["weight_decay"] for g in groups for p in g["params"]}
    named = dict(sam.named_parameters())
    assert decay_of[id(named["image_encoder.blocks.0.attn.qkv.weight"])] == 0.1
    assert decay_of[id(named["mask_decoder.output_upscaling.0.weight"])] == 0.1
    for name in (
        "image_encoder.blocks.0.attn.qkv.bias",
        "image_encoder.blocks.0.norm1.weight",
        "image_encoder.pos_embed",
        "image_encoder.blocks.1.attn.rel_pos_h",
    ):
        assert decay_of[id(named[name])] == 0.0, name


def test_frozen_parameters_are_left_out():
    sam = tiny_sam()
    sam.image_encoder.requires_grad_(False)
    names = {
        n
        for g in param_groups(sam, 1.0, 0.1, 0.8)
        for p in g["params"]
        for n, q in sam.named_parameters()
        if q is p
    }
    assert names and not any(n.startswith("image_encoder.") for n in names)


class LayeredEncoder(nn.Module):
    """A non-ViT encoder that declares its own lr layers."""

    num_lr_layers = 2

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 32, 16, stride=16)
        self.head = nn.Conv2d(32, 32, 1)

    def lr_layer_id(self, name: str) -> int:
        return 0 if name.startswith("stem.") else 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.stem(x))


def test_a_pluggable_encoder_can_declare_its_layers():
    sam = build_sam_from_encoder(LayeredEncoder(), 128, 8, 32)
    lrs = lr_of(build_optimizer(sam, lr=1.0, layer_decay=0.5), sam)
    assert lrs["image_encoder.stem.weight"] == pytest.approx(0.25)
    assert lrs["image_encoder.head.weight"] == pytest.approx(0.5)
    assert lrs["mask_decoder.iou_token.weight"] == pytest.approx(1.0)


def test_warmup_then_two_step_decays():
    assert [lr_factor(s, 4, [6, 8]) for s in range(10)] == pytest.approx(
        [0.25, 0.5, 0.75, 1, 1, 1, 0.1, 0.1, 0.01, 0.01]
    )
    assert default_decay_steps(90000) == [60000, 86666]


def test_scheduler_drives_every_group_with_its_scale():
    sam = tiny_sam()
    optimizer = build_optimizer(sam, lr=1.0, layer_decay=0.5)
    scheduler = build_scheduler(optimizer, warmup_steps=2, decay_steps=[3])
    seen = []
    for _ in range(4):
        seen.append(sorted({round(g["lr"], 6) for g in optimizer.param_groups}))
        optimizer.step()
        scheduler.step()
    assert seen == [
        [0.0625, 0.125, 0.25, 0.5],
        [0.125, 0.25, 0.5, 1.0],
        [0.125, 0.25, 0.5, 1.0],
        [0.0125, 0.025, 0.05, 0.1],
    ]

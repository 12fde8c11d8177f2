"""Optimiser and learning-rate schedule of the paper: AdamW with layer-wise lr decay, linear warmup and
step decay.

Layer-wise lr decay (BEiT / MAE style): the encoder's parameters get lr x decay^(L - layer), L = number of
encoder blocks + 1; layer 0 = everything before the first block (patch embedding, absolute position
embedding), block i = layer i + 1, and the rest (neck, prompt encoder, mask decoder) layer L, the full lr.
Encoders are pluggable: one that defines `lr_layer_id(param_name) -> int` and `num_lr_layers` (= L)
decides its own layers; one with a `blocks` ModuleList gets the ViT rule above; any other encoder gets
no decay. Weight decay skips 1-d tensors (biases, norm scales) and position embeddings, as in MAE.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

ENCODER_PREFIX = "image_encoder."
_BLOCK_NAME = re.compile(r"^blocks\.(\d+)\.")
_NO_DECAY_SUFFIXES = ("pos_embed", "rel_pos_h", "rel_pos_w")


def encoder_layers(encoder: nn.Module) -> tuple[Callable[[str], int], int]:
    """(layer id of an encoder parameter name, L) for the layer-wise decay of any encoder."""
    custom = getattr(encoder, "lr_layer_id", None)
    if callable(custom):
        num_layers: Any = getattr(encoder, "num_lr_layers", None)
        if num_layers is None:
            raise ValueError(f"{type(encoder).__name__} defines lr_layer_id but not num_lr_layers")
        return custom, int(num_layers)
    blocks = getattr(encoder, "blocks", None)
    if isinstance(blocks, nn.ModuleList) and len(blocks) > 0:
        depth = len(blocks)

        def vit_layer(name: str) -> int:
            match = _BLOCK_NAME.match(name)
            if match:
                return int(match.group(1)) + 1
            if name.startswith(("patch_embed.", "pos_embed", "cls_token")):
                return 0
            return depth + 1

        return vit_layer, depth + 1
    return (lambda name: 0), 0


def uses_weight_decay(name: str, param: torch.Tensor) -> bool:
    return param.ndim > 1 and not name.endswith(_NO_DECAY_SUFFIXES)


def param_groups(
    model: nn.Module, lr: float, weight_decay: float, layer_decay: float
) -> list[dict[str, Any]]:
    """Trainable parameters of a `Sam` grouped by (lr scale, weight decay), in a fixed order.

    Each group holds `params`, `lr` (= lr x scale), `lr_scale`, `weight_decay`, and `layer` / `name`
    for logging. Frozen parameters (requires_grad False) are left out.
    """
    if not 0.0 < layer_decay <= 1.0:
        raise ValueError(f"layer_decay must be in (0, 1], got {layer_decay}")
    encoder = getattr(model, "image_encoder", None)
    layer_of, num_layers = encoder_layers(encoder) if encoder is not None else ((lambda name: 0), 0)
    groups: dict[tuple[int, bool], dict[str, Any]] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        if name.startswith(ENCODER_PREFIX):
            layer = layer_of(name[len(ENCODER_PREFIX) :])
        else:
            layer = num_layers
        decay = uses_weight_decay(name, param)
        key = (layer, decay)
        if key not in groups:
            scale = layer_decay ** (num_layers - layer)
            groups[key] = {
                "params": [],
                "lr": lr * scale,
                "lr_scale": scale,
                "weight_decay": weight_decay if decay else 0.0,
                "layer": layer,
                "name": f"layer{layer}_{'decay' if decay else 'no_decay'}",
            }
        groups[key]["params"].append(param)
    return [groups[key] for key in sorted(groups)]


def build_optimizer(
    model: nn.Module,
    lr: float,
    weight_decay: float = 0.1,
    layer_decay: float = 0.8,
    betas: Sequence[float] = (0.9, 0.999),
    eps: float = 1e-8,
) -> torch.optim.AdamW:
    groups = param_groups(model, lr, weight_decay, layer_decay)
    if not groups:
        raise ValueError("the model has no trainable parameters")
    return torch.optim.AdamW(groups, lr=lr, betas=(float(betas[0]), float(betas[1])), eps=eps)


def lr_factor(step: int, warmup_steps: int, decay_steps: Sequence[int], decay_factor: float = 0.1) -> float:
    """Multiplier of the base lr for optimiser step `step` (0-based): linear warmup (step + 1) / warmup over
    the first warmup_steps steps, times decay_factor for every decay step <= step."""
    warm = min(1.0, (step + 1) / warmup_steps) if warmup_steps > 0 else 1.0
    return warm * decay_factor ** sum(1 for s in decay_steps if step >= s)


def default_decay_steps(total_steps: int) -> list[int]:
    """The paper's ViT-H decay points (60k and 86,666 of 90k steps) scaled to total_steps."""
    return [round(total_steps * 60000 / 90000), round(total_steps * 86666 / 90000)]


def build_scheduler(
    optimizer: torch.optim.Optimizer, warmup_steps: int, decay_steps: Sequence[int], decay_factor: float = 0.1
) -> torch.optim.lr_scheduler.LambdaLR:
    steps = [int(s) for s in decay_steps]
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, warmup_steps, steps, decay_factor)
    )

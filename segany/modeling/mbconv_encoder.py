"""An EfficientNet-Lite-shaped image encoder (inverted residual "MBConv" blocks) with SAM's output:
B x 3 x S x S normalised image -> B x out_chans x S/16 x S/16 embedding.

Its backbone follows EfficientNet-Lite's published layout (Tan & Le 2019; the Lite variants drop
squeeze-excitation and use ReLU6), so ImageNet classification weights of that layout can start it (see
`segany.training.backbone_init`); the model itself is ours. Layout of Lite0 (S = input side):

    stem     3x3 s2 conv 32                                     S/2
    stage 1  1 block,  k3, expand 1, 16 ch                      S/2
    stage 2  2 blocks, k3, expand 6, 24 ch, first stride 2      S/4
    stage 3  2 blocks, k5, expand 6, 40 ch, first stride 2      S/8
    stage 4  3 blocks, k3, expand 6, 80 ch, first stride 2      S/16
    stage 5  3 blocks, k5, expand 6, 112 ch                     S/16
    stage 6  4 blocks, k5, expand 6, 192 ch, stride 1, dilation 2 (the classifier's stride 2)   S/16
    stage 7  1 block,  k3, expand 6, 320 ch, dilation 2         S/16
    neck     [stage 3 pooled to S/16, stage 5, stage 7] -> 1x1 conv -> LN2d -> 3x3 conv -> LN2d  out_chans

Stage 6 keeps stride 16 by dilating instead of striding (as DeepLab does), so the classifier's weights still
apply while the embedding keeps SAM's 16-px grid. Batch norms are per-channel affine maps here (`Affine2d`):
one or two images per step cannot estimate batch statistics, so a BatchNorm's running statistics are folded
into the affine map when weights are imported. Convolutions of stride 2 pad as TensorFlow's "same" does
(more at the bottom/right), the padding the imported weights were trained with.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from segany.modeling.common import LayerNorm2d


@dataclass(frozen=True)
class MBStage:
    """One stage: `repeats` blocks of kernel `kernel`, expansion `expand`, `channels` outputs; the first
    block strides by `stride`; every block but the first dilates its depthwise conv by `dilation`."""

    repeats: int
    kernel: int
    stride: int
    expand: int
    channels: int
    dilation: int = 1


# EfficientNet-Lite0 with the last stride-2 stage dilated (output stride 16).
LITE0_STAGES: tuple[MBStage, ...] = (
    MBStage(1, 3, 1, 1, 16),
    MBStage(2, 3, 2, 6, 24),
    MBStage(2, 5, 2, 6, 40),
    MBStage(3, 3, 2, 6, 80),
    MBStage(3, 5, 1, 6, 112),
    MBStage(4, 5, 1, 6, 192, dilation=2),
    MBStage(1, 3, 1, 6, 320, dilation=2),
)
STEM_CHANNELS = 32
# Stages whose outputs feed the neck (0-based): S/8 detail, then the two deepest S/16 stages.
NECK_STAGES = (2, 4, 6)


class Affine2d(nn.Module):
    """x * weight + bias per channel (a batch norm with frozen statistics, still trainable)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weight[:, None, None] + self.bias[:, None, None]


class SameConv2d(nn.Conv2d):
    """Conv2d without bias whose stride-2 padding is TensorFlow's "same": total k - 2 (even inputs),
    the larger half at the bottom/right; stride 1 pads (k - 1) * dilation / 2 on every side."""

    def __init__(
        self, in_ch: int, out_ch: int, kernel: int, stride: int = 1, groups: int = 1, dilation: int = 1
    ):
        pad = 0 if stride > 1 else (kernel - 1) * dilation // 2
        super().__init__(in_ch, out_ch, kernel, stride, pad, dilation, groups, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride[0] > 1:
            k, s = self.kernel_size[0], self.stride[0]
            pad_h = max((-(-x.shape[-2] // s) - 1) * s + k - x.shape[-2], 0)
            pad_w = max((-(-x.shape[-1] // s) - 1) * s + k - x.shape[-1], 0)
            x = F.pad(x, (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2))
        return super().forward(x)


class MBConv(nn.Module):
    """[1x1 expand -> affine -> ReLU6] -> kxk depthwise -> affine -> ReLU6 -> 1x1 project -> affine, plus the
    input when shapes allow (stride 1, same width)."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int, expand: int, dilation: int) -> None:
        super().__init__()
        mid = in_ch * expand
        self.expand = (
            nn.Sequential(SameConv2d(in_ch, mid, 1), Affine2d(mid), nn.ReLU6()) if expand != 1 else None
        )
        self.depthwise = nn.Sequential(
            SameConv2d(mid, mid, kernel, stride, groups=mid, dilation=dilation), Affine2d(mid), nn.ReLU6()
        )
        self.project = nn.Sequential(SameConv2d(mid, out_ch, 1), Affine2d(out_ch))
        self.residual = stride == 1 and in_ch == out_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.expand(x) if self.expand is not None else x
        y = self.project(self.depthwise(y))
        out: torch.Tensor = x + y if self.residual else y
        return out


class ImageEncoderMBConv(nn.Module):
    """B x 3 x S x S normalised image -> B x out_chans x S/16 x S/16 embedding (see the module docstring)."""

    def __init__(
        self,
        img_size: int = 512,
        stages: Sequence[MBStage] = LITE0_STAGES,
        out_chans: int = 256,
        stem_channels: int = STEM_CHANNELS,
        neck_stages: Sequence[int] = NECK_STAGES,
    ) -> None:
        super().__init__()
        if img_size % 16:
            raise ValueError(f"img_size must be a multiple of 16, got {img_size}")
        # Three strides give the S/16 embedding; four are the classifier's own layout (stride 32), accepted
        # so imported classification weights can be checked on their own task (stem and stages only).
        if sum(s.stride > 1 for s in stages) not in (3, 4):
            raise ValueError(
                f"stages must stride by 2 three (or four) times after the stem, got {list(stages)}"
            )
        self.img_size = img_size
        self.stem = nn.Sequential(SameConv2d(3, stem_channels, 3, 2), Affine2d(stem_channels), nn.ReLU6())
        blocks: list[nn.Module] = []
        in_ch = stem_channels
        for stage in stages:
            layers = []
            for i in range(stage.repeats):
                first = i == 0
                layers.append(
                    MBConv(
                        in_ch,
                        stage.channels,
                        stage.kernel,
                        stage.stride if first else 1,
                        stage.expand,
                        1 if first else stage.dilation,
                    )
                )
                in_ch = stage.channels
            blocks.append(nn.Sequential(*layers))
        self.stages = nn.ModuleList(blocks)
        self.neck_stages = tuple(int(i) for i in neck_stages)
        # Each tap's pooling factor onto the S/16 grid: 16 / (its stride: the stem's 2 x the stages' strides).
        strides = [2 * math.prod(stage.stride for stage in stages[: i + 1]) for i in self.neck_stages]
        self.tap_pools = tuple(16 // stride if 16 % stride == 0 else 0 for stride in strides)
        neck_in = sum(stages[i].channels for i in self.neck_stages)
        self.neck = nn.Sequential(
            nn.Conv2d(neck_in, out_chans, kernel_size=1, bias=False),
            LayerNorm2d(out_chans),
            nn.Conv2d(out_chans, out_chans, kernel_size=3, padding=1, bias=False),
            LayerNorm2d(out_chans),
        )

    @property
    def num_lr_layers(self) -> int:
        """Layers of the layer-wise lr decay (`segany.training.optim`): stem 0, stage i i + 1, neck last."""
        return len(self.stages) + 1

    def lr_layer_id(self, name: str) -> int:
        if name.startswith("stem."):
            return 0
        if name.startswith("stages."):
            return int(name.split(".")[1]) + 1
        return self.num_lr_layers

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        grid = (x.shape[-2] // 16, x.shape[-1] // 16)
        x = self.stem(x)  # B x 32 x S/2 x S/2
        taps: list[torch.Tensor] = []
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i in self.neck_stages:
                # Finer taps (S/8) are average-pooled onto the S/16 grid by their static factor (ONNX export
                # needs a constant kernel); a tap of another stride (a classifier's layout) is pooled adaptively.
                pool = self.tap_pools[len(taps)]
                if x.shape[-2:] == grid:
                    taps.append(x)
                else:
                    taps.append(F.avg_pool2d(x, pool) if pool > 1 else F.adaptive_avg_pool2d(x, grid))
        embedding: torch.Tensor = self.neck(torch.cat(taps, dim=1))  # B x C x S/16 x S/16
        return embedding

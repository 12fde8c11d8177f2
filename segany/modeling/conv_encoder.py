"""A small convolutional image encoder: the same B x C x S/16 x S/16 output as SAM's ViT, far cheaper.

Made for training from scratch on small data on a CPU, where a plain ViT learns slowly: convolutions carry
the locality prior a ViT must learn from data. Layout (S = input side):

    stem     3x3 s2 conv -> GN -> GELU -> 3x3 s2 conv -> GN -> GELU          S/4,  widths[0]
    stage 1  depths[0] residual blocks                                        S/4,  widths[0]
    stage 2  3x3 s2 conv + depths[1] residual blocks                          S/8,  widths[1]
    stage 3  3x3 s2 conv + depths[2] residual blocks, dilations 1, 2, 4, ...  S/16, widths[2]
    neck     (stage 3 + pooled stage 2 projected) 1x1 conv -> LN2d -> 3x3 conv -> LN2d   S/16, out_chans

Stage 3's growing dilation widens the receptive field to most of the image without extra cost; stage 2's
features, average-pooled to S/16 and added before the neck, keep finer detail for mask boundaries. The neck
matches the ViT's (LayerNorm2d, so the decoder sees embeddings of the same statistics).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from segany.modeling.common import LayerNorm2d, drop_path


def _norm(channels: int) -> nn.GroupNorm:
    # GroupNorm: batch statistics are useless with the 1-image batches of CPU training.
    return nn.GroupNorm(min(8, channels), channels)


class ConvNormAct(nn.Sequential):
    def __init__(self, in_ch: int, out_ch: int, stride: int = 1) -> None:
        super().__init__(
            nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1, bias=False), _norm(out_ch), nn.GELU()
        )


class ResidualBlock(nn.Module):
    """x + GN(conv3x3(GELU(GN(conv3x3(x))))), then GELU; `dilation` widens both convolutions."""

    def __init__(self, channels: int, dilation: int = 1, drop_path_rate: float = 0.0) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=dilation, dilation=dilation, bias=False)
        self.norm1 = _norm(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=dilation, dilation=dilation, bias=False)
        self.norm2 = _norm(channels)
        self.drop_path_rate = drop_path_rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.gelu(self.norm1(self.conv1(x)))
        y = self.norm2(self.conv2(y))
        return F.gelu(x + drop_path(y, self.drop_path_rate, self.training))


class ImageEncoderConv(nn.Module):
    """B x 3 x S x S normalised image -> B x out_chans x S/16 x S/16 embedding."""

    def __init__(
        self,
        img_size: int = 512,
        widths: Sequence[int] = (64, 128, 256),
        depths: Sequence[int] = (1, 2, 4),
        out_chans: int = 256,
        drop_path_rate: float = 0.0,
    ) -> None:
        super().__init__()
        if len(widths) != 3 or len(depths) != 3:
            raise ValueError(f"widths and depths must have 3 entries, got {widths!r} and {depths!r}")
        if img_size % 16:
            raise ValueError(f"img_size must be a multiple of 16, got {img_size}")
        self.img_size = img_size
        w1, w2, w3 = (int(w) for w in widths)
        d1, d2, d3 = (int(d) for d in depths)
        # Stochastic depth grows linearly with block index, as in the ViT.
        rates = torch.linspace(0, drop_path_rate, d1 + d2 + d3).tolist() if d1 + d2 + d3 else []
        self.stem = nn.Sequential(ConvNormAct(3, w1 // 2, stride=2), ConvNormAct(w1 // 2, w1, stride=2))
        self.stage1 = nn.Sequential(*[ResidualBlock(w1, 1, rates[i]) for i in range(d1)])
        self.down2 = ConvNormAct(w1, w2, stride=2)
        self.stage2 = nn.Sequential(*[ResidualBlock(w2, 1, rates[d1 + i]) for i in range(d2)])
        self.down3 = ConvNormAct(w2, w3, stride=2)
        self.stage3 = nn.Sequential(*[ResidualBlock(w3, 2 ** (i % 3), rates[d1 + d2 + i]) for i in range(d3)])
        self.skip = nn.Conv2d(w2, w3, 1, bias=False)
        self.neck = nn.Sequential(
            nn.Conv2d(w3, out_chans, kernel_size=1, bias=False),
            LayerNorm2d(out_chans),
            nn.Conv2d(out_chans, out_chans, kernel_size=3, padding=1, bias=False),
            LayerNorm2d(out_chans),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stage1(self.stem(x))  # B x w1 x S/4 x S/4
        mid = self.stage2(self.down2(x))  # B x w2 x S/8 x S/8
        deep = self.stage3(self.down3(mid))  # B x w3 x S/16 x S/16
        result: torch.Tensor = self.neck(deep + self.skip(F.avg_pool2d(mid, 2)))
        return result

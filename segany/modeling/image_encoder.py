"""ViT image encoder: patch embedding, windowed/global transformer blocks and a convolutional neck."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from segany.modeling.common import LayerNorm2d, MLPBlock, drop_path
from segany.modeling.jit_state import is_tracing
from segany.modeling.vit_attention import Attention
from segany.modeling.windows import window_partition, window_unpartition
from segany.modeling.workspace import KeptWorkspace, Workspace


class Block(nn.Module):
    """Pre-norm transformer block; attention is windowed when `window_size > 0`, global otherwise."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        use_rel_pos: bool = True,
        window_size: int = 0,
        input_size: tuple[int, int] | None = None,
        drop_path_rate: float = 0.0,
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        attn_grid = (window_size, window_size) if window_size > 0 else input_size
        self.attn = Attention(
            dim, num_heads, qkv_bias=qkv_bias, use_rel_pos=use_rel_pos, input_size=attn_grid
        )
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = MLPBlock(dim, int(dim * mlp_ratio), nn.GELU)
        self.window_size = window_size
        self.drop_path_rate = drop_path_rate

    def forward(self, x: torch.Tensor, workspace: Workspace | None = None) -> torch.Tensor:
        """B x H x W x C -> B x H x W x C. ``workspace`` (inference only) holds the large intermediates."""
        shortcut = x
        x = self.norm1(x)
        if self.window_size > 0:
            x = self._windowed_attention(x, workspace)
        else:
            x = self.attn(x, workspace)
        x = shortcut + drop_path(x, self.drop_path_rate, self.training)
        if workspace is not None and not (self.training and self.drop_path_rate > 0.0):
            return x.add_(self.mlp.forward_into(self.norm2(x), workspace))
        return x + drop_path(self.mlp(self.norm2(x)), self.drop_path_rate, self.training)

    def _windowed_attention(self, x: torch.Tensor, workspace: Workspace | None) -> torch.Tensor:
        window = self.window_size
        hw = (x.shape[1], x.shape[2])
        if workspace is not None and (hw[0] % window or hw[1] % window):
            # Inference on a grid that needs padding: only the real tokens are projected (forward_windowed).
            return self.attn.forward_windowed(x, window, workspace)
        windows, padded_hw = window_partition(x, window)
        return window_unpartition(self.attn(windows, workspace), window, padded_hw, hw)


class PatchEmbed(nn.Module):
    """Non-overlapping patches -> B x H/p x W/p x C tokens."""

    def __init__(self, patch_size: int = 16, in_chans: int = 3, embed_dim: int = 768) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """B x in_chans x S x S -> contiguous B x S/p x S/p x C tokens.

        Contiguous B x H x W x C: every later elementwise op and LayerNorm inherits this layout, and a
        permuted view would make each LayerNorm copy its input and each residual add run strided.
        """
        patch = self.proj.kernel_size[0]
        batch, channels, height, width = x.shape
        if is_tracing() or height % patch or width % patch:
            result: torch.Tensor = self.proj(x).permute(0, 2, 3, 1).contiguous()
            return result
        # A stride-p p x p convolution is one matrix product on the flattened patches (in the weight's
        # (in_chans, ky, kx) order): the CPU's GEMM beats its convolution kernel here (benchmarks/MEASUREMENTS.md,
        # "patch embedding"), GPU convolution kernels lower to the same GEMM, and the result comes out
        # token-major. The traced (ONNX) graph keeps the Conv node.
        rows, cols = height // patch, width // patch
        patches = x.reshape(batch, channels, rows, patch, cols, patch).permute(0, 2, 4, 1, 3, 5)
        weight = self.proj.weight.reshape(self.proj.out_channels, -1)  # C x (in_chans * p * p)
        tokens = patches.reshape(batch * rows * cols, -1)
        out = (
            tokens @ weight.t() if self.proj.bias is None else torch.addmm(self.proj.bias, tokens, weight.t())
        )
        return out.view(batch, rows, cols, -1)


class ImageEncoderViT(nn.Module):
    """B x 3 x S x S normalised, padded images -> B x out_chans x S/p x S/p embeddings."""

    def __init__(
        self,
        img_size: int = 1024,
        patch_size: int = 16,
        in_chans: int = 3,
        embed_dim: int = 768,
        depth: int = 12,
        num_heads: int = 12,
        mlp_ratio: float = 4.0,
        out_chans: int = 256,
        qkv_bias: bool = True,
        use_abs_pos: bool = True,
        use_rel_pos: bool = True,
        window_size: int = 14,
        global_attn_indexes: Sequence[int] = (),
        drop_path_rate: float = 0.0,
    ) -> None:
        super().__init__()
        self.img_size = img_size
        self.patch_size = patch_size
        grid = img_size // patch_size
        self.patch_embed = PatchEmbed(patch_size, in_chans, embed_dim)
        self.pos_embed: nn.Parameter | None = None
        if use_abs_pos:
            self.pos_embed = nn.Parameter(torch.zeros(1, grid, grid, embed_dim))
        self.global_attn_indexes = tuple(global_attn_indexes)
        # Stochastic depth grows linearly with depth (used in training only).
        rates = [drop_path_rate * i / max(depth - 1, 1) for i in range(depth)]
        self.blocks = nn.ModuleList(
            Block(
                dim=embed_dim,
                num_heads=num_heads,
                mlp_ratio=mlp_ratio,
                qkv_bias=qkv_bias,
                use_rel_pos=use_rel_pos,
                window_size=0 if i in self.global_attn_indexes else window_size,
                input_size=(grid, grid),
                drop_path_rate=rates[i],
            )
            for i in range(depth)
        )
        self._kept_workspace = KeptWorkspace()
        self.neck = nn.Sequential(
            nn.Conv2d(embed_dim, out_chans, kernel_size=1, bias=False),
            LayerNorm2d(out_chans),
            nn.Conv2d(out_chans, out_chans, kernel_size=3, padding=1, bias=False),
            LayerNorm2d(out_chans),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x)  # B x H x W x C
        if self.pos_embed is not None:
            x = x + self._pos_embed_for(x.shape[1], x.shape[2])
        # Inference reuses one set of scratch buffers across the blocks, kept for the next image too
        # (see segany.modeling.workspace; `release_workspace` frees them).
        with self._kept_workspace.borrow() as workspace:
            for block in self.blocks:
                x = block(x, workspace)
        # The neck sees a channels-last view and keeps that layout; hand out standard NCHW memory so the
        # embedding (and everything computed from it) is laid out as a loaded or official one is.
        result: torch.Tensor = self.neck(x.permute(0, 3, 1, 2)).contiguous()
        return result

    def release_workspace(self) -> None:
        """Free the scratch buffers that inference keeps between calls (about 200 MB for vit_b at 1024^2)."""
        self._kept_workspace.release()

    def _pos_embed_for(self, height: int, width: int) -> torch.Tensor:
        """Absolute position embedding (1 x H x W x C), resized bicubically if the token grid differs."""
        assert self.pos_embed is not None
        pos = self.pos_embed
        if pos.shape[1:3] == (height, width):
            return pos
        resized = F.interpolate(
            pos.permute(0, 3, 1, 2), size=(height, width), mode="bicubic", align_corners=False
        )
        return resized.permute(0, 2, 3, 1)

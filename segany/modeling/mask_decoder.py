"""Mask decoder: two-way transformer + upscaling + hypernetwork dot products and an IoU head."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from segany.modeling.common import MLP, LayerNorm2d
from segany.modeling.jit_state import is_tracing
from segany.modeling.reference import use_reference_paths
from segany.modeling.transformer import TwoWayTransformer

# Tokens per chunk of the CPU inference upscaling: SAM's whole 64 x 64 grid in one go. Fewer, larger operations
# split better over the CPU threads than cache-sized chunks (benchmarks/MEASUREMENTS.md, "upscaling chunks").
# Chunks only bound the intermediates (~3 KB per token for vit_b) on larger grids. Other devices run the
# batched form (`upscale_and_dot`): there one large product beats a Python loop over prompts and bands.
_UPSCALE_CHUNK_TOKENS = 4096


class UpscalingLayers(NamedTuple):
    """`MaskDecoder.output_upscaling`'s modules, typed."""

    conv1: nn.ConvTranspose2d  # C -> C/4, 2x2 stride 2
    norm: LayerNorm2d
    act1: nn.Module
    conv2: nn.ConvTranspose2d  # C/4 -> C/8, 2x2 stride 2
    act2: nn.Module


class MaskDecoder(nn.Module):
    def __init__(
        self,
        *,
        transformer_dim: int,
        transformer: nn.Module,
        num_multimask_outputs: int = 3,
        activation: type[nn.Module] = nn.GELU,
        iou_head_depth: int = 3,
        iou_head_hidden_dim: int = 256,
    ) -> None:
        super().__init__()
        self.transformer_dim = transformer_dim
        self.transformer = transformer
        self.num_multimask_outputs = num_multimask_outputs
        # Token 0 answers multi-prompt (unambiguous) queries; tokens 1..3 the ambiguous single-prompt ones.
        self.num_mask_tokens = num_multimask_outputs + 1
        self.iou_token = nn.Embedding(1, transformer_dim)
        self.mask_tokens = nn.Embedding(self.num_mask_tokens, transformer_dim)
        self.output_upscaling = nn.Sequential(
            nn.ConvTranspose2d(transformer_dim, transformer_dim // 4, kernel_size=2, stride=2),
            LayerNorm2d(transformer_dim // 4),
            activation(),
            nn.ConvTranspose2d(transformer_dim // 4, transformer_dim // 8, kernel_size=2, stride=2),
            activation(),
        )
        self.output_hypernetworks_mlps = nn.ModuleList(
            MLP(transformer_dim, transformer_dim, transformer_dim // 8, 3)
            for _ in range(self.num_mask_tokens)
        )
        self.iou_prediction_head = MLP(
            transformer_dim, iou_head_hidden_dim, self.num_mask_tokens, iou_head_depth
        )

    def forward(
        self,
        image_embeddings: torch.Tensor,
        image_pe: torch.Tensor,
        sparse_prompt_embeddings: torch.Tensor,
        dense_prompt_embeddings: torch.Tensor,
        multimask_output: bool,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """
        Args:
            image_embeddings: B x C x H x W, or 1 x C x H x W shared by all B prompts.
            image_pe: 1 x C x H x W positional encoding of the embedding grid.
            sparse_prompt_embeddings: B x N x C; dense_prompt_embeddings: B x C x H x W.
        Returns:
            masks B x M x 4H x 4W logits and IoU predictions B x M (M = 3 multimask, else 1).

        Inference with many prompts per image has an exact faster route: `segany.modeling.decoder_lowrank`.
        """
        selected = slice(1, None) if multimask_output else slice(0, 1)
        masks, iou_pred = self.predict_masks(
            image_embeddings, image_pe, sparse_prompt_embeddings, dense_prompt_embeddings
        )
        return masks[:, selected], iou_pred[:, selected]

    def predict_masks(
        self,
        image_embeddings: torch.Tensor,
        image_pe: torch.Tensor,
        sparse_prompt_embeddings: torch.Tensor,
        dense_prompt_embeddings: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """All 4 mask tokens: B x 4 x 4H x 4W logits and B x 4 IoU predictions."""
        batch = sparse_prompt_embeddings.shape[0]
        output_tokens = torch.cat([self.iou_token.weight, self.mask_tokens.weight], dim=0)
        output_tokens = output_tokens.unsqueeze(0).expand(batch, -1, -1)
        tokens = torch.cat([output_tokens, sparse_prompt_embeddings], dim=1)  # B x (1 + 4 + N) x C

        if image_embeddings.shape[0] != batch and image_embeddings.shape[0] != 1:
            raise ValueError(
                f"image_embeddings must have batch 1 or {batch} (one per prompt), got {image_embeddings.shape[0]}"
            )
        dense = dense_prompt_embeddings
        # Without mask prompts the dense embedding is one vector broadcast to every prompt (stride 0 over the
        # batch). The image tokens then start out identical for all prompts: keep them at batch 1 so the first
        # block projects them once instead of once per prompt (the transformer broadcasts them).
        if image_embeddings.shape[0] == 1 and dense.shape[0] > 1 and dense.stride(0) == 0:
            dense = dense[:1]
        src = image_embeddings + dense  # 1 or B x C x H x W
        pos_src = image_pe
        _, channels, height, width = src.shape

        hs, src = self.transformer(src, pos_src, tokens)
        iou_token_out = hs[:, 0, :]
        mask_tokens_out = hs[:, 1 : 1 + self.num_mask_tokens, :]

        hyper_in = self.hypernetwork_inputs(mask_tokens_out)  # B x 4 x C/8
        src = src.expand(batch, -1, -1)  # B x HW x C image tokens
        if not use_reference_paths():
            masks = self._upscale_tokens_and_dot(src, hyper_in, height, width)
        else:  # the reference: the modules one by one, on NCHW feature maps
            upscaled = self.output_upscaling(src.transpose(1, 2).reshape(batch, channels, height, width))
            b, c, h, w = upscaled.shape  # B x C/8 x 4H x 4W
            masks = (hyper_in @ upscaled.reshape(b, c, h * w)).reshape(b, -1, h, w)
        iou_pred = self.iou_prediction_head(iou_token_out)
        return masks, iou_pred

    def hypernetwork_inputs(self, mask_tokens_out: torch.Tensor) -> torch.Tensor:
        """B x M x C mask tokens -> B x M x C/8 hypernetwork outputs (one MLP per token)."""
        return torch.stack(
            [mlp(mask_tokens_out[:, i, :]) for i, mlp in enumerate(self.output_hypernetworks_mlps)], dim=1
        )

    def two_way_transformer(self) -> TwoWayTransformer:
        """`transformer` as SAM's two-way transformer (TypeError for another one)."""
        if not isinstance(self.transformer, TwoWayTransformer):
            raise TypeError(f"expected a TwoWayTransformer, got {type(self.transformer).__name__}")
        return self.transformer

    def upscaling_layers(self) -> UpscalingLayers:
        conv1, norm, act1, conv2, act2 = self.output_upscaling
        if not (
            isinstance(conv1, nn.ConvTranspose2d)
            and isinstance(norm, LayerNorm2d)
            and isinstance(conv2, nn.ConvTranspose2d)
            and conv1.bias is not None
            and conv2.bias is not None
        ):
            raise TypeError(
                "output_upscaling must be ConvTranspose2d, LayerNorm2d, act, ConvTranspose2d, act"
            )
        return UpscalingLayers(conv1, norm, act1, conv2, act2)

    def conv1_matrix(self) -> torch.Tensor:
        """The first 2x2 / stride-2 ConvTranspose2d as a C_in x (ky, kx, C_out) matrix on token rows."""
        conv1 = self.upscaling_layers().conv1
        # weight (C_in, C_out, ky, kx) -> C_in x (ky, kx, C_out)
        return conv1.weight.permute(0, 2, 3, 1).reshape(conv1.in_channels, 4 * conv1.out_channels)

    def _upscale_tokens_and_dot(
        self, tokens: torch.Tensor, hyper_in: torch.Tensor, height: int, width: int
    ) -> torch.Tensor:
        """`output_upscaling` + hypernetwork dot products, as matrix products on the token layout.

        A 2x2 / stride-2 transposed convolution maps each input pixel to its own 2x2 output block, so it is
        a linear layer C_in -> (2, 2, C_out) per token. Both upscaling steps run that way on B x HW x ...
        tensors (LayerNorm2d and GELU are per pixel), the masks are dotted in that layout and only the
        M final masks are shuffled into image order: no NCHW feature maps are ever materialised.

        Args:
            tokens: B x HW x C; hyper_in: B x M x C2. Returns: B x M x 4H x 4W logits.
        """
        w1, b1 = self.conv1_matrix(), conv_bias(self.upscaling_layers().conv1).repeat(4)
        if tokens.device.type == "cpu" and not torch.is_grad_enabled() and not is_tracing():
            return self.upscale_and_dot_chunked(
                lambda b, rows: tokens[b, rows] @ w1 + b1, hyper_in, height, width
            )
        return self.upscale_and_dot(tokens @ w1 + b1, hyper_in, height, width)

    def upscale_and_dot(
        self, conv1_out: torch.Tensor, hyper_in: torch.Tensor, height: int, width: int
    ) -> torch.Tensor:
        """The upscaling after its first convolution, then the dot products (differentiable, traceable).

        Args:
            conv1_out: B x HW x (ky1, kx1, C1), the first ConvTranspose2d output (bias included) per token;
            hyper_in: B x M x C2. Returns: B x M x 4H x 4W logits.
        """
        _, norm, act1, conv2, act2 = self.upscaling_layers()
        batch, count = conv1_out.shape[0], hyper_in.shape[1]
        c1, c2 = conv2.in_channels, conv2.out_channels
        # Rows to raster order at twice the grid, (y, ky1, x, kx1): moves whole (kx1, C1) blocks.
        x = conv1_out.reshape(batch, height, width, 2, 2 * c1).transpose(2, 3)
        x = _call(act1, F.layer_norm(x.reshape(batch, 1, -1, c1), (c1,), norm.weight, norm.bias, norm.eps))
        # The second convolution one output row parity ky2 at a time: each half gives, per row of the 2x grid,
        # a row of the final masks in raster order (x, kx1, kx2). Each is one 2-D product with its bias (an ONNX
        # Gemm): a bias Add left next to the GELU would cost a pass of its own, or be fused by ONNX Runtime into
        # BiasGelu, whose CPU kernel is much slower per element than its plain Gelu (benchmarks/MEASUREMENTS.md).
        rows = x.reshape(-1, c1)  # B*4HW x C1
        weight = self.conv2_matrix().view(c1, 2, 2 * c2)  # C1 x (ky2) x (kx2, C2)
        bias = conv_bias(conv2).repeat(2)
        halves = [_call(act2, torch.addmm(bias, rows, weight[:, ky2])) for ky2 in range(2)]
        masks = torch.stack(
            [hyper_in @ half.view(batch, -1, c2).transpose(1, 2) for half in halves], dim=1
        )  # B x 2 x M x (2H, 4W)
        # (ky2, M, y', X) -> (M, y', ky2, X): whole mask rows move.
        masks = masks.view(batch, 2, count, 2 * height, 4 * width).permute(0, 2, 3, 1, 4)
        return masks.reshape(batch, count, 4 * height, 4 * width)

    def conv2_matrix(self) -> torch.Tensor:
        """The second ConvTranspose2d as a C1 x (ky, kx, C2) matrix."""
        conv2 = self.upscaling_layers().conv2
        return conv2.weight.permute(0, 2, 3, 1).reshape(conv2.in_channels, 4 * conv2.out_channels)

    def upscale_and_dot_chunked(
        self,
        conv1: Callable[[int, slice], torch.Tensor],
        hyper_in: torch.Tensor,
        height: int,
        width: int,
    ) -> torch.Tensor:
        """Inference-only upscaling + dot products, one prompt (and on large grids a band of rows) at a time.

        The activations run in place and each chunk's masks are written straight to their place in the output;
        `_UPSCALE_CHUNK_TOKENS` bounds the intermediates.

        Args:
            conv1: conv1(b, tokens) -> len(tokens) x (ky1, kx1, C1), the first ConvTranspose2d output (bias
                included) of prompt b for a slice of the row-major H*W tokens.
            hyper_in: B x M x C2. Returns: B x M x 4H x 4W logits.
        """
        _, norm, act1, conv2, act2 = self.upscaling_layers()
        batch, count = hyper_in.shape[:2]
        c1, c2 = conv2.in_channels, conv2.out_channels
        w2, b2 = self.conv2_matrix(), conv_bias(conv2).repeat(4)
        masks = hyper_in.new_empty(batch, count, 4 * height, 4 * width)
        step = max(1, _UPSCALE_CHUNK_TOKENS // width)  # grid rows per chunk
        for b in range(batch):
            for y0 in range(0, height, step):
                rows = min(step, height - y0)
                x = conv1(b, slice(y0 * width, (y0 + rows) * width)).reshape(-1, c1)  # n*(ky1,kx1) x C1
                x = _activate(act1, F.layer_norm(x, (c1,), norm.weight, norm.bias, norm.eps))
                x = _activate(act2, (x @ w2).add_(b2)).view(-1, c2)  # n*(ky1,kx1,ky2,kx2) x C2
                chunk = (hyper_in[b] @ x.t()).view(count, rows, width, 2, 2, 2, 2)
                # (y, x, ky1, kx1, ky2, kx2) -> row 4y + 2ky1 + ky2, column 4x + 2kx1 + kx2
                target = masks[b, :, 4 * y0 : 4 * (y0 + rows)].view(count, rows, 2, 2, width, 2, 2)
                target.copy_(chunk.permute(0, 1, 3, 5, 2, 4, 6))
        return masks


def _activate(act: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """act(x), overwriting x for an exact GELU (inference only)."""
    if isinstance(act, nn.GELU):
        out: torch.Tensor = torch.ops.aten.gelu_(x, approximate=act.approximate)
        return out
    return _call(act, x)


def _call(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """module(x), typed (nn.Module.__call__ returns Any)."""
    out: torch.Tensor = module(x)
    return out


def conv_bias(conv: nn.ConvTranspose2d) -> torch.Tensor:
    """The bias of one of the upscaling convolutions (SAM's have one), typed."""
    if conv.bias is None:
        raise TypeError("the decoder's upscaling convolutions must have a bias")
    return conv.bias

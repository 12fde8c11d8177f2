"""Mask decoder: two-way transformer + upscaling + hypernetwork dot products and an IoU head."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from segany.modeling.common import MLP, LayerNorm2d


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
            MLP(transformer_dim, transformer_dim, transformer_dim // 8, 3) for _ in range(self.num_mask_tokens)
        )
        self.iou_prediction_head = MLP(transformer_dim, iou_head_hidden_dim, self.num_mask_tokens, iou_head_depth)
        # Switch between the matmul formulation of the upscaling (fast) and the module-by-module reference.
        self.fused_upscaling = True

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
        """
        masks, iou_pred = self.predict_masks(
            image_embeddings, image_pe, sparse_prompt_embeddings, dense_prompt_embeddings
        )
        selected = slice(1, None) if multimask_output else slice(0, 1)
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

        hyper_in = torch.stack(
            [mlp(mask_tokens_out[:, i, :]) for i, mlp in enumerate(self.output_hypernetworks_mlps)], dim=1
        )  # B x 4 x C/8
        src = src.expand(batch, -1, -1)  # B x HW x C image tokens
        if self.fused_upscaling:
            masks = self._upscale_tokens_and_dot(src, hyper_in, height, width)
        else:
            upscaled = self.output_upscaling(src.transpose(1, 2).reshape(batch, channels, height, width))
            b, c, h, w = upscaled.shape  # B x C/8 x 4H x 4W
            masks = (hyper_in @ upscaled.reshape(b, c, h * w)).reshape(b, -1, h, w)
        iou_pred = self.iou_prediction_head(iou_token_out)
        return masks, iou_pred

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
        conv1, norm, act1, conv2, act2 = self.output_upscaling
        batch, count = tokens.shape[0], hyper_in.shape[1]
        c1, c2 = conv1.out_channels, conv2.out_channels
        # weight (C_in, C_out, ky, kx) -> C_in x (ky, kx, C_out)
        w1 = conv1.weight.permute(0, 2, 3, 1).reshape(conv1.in_channels, 4 * c1)
        w2 = conv2.weight.permute(0, 2, 3, 1).reshape(c1, 4 * c2)
        x = (tokens @ w1).view(batch, height * width, 4, c1) + conv1.bias  # B x HW x (ky1,kx1) x C1
        x = act1(F.layer_norm(x, (c1,), norm.weight, norm.bias, norm.eps))
        x = (x @ w2).view(batch, height * width * 16, c2) + conv2.bias  # B x HW*(ky1,kx1,ky2,kx2) x C2
        x = act2(x)
        masks = torch.bmm(x, hyper_in.transpose(1, 2))  # B x HW*16 x M
        # (y, x, ky1, kx1, ky2, kx2) -> row 4y + 2ky1 + ky2, column 4x + 2kx1 + kx2
        masks = masks.view(batch, height, width, 2, 2, 2, 2, count).permute(0, 7, 1, 3, 5, 2, 4, 6)
        return masks.reshape(batch, count, 4 * height, 4 * width)

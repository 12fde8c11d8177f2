"""Two-way transformer of the mask decoder: prompt tokens and image tokens attend to each other."""

from __future__ import annotations

from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from segany.modeling.common import MLPBlock


class Attention(nn.Module):
    """Multi-head attention whose q/k/v projections may shrink the width by `downsample_rate`."""

    def __init__(self, embedding_dim: int, num_heads: int, downsample_rate: int = 1) -> None:
        super().__init__()
        self.embedding_dim = embedding_dim
        self.internal_dim = embedding_dim // downsample_rate
        self.num_heads = num_heads
        if self.internal_dim % num_heads != 0:
            raise ValueError(
                f"embedding_dim / downsample_rate must be divisible by num_heads, got "
                f"{embedding_dim} / {downsample_rate} and {num_heads} heads"
            )
        self.q_proj = nn.Linear(embedding_dim, self.internal_dim)
        self.k_proj = nn.Linear(embedding_dim, self.internal_dim)
        self.v_proj = nn.Linear(embedding_dim, self.internal_dim)
        self.out_proj = nn.Linear(self.internal_dim, embedding_dim)

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        """B x N x D projected tokens -> B x heads x N x D/heads."""
        batch, tokens, channels = x.shape
        return x.reshape(batch, tokens, self.num_heads, channels // self.num_heads).transpose(1, 2)

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        # q: B x Nq x C, k / v: B x Nk x C
        q = self.split_heads(self.q_proj(q))
        k = self.split_heads(self.k_proj(k))
        v = self.split_heads(self.v_proj(v))
        out = F.scaled_dot_product_attention(q, k, v)  # B x heads x Nq x C/heads
        batch, heads, tokens, head_dim = out.shape
        result: torch.Tensor = self.out_proj(out.transpose(1, 2).reshape(batch, tokens, heads * head_dim))
        return result


class TwoWayAttentionBlock(nn.Module):
    """Token self-attention, token->image cross-attention, MLP on tokens, image->token cross-attention."""

    def __init__(
        self,
        embedding_dim: int,
        num_heads: int,
        mlp_dim: int = 2048,
        activation: type[nn.Module] = nn.ReLU,
        attention_downsample_rate: int = 2,
        skip_first_layer_pe: bool = False,
    ) -> None:
        super().__init__()
        self.self_attn = Attention(embedding_dim, num_heads)
        self.norm1 = nn.LayerNorm(embedding_dim)
        self.cross_attn_token_to_image = Attention(embedding_dim, num_heads, attention_downsample_rate)
        self.norm2 = nn.LayerNorm(embedding_dim)
        self.mlp = MLPBlock(embedding_dim, mlp_dim, activation)
        self.norm3 = nn.LayerNorm(embedding_dim)
        self.norm4 = nn.LayerNorm(embedding_dim)
        self.cross_attn_image_to_token = Attention(embedding_dim, num_heads, attention_downsample_rate)
        self.skip_first_layer_pe = skip_first_layer_pe

    def forward(
        self, queries: torch.Tensor, keys: torch.Tensor, query_pe: torch.Tensor, key_pe: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        # queries: B x Nt x C prompt tokens; keys: B x HW x C image tokens; *_pe: their positional terms.
        queries = self.token_self_attention(queries, query_pe)
        q = queries + query_pe
        k = keys + key_pe  # the image tokens do not change until norm4: reused below
        queries = self.token_update(queries, self.cross_attn_token_to_image(q, k, keys))

        q = queries + query_pe
        keys = self.norm4(keys + self.cross_attn_image_to_token(k, q, queries))
        return queries, keys

    def token_self_attention(self, queries: torch.Tensor, query_pe: torch.Tensor) -> torch.Tensor:
        """Step 1 on the B x Nt x C tokens: self-attention (+ residual unless the first layer) and norm1."""
        if self.skip_first_layer_pe:
            queries = self.self_attn(queries, queries, queries)
        else:
            q = queries + query_pe
            queries = queries + self.self_attn(q, q, queries)
        result: torch.Tensor = self.norm1(queries)
        return result

    def token_update(self, queries: torch.Tensor, token_to_image: torch.Tensor) -> torch.Tensor:
        """Steps 2-3 on the tokens, given their token->image attention output: residual, norm2, MLP, norm3."""
        queries = self.norm2(queries + token_to_image)
        result: torch.Tensor = self.norm3(queries + self.mlp(queries))
        return result


class TwoWayTransformer(nn.Module):
    def __init__(
        self,
        depth: int,
        embedding_dim: int,
        num_heads: int,
        mlp_dim: int,
        activation: type[nn.Module] = nn.ReLU,
        attention_downsample_rate: int = 2,
    ) -> None:
        super().__init__()
        self.depth = depth
        self.embedding_dim = embedding_dim
        self.num_heads = num_heads
        self.mlp_dim = mlp_dim
        self.layers = nn.ModuleList(
            TwoWayAttentionBlock(
                embedding_dim=embedding_dim,
                num_heads=num_heads,
                mlp_dim=mlp_dim,
                activation=activation,
                attention_downsample_rate=attention_downsample_rate,
                skip_first_layer_pe=(i == 0),
            )
            for i in range(depth)
        )
        self.final_attn_token_to_image = Attention(embedding_dim, num_heads, attention_downsample_rate)
        self.norm_final_attn = nn.LayerNorm(embedding_dim)

    def blocks(self) -> list[TwoWayAttentionBlock]:
        """`layers`, typed."""
        return cast("list[TwoWayAttentionBlock]", list(self.layers))

    def forward(
        self, image_embedding: torch.Tensor, image_pe: torch.Tensor, point_embedding: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """
        Args:
            image_embedding: B x C x H x W, or 1 x C x H x W shared by the B prompts (broadcast: the first
                block's image-side projections are then computed once); image_pe: 1 (or B) x C x H x W;
            point_embedding: B x Nt x C.
        Returns:
            processed tokens (B x Nt x C) and image tokens (B x HW x C; still 1 x HW x C if depth is 0).
        """
        # Token-major copies: adds on the transposed views would run strided, several times per block.
        keys = image_embedding.flatten(2).transpose(1, 2).contiguous()  # B x HW x C
        key_pe = image_pe.flatten(2).transpose(1, 2).contiguous()
        queries = point_embedding
        for layer in self.layers:
            queries, keys = layer(queries, keys, point_embedding, key_pe)
        q = queries + point_embedding
        k = keys + key_pe
        queries = self.norm_final_attn(queries + self.final_attn_token_to_image(q, k, keys))
        return queries, keys

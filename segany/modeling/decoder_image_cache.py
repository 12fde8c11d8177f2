"""Per-image part of the exact low-rank decoder path: everything that depends on the image embedding and
the weights but not on the prompt, built once per image (see `segany.modeling.decoder_lowrank` for the maths
and the notation: S_k, P, the column-group bases, the cross terms S_k P basis^T).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import torch
from torch import nn

from segany.modeling.mask_decoder import MaskDecoder, conv_bias
from segany.modeling.transformer import Attention


def weights_fingerprint(module: nn.Module) -> tuple[tuple[int, int, int], ...]:
    """Identity, storage and in-place version of every parameter and buffer: changes whenever one changes.

    Walks the module tree directly (checked on every prompt, where ``Module.parameters()``'s generator
    machinery is measurably slower); a tensor shared by two submodules simply appears twice.
    """
    entries: list[tuple[int, int, int]] = []
    pending = [module]
    while pending:
        current = pending.pop()
        for tensors in (current._parameters, current._buffers):
            entries.extend((id(t), t.data_ptr(), t._version) for t in tensors.values() if t is not None)
        pending.extend(child for child in current._modules.values() if child is not None)
    return tuple(entries)


def centered(x: torch.Tensor) -> torch.Tensor:
    """x P: subtract the mean over the last (channel) axis."""
    return x - x.mean(dim=-1, keepdim=True)


@dataclass
class Projection:
    """Per-image part of one linear map W (C -> D) of the keys at one stage: a ⊙ (S W) + L (R W) + shift."""

    base: torch.Tensor  # H x N x hd: S W per head (at stage 0, where a = 1 and L = 0, the shift is folded in)
    shift: torch.Tensor | None  # H x N x hd (pe W + b) or D (bias b); None when folded into the base
    weight: torch.Tensor  # C x D: W, applied to the per-prompt R


@dataclass
class Stage:
    """Per-image tensors of the image tokens entering block k, or (last stage) the final attention."""

    key: Projection  # token->image attention keys (keys + pe)
    value: Projection  # token->image attention values
    # Column groups of R present in keys_k: bases H x hd x C (a const group: 1 x 1 x C).
    bases: list[torch.Tensor]
    # Block stages only: image->token queries, and what the LayerNorm closing the block needs.
    query: Projection | None = None
    sq_norm: torch.Tensor | None = None  # N: |S_k P|^2
    update_bases: list[torch.Tensor] = field(default_factory=list)  # groups of the pre-LN sum x_{k+1}
    cross: list[torch.Tensor] = field(default_factory=list)  # per update group: H x N x hd, S_k P basis^T


@dataclass
class DecoderImageCache:
    """Prompt-independent decoder work for one image embedding (build with `build_image_cache`).

    Valid only for the embedding tensor it was built from (checked by identity), its positional encoding and
    the decoder weights as they were (checked by `weights_fingerprint`); the dense no-mask vector it assumes
    is `dense`.
    """

    embedding: torch.Tensor  # 1 x C x h x w, the embedding it was built from
    image_pe: torch.Tensor  # 1 x C x h x w
    dense: torch.Tensor  # C: the dense prompt embedding shared by all prompts (no_mask_embed), a copy
    fingerprint: tuple[tuple[int, int, int], ...]
    size: tuple[int, int]  # (h, w)
    stages: list[Stage]
    upscale_base: torch.Tensor  # N x 4*C1: S W1, the first ConvTranspose2d as a per-token linear map
    upscale_shift: torch.Tensor  # 4*C1: its bias, per (ky, kx)
    upscale_weight: torch.Tensor  # C x 4*C1

    def matches(
        self, decoder: nn.Module, embedding: torch.Tensor, image_pe: torch.Tensor | None = None
    ) -> bool:
        """Built from this embedding (the same tensor), this positional encoding and the current weights."""
        if embedding is not self.embedding or weights_fingerprint(decoder) != self.fingerprint:
            return False
        return image_pe is None or image_pe is self.image_pe or bool(torch.equal(image_pe, self.image_pe))

    def image_tensors(self) -> list[torch.Tensor]:
        """The tensors that depend on the image (the rest depends on the weights only), in a fixed order."""
        tensors = []
        for stage in self.stages:
            tensors += [stage.key.base, stage.value.base]
            if stage.query is not None and stage.sq_norm is not None:
                tensors += [stage.query.base, stage.sq_norm, *stage.cross]
        return [*tensors, self.upscale_base]

    def with_image_tensors(self, tensors: Sequence[torch.Tensor]) -> DecoderImageCache:
        """A copy whose image-dependent tensors are `tensors` (as `image_tensors` orders them)."""
        taken = iter(tensors)
        stages = []
        for stage in self.stages:
            key, value = replace(stage.key, base=next(taken)), replace(stage.value, base=next(taken))
            if stage.query is None:
                stages.append(replace(stage, key=key, value=value))
                continue
            query, sq_norm = replace(stage.query, base=next(taken)), next(taken)
            cross = [next(taken) for _ in stage.cross]
            stages.append(replace(stage, key=key, value=value, query=query, sq_norm=sq_norm, cross=cross))
        return replace(self, stages=stages, upscale_base=next(taken))


def _per_head(x: torch.Tensor, heads: int, channel_major: bool = False) -> torch.Tensor:
    """N x D -> H x N x hd; with ``channel_major``, the transposed view of a contiguous H x hd x N tensor.

    Tensors that are only multiplied from the token side (token rows @ tensor^T: the attention keys and
    queries of the image tokens, the cross terms) are stored channel-major: the product then reads
    N-contiguous rows, faster for the few token rows of a prompt than the transposed operand
    (benchmarks/MEASUREMENTS.md, "channel-major keys").
    """
    per_head = x.reshape(x.shape[0], heads, -1)  # N x H x hd
    if channel_major:
        return per_head.permute(1, 2, 0).contiguous().transpose(1, 2)
    return per_head.transpose(0, 1).contiguous()


def _projection(
    layer: nn.Linear,
    heads: int,
    s: torch.Tensor,
    pe: torch.Tensor | None,
    fold: bool,
    keys: bool,
) -> Projection:
    """Per-image part of `layer` applied to S (+ pe); `fold` adds the shift into the base (stage 0).

    ``keys``: the projection is only dotted with token-side vectors (attention logits), never used as values:
    its per-head tensors are stored channel-major (see `_per_head`).
    """
    weight, bias = layer.weight.detach().t(), layer.bias.detach()  # C x D, D
    base = s @ weight
    if pe is None:
        if fold:
            return Projection(_per_head(base + bias, heads, keys), None, weight)
        return Projection(_per_head(base, heads, keys), bias, weight)
    shift = pe @ weight + bias
    if fold:
        return Projection(_per_head(base + shift, heads, keys), None, weight)
    return Projection(_per_head(base, heads, keys), _per_head(shift, heads, keys), weight)


def _head_basis(attn: Attention) -> torch.Tensor:
    """out_proj weight as H x hd x C: the basis of the value coefficients of each head."""
    weight = attn.out_proj.weight.detach().t()  # D x C
    return weight.reshape(attn.num_heads, -1, weight.shape[-1])


def _const(vector: torch.Tensor) -> torch.Tensor:
    return vector.detach().reshape(1, 1, -1)


def _cross(centered_s: torch.Tensor, basis: torch.Tensor) -> torch.Tensor:
    """(S_k P) basis^T: H x N x hd."""
    heads, width, channels = basis.shape
    return _per_head(centered_s @ basis.reshape(heads * width, channels).t(), heads, channel_major=True)


@torch.no_grad()
def build_image_cache(
    decoder: MaskDecoder, image_embedding: torch.Tensor, image_pe: torch.Tensor, dense: torch.Tensor
) -> DecoderImageCache:
    """Precompute the decoder's prompt-independent work for one image.

    Args:
        image_embedding: 1 x C x h x w; image_pe: 1 x C x h x w; dense: C (the no-mask dense embedding).
    """
    transformer = decoder.two_way_transformer()
    _, _, height, width = image_embedding.shape
    s = (image_embedding[0] + dense[:, None, None]).flatten(1).t()  # N x C: S_0
    pe = image_pe[0].flatten(1).t()  # N x C
    stages: list[Stage] = []
    bases: list[torch.Tensor] = []  # column groups of keys_k
    for index, layer in enumerate(transformer.blocks()):
        t2i, i2t = layer.cross_attn_token_to_image, layer.cross_attn_image_to_token
        first = index == 0
        stage = Stage(
            key=_projection(t2i.k_proj, t2i.num_heads, s, pe, fold=first, keys=True),
            value=_projection(t2i.v_proj, t2i.num_heads, s, None, fold=first, keys=False),
            bases=bases,
            query=_projection(i2t.q_proj, i2t.num_heads, s, pe, fold=first, keys=True),
        )
        centered_s = centered(s)
        stage.sq_norm = centered_s.square().sum(-1)
        # x_{k+1} = keys_k + A V W_o + 1 b: the bias joins the const group of the last LayerNorm's beta.
        update = list(bases)
        if first:
            update.append(_const(i2t.out_proj.bias))
        else:
            update[-1] = update[-1] + _const(i2t.out_proj.bias)
        update.append(_head_basis(i2t))
        stage.update_bases = update
        stage.cross = [_cross(centered_s, basis) for basis in update]
        stages.append(stage)
        norm = layer.norm4
        s = centered_s * norm.weight  # S_{k+1} = S_k P diag(g)
        bases = [centered(basis) * norm.weight for basis in update] + [_const(norm.bias)]
    final = transformer.final_attn_token_to_image
    stages.append(
        Stage(
            key=_projection(final.k_proj, final.num_heads, s, pe, fold=False, keys=True),
            value=_projection(final.v_proj, final.num_heads, s, None, fold=False, keys=False),
            bases=bases,
        )
    )
    w1 = decoder.conv1_matrix().detach()
    return DecoderImageCache(
        embedding=image_embedding,
        image_pe=image_pe,
        dense=dense.detach().clone(),
        fingerprint=weights_fingerprint(decoder),
        size=(height, width),
        stages=stages,
        upscale_base=s @ w1,
        upscale_shift=conv_bias(decoder.upscaling_layers().conv1).detach().repeat(4),
        upscale_weight=w1,
    )

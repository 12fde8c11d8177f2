"""Exact low-rank fast path of the mask decoder for inference (same math as the reference, fp32 rounding aside).

Notation: N = h*w image tokens, C channels (256), T prompt tokens, H heads of width hd (H*hd = D, 128).
Without a mask prompt the image tokens entering the two-way transformer are the same for every prompt:
S_0 = embedding + no_mask_embed. Each block then adds an image->token attention output A V W_o + b, which is
low rank (A: N x H*T attention probabilities, V W_o: H*T x C), followed by a LayerNorm. The LayerNorm of a
matrix of the form a ⊙ S + L R (a: a scale per row) is again of that form:

    LN(x) = d ⊙ (x P) diag(g) + 1 beta^T,   P = I - 11^T / C (centering),   d_i = 1 / sqrt(|x_i P|^2 / C + eps)

so the image tokens entering block k (stage k; stage `depth` feeds the final attention and the upscaling) are

    keys_k = a ⊙ S_k + L R,    S_{k+1} = S_k P diag(g_k)  (per image),   a = product of the d's  (N, per prompt)

with L (N x r) and R (r x C) per prompt, r ~ 8T per block. A linear map W of the keys costs a ⊙ (S_k W), which is
precomputed per image, plus L (R W). The row norms |x_i P|^2 come from inner products:
a_i^2 |S_k P|_i^2 + 2 a_i (S_k P R^T)_i . l_i + l_i (R P)(R P)^T l_i^T. The rows of R come in column groups, each
a small per-prompt coefficient block (the attention values V, or 1) times a basis fixed by the weights (the
out_proj weight per head, a bias or a LayerNorm beta, carried through the P diag(g) maps), so S_k P R^T is
(S_k P basis^T) coef^T with the first factor precomputed per image.

Attention against the image tokens never materialises their N x D projections: the logits of token queries q
are a ⊙ (q (S W)^T) + (q (R W)^T) L^T + q shift^T, the value sums follow the same split, and the softmax runs
over N (token->image) or over the T tokens (image->token, giving the next A). The upscaling's first transposed
convolution is a linear map too; after it (LayerNorm2d, GELU, second convolution, GELU, hypernetwork dot
products) everything runs densely through `MaskDecoder`. For one point prompt (T = 7) this is ~0.45 GMAC per
prompt against ~1.5 GMAC for the reference path (an operation count, not a timing), about half of it in the
dense upscaling.

Inference only. `decode_with_cache` is the entry: it takes this path when the cache applies (no gradient,
tracing or mask prompt, the reference paths not requested) and calls the plain `MaskDecoder` otherwise.
Under `torch.jit.is_tracing()` (the ONNX export of the low-rank pair in `segany.onnx`) the in-place and
chunked shortcuts give way to plain out-of-place operations.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from segany.modeling.decoder_image_cache import (
    DecoderImageCache,
    Projection,
    Stage,
    build_image_cache,
    centered,
    weights_fingerprint,
)
from segany.modeling.jit_state import is_scripting, is_tracing
from segany.modeling.mask_decoder import MaskDecoder
from segany.modeling.reference import use_reference_paths
from segany.modeling.transformer import Attention, TwoWayAttentionBlock, TwoWayTransformer

# The per-image half lives in decoder_image_cache; re-exported here, the path's one entry module.
__all__ = [
    "DecoderImageCache",
    "build_image_cache",
    "decode_with_cache",
    "predict_masks_lowrank",
    "supports_low_rank",
    "weights_fingerprint",
]


# ---------------------------------------------------------------------------------------------- entry
def supports_low_rank(decoder: nn.Module) -> bool:
    """The low-rank path applies to this decoder (SAM's two-way transformer, depth >= 1) and is not switched
    off by `segany.modeling.reference.reference_paths`."""
    return (
        not use_reference_paths()
        and isinstance(decoder, MaskDecoder)
        and isinstance(decoder.transformer, TwoWayTransformer)
        and len(decoder.transformer.layers) > 0
    )


def decode_with_cache(
    decoder: MaskDecoder,
    cache: DecoderImageCache | None,
    image_embeddings: torch.Tensor,
    image_pe: torch.Tensor,
    sparse_prompt_embeddings: torch.Tensor,
    dense_prompt_embeddings: torch.Tensor,
    multimask_output: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """`decoder(...)`'s answer, through the low-rank path when `cache` applies to these inputs.

    Args:
        cache: `build_image_cache(decoder, image_embeddings, image_pe, no-mask vector)`, or None. Used when the
            dense embedding is the cached no-mask vector and no gradient or tracing is involved; otherwise the
            plain decoder runs. A cache of another embedding or positional encoding, or of changed weights,
            raises ValueError.
    Returns:
        masks B x M x 4H x 4W logits and IoU predictions B x M (M = 3 multimask, else 1).
    """
    if cache is not None and _cache_applies(
        decoder, cache, image_embeddings, image_pe, dense_prompt_embeddings
    ):
        selected = slice(1, None) if multimask_output else slice(0, 1)
        return predict_masks_lowrank(decoder, cache, sparse_prompt_embeddings, selected)
    result: tuple[torch.Tensor, torch.Tensor] = decoder(
        image_embeddings, image_pe, sparse_prompt_embeddings, dense_prompt_embeddings, multimask_output
    )
    return result


def _cache_applies(
    decoder: MaskDecoder,
    cache: DecoderImageCache,
    image_embeddings: torch.Tensor,
    image_pe: torch.Tensor,
    dense_prompt_embeddings: torch.Tensor,
) -> bool:
    """The guard of the low-rank path; ValueError for a stale cache."""
    if not supports_low_rank(decoder) or is_tracing() or is_scripting():
        return False
    if torch.is_grad_enabled() and any(p.requires_grad for p in decoder.parameters()):
        return False  # training: the reference path, with gradients
    if not cache.matches(decoder, image_embeddings, image_pe):
        raise ValueError(
            "image_cache is stale: it was built for another image embedding, positional encoding or "
            "other weights"
        )
    dense = dense_prompt_embeddings
    # The low-rank path needs the same dense vector at every pixel of every prompt (no mask prompt).
    if dense.ndim != 4 or dense.stride(2) != 0 or dense.stride(3) != 0:
        return False
    if dense.shape[0] > 1 and dense.stride(0) != 0:
        return False
    return bool(torch.equal(dense[0, :, 0, 0], cache.dense))


# ---------------------------------------------------------------------------------------------- per prompt
@dataclass
class _LowRank:
    """Per-prompt part of the image tokens: keys = a ⊙ S + L R for B prompts (L kept transposed)."""

    scale: torch.Tensor | None  # B x 1 x 1 x N: a (None: 1)
    left_t: torch.Tensor | None  # B x r x N: L^T (None: r = 0)
    coefs: list[torch.Tensor | None]  # per column group: B x H x T x hd values, None for a const group

    def right(self, bases: list[torch.Tensor], batch: int) -> torch.Tensor:
        """R: B x r x C from the groups' coefficients and bases."""
        parts = []
        for coef, basis in zip(self.coefs, bases):
            if coef is None:
                parts.append(basis.reshape(1, 1, -1).expand(batch, 1, -1))
            else:
                rows = torch.einsum("bhtd,hdc->bhtc", coef, basis)
                parts.append(rows.reshape(batch, -1, basis.shape[-1]))
        return torch.cat(parts, dim=1)


def _per_head_right(right_w: torch.Tensor, heads: int) -> torch.Tensor:
    """B x r x D -> B x H x r x hd."""
    batch, rank, _ = right_w.shape
    return right_w.reshape(batch, rank, heads, -1).transpose(1, 2)


def _with_shared(per_prompt: torch.Tensor, shared: torch.Tensor) -> torch.Tensor:
    """B x H x T x m per-prompt rows times a per-image H x m x n matrix: B x H x T x n (a strided view).

    One batched product over the heads with the B*T rows stacked, so the shared matrix is never copied B times.
    """
    batch, heads, tokens, width = per_prompt.shape
    stacked = per_prompt.transpose(0, 1).reshape(heads, batch * tokens, width)
    return (stacked @ shared).view(heads, batch, tokens, -1).transpose(0, 1)


def _logits(
    proj: Projection, state: _LowRank, right: torch.Tensor | None, token_side: torch.Tensor
) -> torch.Tensor:
    """token_side (B x H x T x hd) dotted with every image row of a ⊙ (S W) + L (R W) + shift: B x H x T x N."""
    out = _with_shared(token_side, proj.base.transpose(1, 2))
    if state.scale is not None:
        out = _mul(out, state.scale)
    if proj.shift is not None:
        out = _add(out, _with_shared(token_side, proj.shift.transpose(1, 2)))
    if state.left_t is not None and right is not None:
        batch, heads, tokens, _ = token_side.shape
        small = token_side @ _per_head_right(right @ proj.weight, heads).transpose(2, 3)  # B x H x T x r
        through_left = small.reshape(batch, heads * tokens, -1) @ state.left_t
        out = _add(out, through_left.view(batch, heads, tokens, -1))
    return out


def _softmax_over_tokens(logits: torch.Tensor) -> torch.Tensor:
    """Softmax over dim 2 (the T tokens) of B x H x T x N logits.

    Written out when tracing: ONNX Runtime's Softmax on a non-last axis transposes, the reductions do not.
    """
    if not is_tracing():
        return torch.softmax(logits, dim=2)
    exp = (logits - logits.amax(dim=2, keepdim=True)).exp()
    return exp / exp.sum(dim=2, keepdim=True)


def _mul(fresh: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
    """fresh * other, overwriting `fresh` (a temporary) unless tracing for export."""
    return fresh * other if is_tracing() else fresh.mul_(other)


def _add(fresh: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
    """fresh + other, overwriting `fresh` (a temporary) unless tracing for export."""
    return fresh + other if is_tracing() else fresh.add_(other)


def _weighted_values(
    proj: Projection, state: _LowRank, right: torch.Tensor | None, probs: torch.Tensor
) -> torch.Tensor:
    """probs (B x H x T x N, rows summing to 1) times the values a ⊙ (S W) + L (R W) + b: B x H x T x hd."""
    batch, heads, tokens, count = probs.shape
    if state.scale is None:
        scaled = probs.transpose(0, 1).contiguous()  # H x B x T x N
    elif is_tracing():
        scaled = (probs * state.scale).transpose(0, 1).contiguous()
    else:
        scaled = torch.empty((heads, batch, tokens, count), dtype=probs.dtype, device=probs.device)
        torch.mul(probs.transpose(0, 1), state.scale.transpose(0, 1), out=scaled)
    out = (
        (scaled.view(heads, batch * tokens, count) @ proj.base).view(heads, batch, tokens, -1).transpose(0, 1)
    )
    if proj.shift is not None:
        out = out + proj.shift.reshape(heads, 1, -1)  # the bias: the probabilities sum to 1
    if state.left_t is not None and right is not None:
        through_left = probs.reshape(batch, heads * tokens, count) @ state.left_t.transpose(
            1, 2
        )  # B x H*T x r
        through_left = through_left.view(batch, heads, tokens, -1)
        out = out + through_left @ _per_head_right(right @ proj.weight, heads)
    return out


def _token_to_image(
    attn: Attention,
    proj_k: Projection,
    proj_v: Projection,
    state: _LowRank,
    right: torch.Tensor | None,
    queries: torch.Tensor,
) -> torch.Tensor:
    """Attention of the B x T x C tokens over the image tokens in low-rank form: B x T x C."""
    q = attn.split_heads(attn.q_proj(queries))  # B x H x T x hd
    probs = torch.softmax(_logits(proj_k, state, right, q * q.shape[-1] ** -0.5), dim=-1)  # B x H x T x N
    out = _weighted_values(proj_v, state, right, probs)
    batch, heads, tokens, width = out.shape
    result: torch.Tensor = attn.out_proj(out.transpose(1, 2).reshape(batch, tokens, heads * width))
    return result


def _block(
    layer: TwoWayAttentionBlock,
    stage: Stage,
    queries: torch.Tensor,
    query_pe: torch.Tensor,
    state: _LowRank,
) -> tuple[torch.Tensor, _LowRank]:
    """One two-way block: token side as the reference, image side updated in low-rank form."""
    batch = queries.shape[0]
    queries = layer.token_self_attention(queries, query_pe)
    right = state.right(stage.bases, batch) if state.left_t is not None else None
    t2i = layer.cross_attn_token_to_image
    attn_out = _token_to_image(t2i, stage.key, stage.value, state, right, queries + query_pe)
    queries = layer.token_update(queries, attn_out)

    # Image -> token attention: probabilities over the T tokens (B x H x T x N), values V (B x H x T x hd).
    i2t = layer.cross_attn_image_to_token
    assert stage.query is not None
    token_k = i2t.split_heads(i2t.k_proj(queries + query_pe))
    logits = _logits(stage.query, state, right, token_k * token_k.shape[-1] ** -0.5)
    probs = _softmax_over_tokens(logits)
    coef = i2t.split_heads(i2t.v_proj(queries))

    # Column groups of x_{k+1} = keys_k + A V W_o + 1 b, in the order of stage.update_bases.
    heads, tokens, count = probs.shape[1:]
    lefts = [] if state.left_t is None else [state.left_t]
    coefs = list(state.coefs)
    if state.left_t is None:
        lefts.append(probs.new_ones(batch, 1, count))
        coefs.append(None)
    lefts.append(probs.reshape(batch, heads * tokens, count))
    coefs.append(coef)
    updated = _LowRank(state.scale, torch.cat(lefts, dim=1), coefs)
    return queries, _layer_norm(layer.norm4, stage, updated, batch)


def _layer_norm(norm: nn.LayerNorm, stage: Stage, x: _LowRank, batch: int) -> _LowRank:
    """LN(a ⊙ S + L R) = (d a) ⊙ S' + (d ⊙ L)(R P diag(g)) + 1 beta^T, with d from inner products."""
    assert x.left_t is not None and stage.sq_norm is not None
    right = centered(x.right(stage.update_bases, batch))  # B x r x C: R P
    # (S P R^T)_i . l_i: the rows of S P R^T group by group, B x r x N, dotted with L^T's columns.
    cross_rows = []
    for coef, cross in zip(x.coefs, stage.cross):
        if coef is None:
            cross_rows.append(cross.reshape(1, 1, -1).expand(batch, 1, -1))
        else:
            z = _with_shared(coef, cross.transpose(1, 2))  # B x H x T x N
            cross_rows.append(z.reshape(batch, -1, z.shape[-1]))
    cross_dot = _mul(torch.cat(cross_rows, dim=1), x.left_t).sum(1)  # B x N
    gram = right @ right.transpose(1, 2)  # B x r x r
    quad = ((gram @ x.left_t) * x.left_t).sum(1)  # B x N: l_i (R P)(R P)^T l_i^T
    if x.scale is None:
        sq = stage.sq_norm + 2.0 * cross_dot + quad
    else:
        scale = x.scale.reshape(x.scale.shape[0], -1)
        sq = scale.square() * stage.sq_norm + 2.0 * scale * cross_dot + quad
    d = torch.rsqrt(sq / right.shape[-1] + norm.eps)  # B x N
    new_scale = d[:, None, None, :] if x.scale is None else x.scale * d[:, None, None, :]
    left_t = torch.cat([_mul(x.left_t, d[:, None, :]), torch.ones_like(d[:, None, :])], dim=1)
    return _LowRank(new_scale, left_t, [*x.coefs, None])


# Prompts per pass of the low-rank path. On the CPU, larger batches only spill the per-prompt tensors out of
# the caches (benchmarks/MEASUREMENTS.md, "low-rank prompts per pass"). An accelerator has no such cache
# cliff and wants large batches: there a pass only bounds memory (~1 MB per prompt per tensor for vit_b), at
# everything mode's default batch of 64 points.
_PROMPTS_PER_PASS = {"cpu": 8}
_PROMPTS_PER_PASS_OTHER_DEVICES = 64


def prompts_per_pass(device: torch.device) -> int:
    return _PROMPTS_PER_PASS.get(device.type, _PROMPTS_PER_PASS_OTHER_DEVICES)


def predict_masks_lowrank(
    decoder: MaskDecoder,
    cache: DecoderImageCache,
    sparse_prompt_embeddings: torch.Tensor,
    tokens: slice = slice(None),
) -> tuple[torch.Tensor, torch.Tensor]:
    """B x M x 4h x 4w logits and B x M IoU predictions of the mask tokens ``tokens`` (default: all, as
    `MaskDecoder.predict_masks`). Only the selected masks are upscaled: multimask output skips token 0."""
    per_pass = prompts_per_pass(sparse_prompt_embeddings.device)
    if sparse_prompt_embeddings.shape[0] <= per_pass or is_tracing():
        return _predict_masks(decoder, cache, sparse_prompt_embeddings, tokens)
    parts = [
        _predict_masks(decoder, cache, part, tokens)
        for part in torch.split(sparse_prompt_embeddings, per_pass)
    ]
    return torch.cat([masks for masks, _ in parts]), torch.cat([iou for _, iou in parts])


def _predict_masks(
    decoder: MaskDecoder,
    cache: DecoderImageCache,
    sparse_prompt_embeddings: torch.Tensor,
    selected: slice,
) -> tuple[torch.Tensor, torch.Tensor]:
    transformer = decoder.two_way_transformer()
    batch = sparse_prompt_embeddings.shape[0]
    output_tokens = torch.cat([decoder.iou_token.weight, decoder.mask_tokens.weight], dim=0)
    tokens = torch.cat([output_tokens.unsqueeze(0).expand(batch, -1, -1), sparse_prompt_embeddings], dim=1)

    queries = tokens
    state = _LowRank(scale=None, left_t=None, coefs=[])
    for layer, stage in zip(transformer.blocks(), cache.stages):
        queries, state = _block(layer, stage, queries, tokens, state)
    final_stage = cache.stages[-1]
    right = state.right(final_stage.bases, batch)
    final = transformer.final_attn_token_to_image
    # Only the IoU and mask tokens are read after the final attention (each query attends independently).
    used = 1 + decoder.num_mask_tokens
    queries, tokens = queries[:, :used], tokens[:, :used]
    attn_out = _token_to_image(final, final_stage.key, final_stage.value, state, right, queries + tokens)
    queries = transformer.norm_final_attn(queries + attn_out)

    iou_token_out = queries[:, 0, :]
    mask_tokens_out = queries[:, 1 : 1 + decoder.num_mask_tokens, :]
    hyper_in = decoder.hypernetwork_inputs(mask_tokens_out)[:, selected]  # B x M x C/8
    iou_pred = decoder.iou_prediction_head(iou_token_out)[:, selected]
    # First ConvTranspose2d: a ⊙ (S W1) + L (R W1) + b1, N x 4*C1 per prompt, a chunk of tokens at a time.
    assert state.scale is not None and state.left_t is not None
    scale, left_t = state.scale.reshape(batch, -1, 1), state.left_t
    right_w = right @ cache.upscale_weight  # B x r x 4*C1
    height, width = cache.size
    if is_tracing() or left_t.device.type != "cpu":  # export, accelerators: one batched graph
        upscaled = (
            torch.addcmul(cache.upscale_shift, scale, cache.upscale_base) + left_t.transpose(1, 2) @ right_w
        )
        masks = decoder.upscale_and_dot(upscaled, hyper_in, height, width)
        return masks, iou_pred

    def conv1(b: int, tokens: slice) -> torch.Tensor:
        out = torch.addcmul(cache.upscale_shift, scale[b, tokens], cache.upscale_base[tokens])
        return out.addmm_(left_t[b, :, tokens].t(), right_w[b])

    masks = decoder.upscale_and_dot_chunked(conv1, hyper_in, height, width)
    return masks, iou_pred

"""Per-prompt decoder graphs in dense form with a per-image prep graph (the alternative to the low-rank pair).

Same maths as `MaskDecoder.predict_masks` without a mask prompt, arranged for ONNX Runtime on narrow decoders:

* The image tokens stay token-major, N x C (N = h*w), so every LayerNorm over C is one fused ONNX
  LayerNormalization, and the first upscaling convolution is a product with a constant (prepacked) matrix.
* Their attention projections are computed channel-major instead, W (D x C) @ X^T: a Gemm with a transposed
  operand, landing directly in the per-head layout H x hd x N. The image->token output comes back token-major
  the same way (out^T @ W_o^T). No node of the graph transposes an N-sized tensor.
* The prompt-independent work (the image tokens entering the first block and their three projections) runs
  once per image in the prep graph; positional-encoding terms of the later blocks are constants of the graph.

The low-rank form (`segany.modeling.decoder_lowrank`) does less arithmetic when the rank of the per-prompt
update (~8 columns per prompt token and block) stays well below the channel count C, as for SAM's C = 256 on a
64 x 64 grid; for narrow decoders (segany_small: C = 128 on 32 x 32) that rank reaches C and the dense form,
with far fewer and larger operations, is the faster graph. `prefers_dense_decoder` makes the call at export.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from segany.modeling.mask_decoder import MaskDecoder, conv_bias
from segany.modeling.sam import Sam
from segany.modeling.transformer import Attention, TwoWayTransformer

# Prompt tokens of a one-point prompt (IoU token, 4 mask tokens, the point and the padding point): each adds
# a column per head to the low-rank form's per-prompt update in every block.
_TOKENS_ONE_POINT = 7


def prefers_dense_decoder(sam: Sam) -> bool:
    """Whether the dense graph is the better per-prompt decoder: the low-rank update of a one-point prompt
    would reach half the channel count. False where the dense graph does not apply (no two-way blocks)."""
    transformer = sam.mask_decoder.transformer
    if not isinstance(transformer, TwoWayTransformer) or len(transformer.layers) == 0:
        return False
    rank = (transformer.num_heads * _TOKENS_ONE_POINT + 1) * len(transformer.layers)
    return rank >= transformer.embedding_dim // 2


def _check_decoder(sam: Sam) -> TwoWayTransformer:
    decoder = sam.mask_decoder
    if not isinstance(decoder, MaskDecoder) or not isinstance(decoder.transformer, TwoWayTransformer):
        raise TypeError("the dense decoder graphs need SAM's MaskDecoder with a TwoWayTransformer")
    if len(decoder.transformer.layers) == 0:
        raise ValueError("the dense decoder graphs need a transformer with at least one block")
    return decoder.transformer


def _project(weight: torch.Tensor, tokens: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """W (D x C) applied to token-major N x C tokens, channel-major result D x N (+ shift, D x N or D x 1)."""
    return torch.addmm(shift, weight, tokens.t())


def image_stage_zero(sam: Sam, image_embeddings: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Prep: 1 x C x h x w embedding -> the image tokens entering block 0 (N x C, with that block's image->token
    output bias already added: all the per-prompt graph uses them for is that residual sum) and their t2i
    keys, t2i values and i2t queries (D x N each)."""
    transformer = _check_decoder(sam)
    prompt_encoder = sam.prompt_encoder
    no_mask = prompt_encoder.no_mask_embed.weight[0]
    tokens = (image_embeddings[0] + no_mask[:, None, None]).flatten(1).t()  # N x C
    with_pe = tokens + prompt_encoder.get_dense_pe()[0].flatten(1).t()
    layer = transformer.blocks()[0]
    t2i, i2t = layer.cross_attn_token_to_image, layer.cross_attn_image_to_token
    key = _project(t2i.k_proj.weight, with_pe, t2i.k_proj.bias[:, None])
    value = _project(t2i.v_proj.weight, tokens, t2i.v_proj.bias[:, None])
    query = _project(i2t.q_proj.weight, with_pe, i2t.q_proj.bias[:, None])
    return tokens + i2t.out_proj.bias, key, value, query


class _Stage(nn.Module):
    """Constants of one stage's image-side projections: weights and shifts (bias, plus W pe where the
    projection sees the positional encoding, minus W offset when the tokens arrive shifted by `offset`)."""

    def __init__(
        self, layers: list[tuple[nn.Linear, bool]], pe: torch.Tensor, offset: torch.Tensor | None = None
    ) -> None:
        super().__init__()
        self.count = len(layers)
        for index, (layer, with_pe) in enumerate(layers):
            weight, bias = layer.weight.detach(), layer.bias.detach()[:, None]
            if offset is not None:
                bias = bias - weight @ offset.detach()[:, None]
            shift = bias + weight @ pe.t() if with_pe else bias  # D x N, or D x 1
            self.register_buffer(f"weight_{index}", weight.clone(), persistent=False)  # D x C
            self.register_buffer(f"shift_{index}", shift, persistent=False)

    def forward(self, tokens: torch.Tensor) -> list[torch.Tensor]:
        """N x C image tokens -> each projection, D x N."""
        return [
            _project(getattr(self, f"weight_{i}"), tokens, getattr(self, f"shift_{i}"))
            for i in range(self.count)
        ]


class DenseDecoderPrepGraph(nn.Module):
    """Prep graph of the dense form: image_embeddings -> the `image_stage_zero` tensors."""

    def __init__(self, sam: Sam) -> None:
        super().__init__()
        _check_decoder(sam)
        self.sam = sam

    def forward(self, image_embeddings: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return image_stage_zero(self.sam, image_embeddings)


class DenseDecoderGraph(nn.Module):
    """Per-prompt graph of the dense form: points + the prep tensors -> IoU 1 x 4, low-res logits 1 x 4 x 4h x 4w.

    Inputs: point_coords 1 x N x 2 and point_labels 1 x N as in the official contract (pad point or box corners
    already appended), then the prep outputs in order. Outputs as `decoder_lowres.onnx` with has_mask_input 0.
    """

    def __init__(self, sam: Sam) -> None:
        super().__init__()
        transformer = _check_decoder(sam)
        self.prompt_encoder = sam.prompt_encoder
        self.decoder = sam.mask_decoder
        self.transformer = transformer
        self.grid = sam.prompt_encoder.image_embedding_size
        pe = sam.prompt_encoder.get_dense_pe().detach()[0].flatten(1).t()  # N x C
        # The image tokens entering block k travel shifted by that block's image->token output bias b_k, so
        # its residual sum is one Gemm: LN_{k-1} gets beta + b_k, and the projections of block k subtract W b_k.
        layers = transformer.blocks()
        out_biases = [layer.cross_attn_image_to_token.out_proj.bias.detach() for layer in layers]
        betas = [layer.norm4.bias.detach() for layer in layers]
        for index in range(len(layers) - 1):
            betas[index] = betas[index] + out_biases[index + 1]
        for index, beta in enumerate(betas):
            self.register_buffer(f"norm_bias_{index}", beta.clone(), persistent=False)
        # Blocks k >= 1: t2i keys and values and i2t queries of the image tokens entering block k; then the
        # final attention's keys and values.
        stages = []
        for layer, offset in zip(layers[1:], out_biases[1:]):
            t2i, i2t = layer.cross_attn_token_to_image, layer.cross_attn_image_to_token
            stages.append(_Stage([(t2i.k_proj, True), (t2i.v_proj, False), (i2t.q_proj, True)], pe, offset))
        final = transformer.final_attn_token_to_image
        stages.append(_Stage([(final.k_proj, True), (final.v_proj, False)], pe))
        self.stages = nn.ModuleList(stages)

    def forward(
        self, point_coords: torch.Tensor, point_labels: torch.Tensor, *image: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        decoder, transformer = self.decoder, self.transformer
        sparse = self.prompt_encoder.embed_points(point_coords, point_labels, pad=False)  # 1 x T x C
        output_tokens = torch.cat([decoder.iou_token.weight, decoder.mask_tokens.weight], dim=0)
        tokens = torch.cat([output_tokens[None], sparse], dim=1)  # 1 x T x C
        image_tokens, key, value, query = image
        queries = tokens
        for index, layer in enumerate(transformer.blocks()):
            if index > 0:
                key, value, query = self.stages[index - 1](image_tokens)
            if layer.skip_first_layer_pe:
                queries = _self_attention(layer.self_attn, queries, queries, queries)
            else:
                q = queries + tokens
                queries = queries + _self_attention(layer.self_attn, q, q, queries)
            queries = layer.norm1(queries)
            attn_out = _token_to_image(layer.cross_attn_token_to_image, queries + tokens, key, value)
            queries = layer.norm2(queries + attn_out)
            queries = layer.norm3(queries + layer.mlp(queries))
            norm = layer.norm4
            residual = _image_to_token(
                layer.cross_attn_image_to_token, query, queries + tokens, queries, image_tokens
            )
            bias = getattr(self, f"norm_bias_{index}")
            image_tokens = F.layer_norm(residual, norm.normalized_shape, norm.weight, bias, norm.eps)
        key, value = self.stages[-1](image_tokens)
        final = transformer.final_attn_token_to_image
        queries = transformer.norm_final_attn(queries + _token_to_image(final, queries + tokens, key, value))

        iou_pred = decoder.iou_prediction_head(queries[:, 0, :])
        hyper_in = decoder.hypernetwork_inputs(queries[:, 1 : 1 + decoder.num_mask_tokens, :])
        conv1 = decoder.upscaling_layers().conv1
        # First ConvTranspose2d as a per-token product: N x C @ C x (ky, kx, C1).
        conv1_out = torch.addmm(conv_bias(conv1).repeat(4), image_tokens, decoder.conv1_matrix())
        height, width = self.grid
        masks = decoder.upscale_and_dot(conv1_out[None], hyper_in, height, width)
        return iou_pred, masks


# The token-side helpers below reshape to constant shapes (-1 for the token count): reading sizes off the
# tensors would put a Shape -> Gather -> Unsqueeze -> Concat chain before every reshape of the exported graph.
def _split_heads(x: torch.Tensor, attn: Attention) -> torch.Tensor:
    """1 x T x D -> H x T x hd."""
    heads = attn.num_heads
    return x.reshape(-1, heads, attn.internal_dim // heads).transpose(0, 1)


def _merge_heads(x: torch.Tensor, attn: Attention) -> torch.Tensor:
    """H x T x hd -> 1 x T x D, then the output projection."""
    result: torch.Tensor = attn.out_proj(x.transpose(0, 1).reshape(1, -1, attn.internal_dim))
    return result


def _scale(attn: Attention) -> float:
    result: float = float(attn.internal_dim // attn.num_heads) ** -0.5
    return result


def _self_attention(
    attn: Attention, queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor
) -> torch.Tensor:
    """`attn` over the prompt tokens (1 x T x C each) -> 1 x T x C."""
    q = _split_heads(attn.q_proj(queries), attn) * _scale(attn)
    k, v = _split_heads(attn.k_proj(keys), attn), _split_heads(attn.v_proj(values), attn)
    return _merge_heads(F.softmax(q @ k.transpose(1, 2), dim=-1) @ v, attn)


def _token_to_image(
    attn: Attention, queries: torch.Tensor, key: torch.Tensor, value: torch.Tensor
) -> torch.Tensor:
    """Prompt tokens (1 x T x C) attending over the image (keys, values: D x N channel-major) -> 1 x T x C."""
    heads = attn.num_heads
    width = attn.internal_dim // heads
    q = _split_heads(attn.q_proj(queries), attn) * _scale(attn)  # H x T x hd
    logits = q @ key.reshape(heads, width, -1)  # H x T x N
    out = F.softmax(logits, dim=-1) @ value.reshape(heads, width, -1).transpose(1, 2)  # H x T x hd
    return _merge_heads(out, attn)


def _image_to_token(
    attn: Attention, query: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, shifted: torch.Tensor
) -> torch.Tensor:
    """Image tokens (their query projection, D x N) attending over the prompt tokens: `shifted` (N x C, the
    tokens plus the output bias) + the attention output."""
    heads = attn.num_heads
    width = attn.internal_dim // heads
    k = _split_heads(attn.k_proj(keys), attn) * _scale(attn)  # H x T x hd
    v = _split_heads(attn.v_proj(values), attn)
    logits = k @ query.reshape(heads, width, -1)  # H x T x N
    # Softmax over the T tokens (axis 1) written out: ONNX Runtime's Softmax on a non-last axis transposes.
    exp = (logits - logits.amax(dim=1, keepdim=True)).exp()
    probs = exp / exp.sum(dim=1, keepdim=True)
    out = (v.transpose(1, 2) @ probs).reshape(attn.internal_dim, -1)  # D x N
    # Back to token-major: out^T @ W_o^T, the transpose folded into the product, the residual its addend.
    return torch.addmm(shifted, out.t(), attn.out_proj.weight.t())

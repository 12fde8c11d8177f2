"""Multi-head self-attention of the ViT image encoder with decomposed relative positions (MViTv2 style).

The attention logits of query (qh, qw) and key (kh, kw) get two extra terms, q . Rh[qh - kh] + q . Rw[qw - kw],
where Rh / Rw are learnt tables of relative offsets. The fused path hands these terms to
`scaled_dot_product_attention` as an additive mask built in chunks (a group of heads, a band of query rows),
so the full (heads x L x L) bias never exists at once for global attention; the reference path spells the
maths out and is kept for tests (`segany.modeling.reference.reference_paths`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from segany.modeling.jit_state import is_tracing
from segany.modeling.reference import use_reference_paths
from segany.modeling.windows import gather_windows, scatter_windows, window_count
from segany.modeling.workspace import Workspace

# Largest additive-bias chunk (elements) built at once on the fused path: 2^24 floats = 64 MiB. A memory bound,
# not a speed setting: it holds on any device.
_MAX_BIAS_ELEMENTS = 1 << 24
# Queries per chunk of chunked global attention, per device type. torch's CPU flash-attention kernel tiles the
# queries in blocks of 256 once a call has >= 768 of them (64 below that), so CPU chunks of >= 768 queries
# (fewer heads each) run faster than flatter chunks of all heads (benchmarks/bench_attention_chunks.py). That is
# a property of the CPU kernel: other devices keep the plain policy (as many heads as the budget allows).
_MIN_CHUNK_QUERIES = 768
_MIN_CHUNK_QUERIES_BY_DEVICE = {"cpu": _MIN_CHUNK_QUERIES}


def relative_position_table(q_size: int, k_size: int, rel_pos: torch.Tensor) -> torch.Tensor:
    """Gather the embedding of every (query, key) offset along one axis.

    Args:
        q_size: number of query positions along the axis.
        k_size: number of key positions along the axis.
        rel_pos: (L, C) table of offsets; linearly resized when L != 2 * max(q_size, k_size) - 1.

    Returns:
        (q_size, k_size, C) embeddings.
    """
    span = 2 * max(q_size, k_size) - 1
    if rel_pos.shape[0] != span:
        # (L, C) -> (1, C, L) -> resize along L -> (span, C)
        rel_pos = F.interpolate(rel_pos.T[None], size=span, mode="linear").squeeze(0).T
    # When query and key grids differ, offsets are measured on the finer grid.
    q_scale = max(k_size / q_size, 1.0)
    k_scale = max(q_size / k_size, 1.0)
    q_coords = torch.arange(q_size, device=rel_pos.device)[:, None] * q_scale
    k_coords = torch.arange(k_size, device=rel_pos.device)[None, :] * k_scale
    offsets = (q_coords - k_coords) + (k_size - 1) * k_scale
    return rel_pos[offsets.long()]


def decomposed_rel_pos_terms(
    q: torch.Tensor,
    q_hw: tuple[int, int],
    k_hw: tuple[int, int],
    rel_pos_h: torch.Tensor,
    rel_pos_w: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Height and width relative-position logits.

    Args:
        q: (..., qh * qw, C) unscaled queries.
    Returns:
        rel_h: (..., qh, qw, kh) and rel_w: (..., qh, qw, kw).
    """
    q_h, q_w = q_hw
    k_h, k_w = k_hw
    table_h = relative_position_table(q_h, k_h, rel_pos_h)  # qh x kh x C
    table_w = relative_position_table(q_w, k_w, rel_pos_w)  # qw x kw x C
    grid_q = q.reshape(*q.shape[:-2], q_h, q_w, q.shape[-1])
    rel_h = torch.einsum("...hwc,hkc->...hwk", grid_q, table_h)
    rel_w = torch.einsum("...hwc,wkc->...hwk", grid_q, table_w)
    return rel_h, rel_w


def _bias_from_terms(
    rel_h: torch.Tensor, rel_w: torch.Tensor, out: torch.Tensor | None = None
) -> torch.Tensor:
    """(..., qh, qw, kh), (..., qh, qw, kw) -> additive bias (..., qh * qw, kh * kw).

    Writing into a contiguous buffer matters: the einsum outputs have permuted strides, and a broadcast add
    would inherit them, turning the final reshape into a full copy of the (large) bias.
    """
    *lead, q_h, q_w, k_h = rel_h.shape
    k_w = rel_w.shape[-1]
    needs_graph = torch.is_grad_enabled() and (rel_h.requires_grad or rel_w.requires_grad)
    if needs_graph or is_tracing():
        # Autograd and the ONNX tracer cannot record `out=` writes; they pay for the extra copy.
        return (rel_h[..., :, None] + rel_w[..., None, :]).reshape(*lead, q_h * q_w, k_h * k_w)
    if out is None:
        out = rel_h.new_empty((*lead, q_h, q_w, k_h, k_w))
    torch.add(rel_h[..., :, None], rel_w[..., None, :], out=out)
    return out.view(*lead, q_h * q_w, k_h * k_w)


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _chunk_shape(
    height: int, width: int, heads: int, bias_per_row: int, min_queries: int = _MIN_CHUNK_QUERIES
) -> tuple[int, int]:
    """(query rows, heads) per chunk of global attention: at least `min_queries` queries where the bias
    budget allows it, then as many heads as the budget holds, then (with every head in) more rows. Rows and
    heads are spread evenly over the chunks, so that no short last chunk falls below the query minimum."""
    budget_rows = max(1, _MAX_BIAS_ELEMENTS // bias_per_row)  # query rows of one head within the budget
    rows = min(height, _ceil_div(min_queries, width), budget_rows)
    rows = min(_ceil_div(height, height // rows), budget_rows)  # even bands, each at least `rows` tall
    head_group = min(heads, max(1, _MAX_BIAS_ELEMENTS // (rows * bias_per_row)))
    if head_group == heads:
        return max(rows, min(height, _MAX_BIAS_ELEMENTS // (heads * bias_per_row))), heads
    return rows, _ceil_div(heads, _ceil_div(heads, head_group))  # even head groups


class Attention(nn.Module):
    """Multi-head attention over a B x H x W x C token grid (one window or the whole image)."""

    def __init__(
        self,
        dim: int,
        num_heads: int = 8,
        qkv_bias: bool = True,
        use_rel_pos: bool = False,
        input_size: tuple[int, int] | None = None,
    ) -> None:
        super().__init__()
        if dim % num_heads != 0:
            raise ValueError(f"dim must be divisible by num_heads, got dim={dim}, num_heads={num_heads}")
        self.num_heads = num_heads
        head_dim = dim // num_heads
        self.scale = head_dim**-0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.use_rel_pos = use_rel_pos
        if use_rel_pos:
            if input_size is None:
                raise ValueError("input_size (tokens per side) is required when use_rel_pos=True")
            self.rel_pos_h = nn.Parameter(torch.zeros(2 * input_size[0] - 1, head_dim))
            self.rel_pos_w = nn.Parameter(torch.zeros(2 * input_size[1] - 1, head_dim))

    def forward(self, x: torch.Tensor, workspace: Workspace | None = None) -> torch.Tensor:
        """B x H x W x C -> B x H x W x C; ``workspace`` (inference only) holds qkv and the bias."""
        qkv = self._qkv(x, workspace).view(*x.shape[:3], -1)
        result: torch.Tensor = self.proj(self._attend(qkv, workspace))
        return result

    def forward_windowed(self, x: torch.Tensor, window: int, workspace: Workspace) -> torch.Tensor:
        """Attention within window x window windows of a B x H x W x C grid -> B x H x W x C (inference).

        The reference pads the normalised grid with zero tokens to whole windows and projects every token.
        A zero token's qkv is exactly the qkv bias, so projecting the H*W real tokens only and writing the bias
        at the padding positions of the windows gives the same windows for less work (64 x 64 tokens in
        windows of 14 pad to 70 x 70: a sixth of the projection); the padded queries' outputs are dropped
        before the output projection, which then also runs on the real tokens only.
        """
        batch, height, width, channels = x.shape
        # B x H x W x 3C, without the bias: the gather adds it while copying (a pass fewer than addmm's
        # copy of the bias into its output), and writes it alone at the padding positions.
        qkv = self._qkv(x, workspace, with_bias=False).view(batch, height, width, -1)
        n_h, n_w = window_count(height, width, window)
        bias = self.qkv.bias
        fill = bias if bias is not None else qkv.new_zeros(qkv.shape[-1])
        buffer = workspace.get("qkv_windows", (batch * n_h * n_w, window, window, qkv.shape[-1]), qkv)
        windows = gather_windows(qkv, window, fill, buffer, shift=bias)  # B*nWindows x window x window x 3C
        attended = self._attend(windows, workspace)  # B*nWindows x window x window x C
        grid = workspace.get("attended_grid", (batch, height, width, channels), x)
        result: torch.Tensor = self.proj(scatter_windows(attended, (height, width), grid))
        return result

    def _attend(self, qkv: torch.Tensor, workspace: Workspace | None) -> torch.Tensor:
        """B x H x W x 3C projected tokens -> B x H x W x C attention output (before the output projection)."""
        batch, height, width, _ = qkv.shape
        # B x HW x 3C -> 3 x B x heads x HW x head_dim
        qkv = qkv.reshape(batch, height * width, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        if not use_reference_paths():
            out = self._fused_attention(q, k, v, (height, width), workspace)
        else:
            out = self._reference_attention(q, k, v, (height, width))
        # B x heads x HW x head_dim -> B x H x W x C
        return out.transpose(1, 2).reshape(batch, height, width, -1)

    def _qkv(self, x: torch.Tensor, workspace: Workspace | None, with_bias: bool = True) -> torch.Tensor:
        if workspace is None:
            result: torch.Tensor = self.qkv(x)
            return result
        rows = x.reshape(-1, x.shape[-1])
        out = workspace.get("qkv", (rows.shape[0], self.qkv.out_features), rows)
        if self.qkv.bias is None or not with_bias:
            return torch.mm(rows, self.qkv.weight.t(), out=out)
        return torch.addmm(self.qkv.bias, rows, self.qkv.weight.t(), out=out)

    def _fused_attention(
        self,
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        hw: tuple[int, int],
        workspace: Workspace | None = None,
    ) -> torch.Tensor:
        if not self.use_rel_pos:
            return F.scaled_dot_product_attention(q, k, v)
        height, width = hw
        rel_h, rel_w = decomposed_rel_pos_terms(q, hw, hw, self.rel_pos_h, self.rel_pos_w)
        batch, heads, tokens, _ = q.shape
        bias_per_row = width * tokens  # bias elements of one head and one row of queries
        if batch * heads * height * bias_per_row <= _MAX_BIAS_ELEMENTS:
            whole = None if workspace is None else workspace.get("bias", (*rel_h.shape, width), rel_h)
            return F.scaled_dot_product_attention(q, k, v, attn_mask=_bias_from_terms(rel_h, rel_w, whole))
        # Global attention on a large grid: attend in chunks of (one image, a group of heads, a band of query
        # rows), each with its own slice of the bias built in one reused buffer, so the full bias never exists.
        min_queries = _MIN_CHUNK_QUERIES_BY_DEVICE.get(q.device.type, 1)
        rows, head_group = _chunk_shape(height, width, heads, bias_per_row, min_queries)
        training = torch.is_grad_enabled() and q.requires_grad
        chunk_shape = (1, head_group, rows, width, height, width)
        if training:
            buffer = None
        elif workspace is not None:
            buffer = workspace.get("bias", chunk_shape, rel_h)
        else:
            buffer = rel_h.new_empty(chunk_shape)
        if workspace is not None:
            # Every chunk streams all keys and values of its heads. As views of the qkv projection their
            # rows lie 3C apart; copied into contiguous per-head memory (a small part of the layer's time)
            # they are read faster (benchmarks/MEASUREMENTS.md, "contiguous keys/values").
            k = workspace.get("keys", k.shape, k).copy_(k)
            v = workspace.get("values", v.shape, v).copy_(v)
        # B x L x heads x hd memory seen as B x heads x L x hd: the caller's transpose back is then free.
        out = q.new_empty(batch, tokens, heads, q.shape[-1]).transpose(1, 2)
        for b in range(batch):
            for head0 in range(0, heads, head_group):
                hs = slice(head0, min(heads, head0 + head_group))
                for row0 in range(0, height, rows):
                    row1 = min(height, row0 + rows)
                    part = (slice(b, b + 1), hs, slice(row0, row1))
                    chunk = None if buffer is None else buffer[:, : hs.stop - hs.start, : row1 - row0]
                    bias = _bias_from_terms(rel_h[part], rel_w[part], out=chunk)
                    queries = (slice(b, b + 1), hs, slice(row0 * width, row1 * width))
                    out[queries] = F.scaled_dot_product_attention(
                        q[queries], k[b : b + 1, hs], v[b : b + 1, hs], attn_mask=bias
                    )
        return out

    def _reference_attention(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, hw: tuple[int, int]
    ) -> torch.Tensor:
        logits = (q * self.scale) @ k.transpose(-2, -1)  # B x heads x L x L
        if self.use_rel_pos:
            rel_h, rel_w = decomposed_rel_pos_terms(q, hw, hw, self.rel_pos_h, self.rel_pos_w)
            logits = logits + _bias_from_terms(rel_h, rel_w)
        result: torch.Tensor = logits.softmax(dim=-1) @ v
        return result

"""Window layouts of the encoder: the buffer-writing gather/scatter against the allocating partition.

`gather_windows` fills the padding with a vector instead of zeros, so that a per-token linear map applied to the
real tokens before windowing matches the map applied to the zero-padded windows (the reference order).
`Attention.forward_windowed` relies on that to skip the padding tokens' qkv projection.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from segany.modeling.vit_attention import Attention
from segany.modeling.windows import (
    gather_windows,
    scatter_windows,
    window_count,
    window_partition,
    window_unpartition,
)
from segany.modeling.workspace import Workspace

# (batch, height, width, window): padding along both axes, one axis, none, and a grid smaller than a window.
GRIDS = [(1, 16, 16, 14), (2, 9, 7, 4), (1, 8, 11, 4), (2, 12, 8, 4), (1, 5, 3, 7)]


@pytest.mark.parametrize("bias_on_the_way", [False, True])
@pytest.mark.parametrize(("batch", "height", "width", "window"), GRIDS)
def test_gather_of_projected_tokens_equals_projected_zero_padded_windows(
    batch: int, height: int, width: int, window: int, bias_on_the_way: bool
) -> None:
    torch.manual_seed(0)
    linear = nn.Linear(5, 6)
    grid = torch.randn(batch, height, width, 5)
    with torch.no_grad():
        reference, padded_hw = window_partition(grid, window)  # zero padding, then the map
        reference = linear(reference)
        n_h, n_w = window_count(height, width, window)
        assert padded_hw == (n_h * window, n_w * window)
        buffer = torch.full((batch * n_h * n_w * window * window * 6,), float("nan"))
        if bias_on_the_way:  # the map without its bias, the gather adding it
            projected = grid @ linear.weight.t()
            windows = gather_windows(projected, window, linear.bias, buffer, shift=linear.bias)
        else:
            windows = gather_windows(linear(grid), window, linear.bias, buffer)
    assert windows.shape == reference.shape
    assert windows.data_ptr() == buffer.data_ptr(), "the windows must live in the given buffer"
    torch.testing.assert_close(windows, reference, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(("batch", "height", "width", "window"), GRIDS)
def test_scatter_inverts_gather_and_matches_unpartition(
    batch: int, height: int, width: int, window: int
) -> None:
    torch.manual_seed(1)
    grid = torch.randn(batch, height, width, 3)
    n_h, n_w = window_count(height, width, window)
    windows = gather_windows(grid, window, torch.zeros(3), torch.empty(batch * n_h * n_w * window**2 * 3))
    partitioned, padded_hw = window_partition(grid, window)
    assert torch.equal(windows, partitioned)
    out = torch.full((batch * height * width * 3,), float("nan"))
    restored = scatter_windows(windows * 2.0, (height, width), out)
    assert restored.shape == grid.shape and restored.data_ptr() == out.data_ptr()
    assert torch.equal(restored, window_unpartition(partitioned * 2.0, window, padded_hw, (height, width)))
    assert torch.equal(restored, grid * 2.0)


@pytest.mark.parametrize("qkv_bias", [True, False])
def test_forward_windowed_equals_attention_on_padded_windows(qkv_bias: bool) -> None:
    torch.manual_seed(2)
    window = 6
    attention = Attention(24, num_heads=3, qkv_bias=qkv_bias, use_rel_pos=True, input_size=(window, window))
    with torch.no_grad():  # the relative tables start at zero: give them values
        attention.rel_pos_h.normal_(std=0.5)
        attention.rel_pos_w.normal_(std=0.5)
        if qkv_bias:
            attention.qkv.bias.normal_(std=1.0)
    grid = torch.randn(2, 10, 9, 24)
    with torch.inference_mode():
        windows, padded_hw = window_partition(grid, window)
        reference = window_unpartition(attention(windows), window, padded_hw, (10, 9))
        windowed = attention.forward_windowed(grid, window, Workspace())
    torch.testing.assert_close(windowed, reference, rtol=1e-5, atol=1e-5)

"""Non-overlapping square windows over a B x H x W x C token grid, padded bottom/right to whole windows.

Two forms of the same layout change:
- `window_partition` / `window_unpartition` allocate their results (differentiable, traceable);
- `gather_windows` / `scatter_windows` write into buffers the caller owns (inference): the gather fills the
  padding with a given vector instead of zeros, so that a per-token linear map applied *before* windowing (to
  the real tokens only) gives the windows the values the map would give the zero-padded ones.

Windows are ordered row-major over the window grid, and tokens row-major within each window.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def window_partition(x: torch.Tensor, window: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Split a B x H x W x C grid into windows, zero-padding bottom/right.

    Returns:
        windows: (B * nWindows) x window x window x C, and the padded size (Hp, Wp).
    """
    batch, height, width, channels = x.shape
    pad_h = (window - height % window) % window
    pad_w = (window - width % window) % window
    if pad_h or pad_w:
        x = F.pad(x, (0, 0, 0, pad_w, 0, pad_h))
    padded_h, padded_w = height + pad_h, width + pad_w
    x = x.view(batch, padded_h // window, window, padded_w // window, window, channels)
    windows = x.permute(0, 1, 3, 2, 4, 5).reshape(-1, window, window, channels)
    return windows, (padded_h, padded_w)


def window_unpartition(
    windows: torch.Tensor, window: int, padded_hw: tuple[int, int], hw: tuple[int, int]
) -> torch.Tensor:
    """Inverse of `window_partition`: (B * nWindows) x window x window x C -> B x H x W x C."""
    padded_h, padded_w = padded_hw
    height, width = hw
    n_h, n_w = padded_h // window, padded_w // window
    batch = windows.shape[0] // (n_h * n_w)
    x = windows.view(batch, n_h, n_w, window, window, -1)
    x = x.permute(0, 1, 3, 2, 4, 5).reshape(batch, padded_h, padded_w, -1)
    if padded_h > height or padded_w > width:
        x = x[:, :height, :width, :].contiguous()
    return x


def window_count(height: int, width: int, window: int) -> tuple[int, int]:
    """Windows per column and per row of an H x W grid (the last ones padded)."""
    return -(-height // window), -(-width // window)


def _axis_parts(size: int, window: int) -> list[tuple[slice, slice, slice, int, int]]:
    """One axis split into the whole windows and the partial last one.

    Each part: (grid positions, window indices, positions within the window, #windows, #positions per window).
    """
    whole = size // window
    parts = []
    if whole:
        parts.append((slice(0, whole * window), slice(0, whole), slice(0, window), whole, window))
    if size % window:
        rest = size % window
        parts.append((slice(whole * window, size), slice(whole, whole + 1), slice(0, rest), 1, rest))
    return parts


def _grid_view(windows: torch.Tensor, batch: int, n_h: int, n_w: int, window: int) -> torch.Tensor:
    """(B * n_h * n_w) x window x window x C windows seen in grid order: B x n_h x window x n_w x window x C."""
    return windows.view(batch, n_h, n_w, window, window, -1).permute(0, 1, 3, 2, 4, 5)


def gather_windows(
    grid: torch.Tensor,
    window: int,
    fill: torch.Tensor,
    out: torch.Tensor,
    shift: torch.Tensor | None = None,
) -> torch.Tensor:
    """B x H x W x C grid -> (B * nWindows) x window x window x C windows written into ``out``.

    Args:
        fill: C vector written at the padding positions (beyond row H or column W).
        out: contiguous buffer with B * nWindows * window^2 * C elements (any shape).
        shift: optional C vector added to the grid's tokens on the way (a bias left out of the map that
            produced the grid: the addition then costs no pass of its own).
    """
    batch, height, width, channels = grid.shape
    n_h, n_w = window_count(height, width, window)
    windows = out.view(batch * n_h * n_w, window, window, channels)
    target = _grid_view(windows, batch, n_h, n_w, window)
    for rows, win_r, in_r, count_r, size_r in _axis_parts(height, window):
        for cols, win_c, in_c, count_c, size_c in _axis_parts(width, window):
            source = grid[:, rows, cols].view(batch, count_r, size_r, count_c, size_c, channels)
            part = target[:, win_r, in_r, win_c, in_c]
            if shift is None:
                part.copy_(source)
            else:
                torch.add(source, shift, out=part)
    if height % window:
        pad = target[:, n_h - 1, height % window :]
        pad.copy_(fill.expand_as(pad))
    if width % window:
        pad = target[:, :, :, n_w - 1, width % window :]
        pad.copy_(fill.expand_as(pad))
    return windows


def scatter_windows(windows: torch.Tensor, hw: tuple[int, int], out: torch.Tensor) -> torch.Tensor:
    """Inverse of `gather_windows` (padding dropped): windows -> B x H x W x C written into ``out``."""
    height, width = hw
    _, window, _, channels = windows.shape
    n_h, n_w = window_count(height, width, window)
    batch = windows.shape[0] // (n_h * n_w)
    grid = out.view(batch, height, width, channels)
    source = _grid_view(windows, batch, n_h, n_w, window)
    for rows, win_r, in_r, count_r, size_r in _axis_parts(height, window):
        for cols, win_c, in_c, count_c, size_c in _axis_parts(width, window):
            target = grid[:, rows, cols].view(batch, count_r, size_r, count_c, size_c, channels)
            target.copy_(source[:, win_r, in_r, win_c, in_c])
    return grid

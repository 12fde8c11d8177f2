"""Scratch tensors reused across the blocks of one inference forward pass.

Tensors above glibc's mmap threshold (32 MiB at most) are mapped fresh on every allocation and unmapped when
freed, so each one pays a page fault per 4 KiB page; the ViT encoder allocates several such intermediates per
block (the qkv projection, the MLP hidden layer, the attention bias). Writing them into buffers that live for
one forward pass pays those faults once per pass instead of once per block, and nothing outlives the call.
"""

from __future__ import annotations

import math

import torch


class Workspace:
    """Named flat buffers handed out as views of the requested shape, grown when a larger view is needed."""

    def __init__(self) -> None:
        self._buffers: dict[str, torch.Tensor] = {}

    def get(self, name: str, shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
        """An uninitialised contiguous tensor of ``shape`` with the dtype and device of ``like``.

        Views of the same name share memory: a caller must be done with the previous view before asking again.
        """
        count = math.prod(shape)
        buffer = self._buffers.get(name)
        if (
            buffer is None
            or buffer.numel() < count
            or buffer.dtype != like.dtype
            or buffer.device != like.device
        ):
            buffer = torch.empty(count, dtype=like.dtype, device=like.device)
            self._buffers[name] = buffer
        return buffer[:count].view(shape)


def workspace_for_inference() -> Workspace | None:
    """A fresh Workspace when out= writes are allowed (no autograd graph to record, no tracing for export);
    else None, meaning the plain allocating code path."""
    if torch.is_grad_enabled() or torch.jit.is_tracing() or torch.jit.is_scripting():
        return None
    return Workspace()

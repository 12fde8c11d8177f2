"""Scratch tensors reused across the blocks of one inference forward pass.

Tensors above glibc's mmap threshold (32 MiB at most) are mapped fresh on every allocation and unmapped when
freed, so each one pays a page fault per 4 KiB page; the ViT encoder allocates several such intermediates per
block (the qkv projection, the MLP hidden layer, the attention bias). Writing them into buffers that live for
one forward pass pays those faults once per pass instead of once per block. A `KeptWorkspace` goes further and
keeps the buffers from one pass to the next (see there).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from segany.modeling.jit_state import is_scripting, is_tracing


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
            # A buffer made under inference_mode cannot be written outside it (e.g. later under no_grad).
            or (buffer.is_inference() and not torch.is_inference_mode_enabled())
        ):
            buffer = torch.empty(count, dtype=like.dtype, device=like.device)
            self._buffers[name] = buffer
        return buffer[:count].view(shape)


def inference_writes_allowed() -> bool:
    """Whether out= writes into scratch buffers are allowed: no autograd graph to record, no tracing for export."""
    return not (torch.is_grad_enabled() or is_tracing() or is_scripting())


class KeptWorkspace:
    """One Workspace kept from one forward pass to the next, for one thread at a time.

    A fresh workspace per pass still faults in its ~200 MB (vit_b at 1024 x 1024) on every image: ~65k page
    faults, ~2% of an encoder pass here. Keeping it saves that, at the price of holding the memory between
    images until `release()`. A pass that finds the kept workspace in use by another thread gets a fresh one,
    so concurrent calls never share buffers.
    """

    def __init__(self) -> None:
        self._workspace = Workspace()
        self._lock = threading.Lock()

    @contextmanager
    def borrow(self) -> Iterator[Workspace | None]:
        """The kept workspace (or a fresh one if it is busy); None where out= writes are not allowed."""
        if not inference_writes_allowed():
            yield None
        elif self._lock.acquire(blocking=False):
            try:
                yield self._workspace
            finally:
                self._lock.release()
        else:
            yield Workspace()

    def release(self) -> None:
        """Free the kept buffers (the next pass allocates them again)."""
        with self._lock:
            self._workspace = Workspace()

    # Copies and pickles of a model (deepcopy for an EMA, torch.save of a whole module) get empty buffers and
    # their own lock: scratch memory is not state, and a lock cannot be pickled.
    def __getstate__(self) -> dict[str, object]:
        return {}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__init__()  # type: ignore[misc]

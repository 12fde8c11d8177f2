"""Typed access to torch.jit's state flags (torch does not re-export them to type checkers).

Looked up on every call, so a test can patch `torch.jit.is_tracing`.
"""

from __future__ import annotations

import torch


def is_tracing() -> bool:
    """torch.jit.trace is recording (the ONNX export): fast paths give way to plain, traceable operations."""
    return bool(torch.jit.is_tracing())  # type: ignore[attr-defined, no-untyped-call]


def is_scripting() -> bool:
    return bool(torch.jit.is_scripting())  # type: ignore[attr-defined]

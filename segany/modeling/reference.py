"""One switch between the fast paths and the reference maths (as timm's fused-attention flag).

The fast paths compute the same function as the plain reference code, only faster: the encoder's fused
attention (`scaled_dot_product_attention` with a chunked relative-position bias), the decoder's upscaling as
matrix products, and the exact low-rank decoder for prompts without a mask input. Tests compare the two;
`with reference_paths():` runs every module on the reference maths, on every thread, until the block ends.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0  # open `reference_paths()` blocks (nested blocks and threads each add one)


def use_reference_paths() -> bool:
    """Whether modules must take the reference maths now (read on every forward: a plain global)."""
    return _depth > 0


@contextmanager
def reference_paths() -> Iterator[None]:
    """Run the reference maths instead of the fast paths inside the block (process-wide, for tests)."""
    global _depth
    with _lock:
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1


__all__ = ["reference_paths", "use_reference_paths"]

"""torch's intra-op thread count per server thread: 1 for the request threads, the full count for the encoders.

A hover decode is a few hundred small operations. Split over 2 OpenMP threads from one of the server's
request threads (anyio's worker threads, not the main thread), each operation pays a hand-off between the
threads, and the decode took 2-3x longer than on 1 thread (segany_small: 27-38 ms against 11-15 ms, vit_b
with random weights: 61 ms against 41 ms, in-process on this project's 2-core machine; `/work/notes`
hover-speed). One thread also leaves the other core to the browser and to the event loop.

`torch.set_num_threads` sets the calling thread's OpenMP and MKL thread counts, and also the count every
thread that has not used torch yet starts with. So the request threads set 1 for themselves
(`use_request_threads`), and the threads that want every core (the encoders, the everything job) set theirs
explicitly when they start (`use_compute_threads(compute_threads())`), whatever a request thread set before.
"""

from __future__ import annotations

import threading

import torch

REQUEST_THREADS = 1
_lock = threading.Lock()
_compute_threads: int | None = None


def compute_threads() -> int:
    """The intra-op thread count the server started with (`--threads`, else torch's default): the count of
    the first thread that asks, recorded before any request thread lowered its own (`use_request_threads`)."""
    global _compute_threads
    with _lock:
        if _compute_threads is None:
            _compute_threads = torch.get_num_threads()
        return _compute_threads


def use_request_threads() -> None:
    """The calling (request) thread decodes on one intra-op thread."""
    compute_threads()  # recorded first: later threads must not read the request threads' count
    if torch.get_num_threads() != REQUEST_THREADS:
        torch.set_num_threads(REQUEST_THREADS)


def use_compute_threads(count: int) -> None:
    """The calling (encoder or job) thread uses `count` intra-op threads (the server's count at start)."""
    if count < 1:
        raise ValueError(f"count must be a positive number of threads, got {count}")
    if torch.get_num_threads() != count:
        torch.set_num_threads(count)


__all__ = ["REQUEST_THREADS", "compute_threads", "use_compute_threads", "use_request_threads"]

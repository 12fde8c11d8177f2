"""Lower the CPU priority of one server thread: background work must not slow the interactive requests.

The encoder's pre-encoding of the gallery and the "everything" jobs run in their own threads; on a 2-core
machine they would otherwise take half the CPU from every hover. Linux lets a thread raise its own nice
value (`setpriority` on its thread id); torch's OpenMP worker threads that this thread starts afterwards
inherit it, so the call must come before the thread's first torch operation. Elsewhere it does nothing.
"""

from __future__ import annotations

import logging
import os
import sys
import threading

LOGGER = logging.getLogger("segany.server")
MAX_NICE = 19


def lower_thread_priority(increment: int) -> int | None:
    """Raise the calling thread's nice value by `increment` (capped at 19); the new value, or None if unsupported."""
    if not sys.platform.startswith("linux") or increment <= 0:
        return None
    try:
        thread_id = threading.get_native_id()
        nice = min(MAX_NICE, os.getpriority(os.PRIO_PROCESS, thread_id) + increment)
        os.setpriority(os.PRIO_PROCESS, thread_id, nice)
    except (OSError, AttributeError) as exc:  # a sandbox may forbid it: only speed is lost
        LOGGER.debug("cannot lower the priority of thread %s: %s", threading.current_thread().name, exc)
        return None
    return nice


def thread_nice(native_id: int) -> int | None:
    """The nice value of a thread of this process (Linux), or None."""
    try:
        return os.getpriority(os.PRIO_PROCESS, native_id)
    except (OSError, AttributeError):
        return None

"""segany.server.threads: request threads decode on 1 intra-op thread without lowering the encoders' count."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
import torch

from segany.server import threads


@pytest.fixture
def two_threads(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The main thread at 2 intra-op threads, the server's count not recorded yet; restored afterwards."""
    before = torch.get_num_threads()
    monkeypatch.setattr(threads, "_compute_threads", None)
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def in_thread(work: Callable[[], int]) -> int:
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(work()))
    thread.start()
    thread.join()
    return result[0]


def test_request_thread_uses_one_and_compute_threads_keep_the_start_count(two_threads: None) -> None:
    assert threads.compute_threads() == 2

    def request() -> int:
        threads.use_request_threads()
        return torch.get_num_threads()

    assert in_thread(request) == 1
    assert torch.get_num_threads() == 2  # the main thread's own count is untouched
    # torch.set_num_threads(1) in the request thread became the default of fresh threads ...
    assert in_thread(torch.get_num_threads) == 1

    # ... which a compute (encoder, job) thread overrides with the count recorded at start.
    def compute() -> int:
        threads.use_compute_threads(threads.compute_threads())
        return torch.get_num_threads()

    assert threads.compute_threads() == 2
    assert in_thread(compute) == 2


def test_compute_count_is_recorded_before_the_first_request_thread_lowers_it(two_threads: None) -> None:
    def request() -> int:
        threads.use_request_threads()  # the first caller: records 2 before setting 1
        return torch.get_num_threads()

    assert in_thread(request) == 1
    assert threads.compute_threads() == 2


def test_compute_threads_must_be_positive() -> None:
    with pytest.raises(ValueError, match="count must be a positive number of threads, got 0"):
        threads.use_compute_threads(0)

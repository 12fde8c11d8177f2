"""Training-test set-up: one intra-op thread per test (helpers live in training_testing.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from training_testing import SEGDATA


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One intra-op thread (far faster than two on the shared CPUs these tests run on), set before any
    module-scoped fixture and restored after each module."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def segdata() -> Path:
    return SEGDATA

"""Fixtures of the `segany auto` tests: one tiny checkpoint and one folder of tiny photos per session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from auto_testing import write_tiny_checkpoint, write_tiny_photos


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_checkpoint(tmp_path_factory.mktemp("auto_model") / "tiny_128.pth")


@pytest.fixture(scope="session")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """10 tiny photos, the 4th (img_03.png) corrupt."""
    return write_tiny_photos(tmp_path_factory.mktemp("auto_photos") / "photos", 10, corrupt=(3,))


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread() -> Iterator[None]:
    """One torch thread, as each Ray actor of these tests has (Ray sets OMP_NUM_THREADS to its CPUs): on a
    busy 2-core host, two spinning threads made the tiny model ~50x slower."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)

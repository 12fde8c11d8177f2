"""Fixtures of the core (model / predictor / checkpoint) tests: oracle-twin models and encoded photos.

Encoding a photo at 1024 x 1024 takes seconds on a CPU, so each photo is encoded once per session by the
oracle and by segany; tests only prompt these shared predictors (they never call set_image on them).
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch

REPO_ROOT = str(Path(__file__).resolve().parents[2])
if importlib.util.find_spec("segany") is None and REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

from core_testing import REDUCED_ENCODER, EncodedPair, load_photo, twin_models
from segment_anything import SamPredictor as OraclePredictor

from segany.predictor import SamPredictor


@pytest.fixture(scope="session")
def reduced_twins() -> tuple[torch.nn.Module, torch.nn.Module]:
    """(oracle, ours): the reduced-encoder SAM with identical perturbed random weights."""
    return twin_models(REDUCED_ENCODER, seed=0)


@pytest.fixture(scope="session")
def encoded(reduced_twins: tuple[torch.nn.Module, torch.nn.Module]) -> Callable[[str], EncodedPair]:
    """encoded(photo_name) -> EncodedPair, encoding each fixture photo once per session."""
    cache: dict[str, EncodedPair] = {}
    reference, ours = reduced_twins

    def get(name: str) -> EncodedPair:
        if name not in cache:
            image = load_photo(name)
            oracle = OraclePredictor(reference)
            oracle.set_image(image)
            predictor = SamPredictor(ours)
            predictor.set_image(image)
            cache[name] = EncodedPair(name, image, oracle, predictor)
        return cache[name]

    return get


@pytest.fixture(autouse=True)
def _single_torch_thread() -> Iterator[None]:
    """Run each core test on one intra-op thread, then restore the setting.

    The CI / dev machines share two cores between several jobs; with two OpenMP threads per process the
    spin-waiting threads make these tests several times slower in wall time (measured: 171 s vs 41 s).
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)

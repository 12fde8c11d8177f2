"""Weighted, seeded mixing of several readers."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from itertools import islice

import numpy as np
import pytest

from segany.data import Sample, SourceSpec, mix_sources, weighted_indices


class ListReader:
    """A reader over n tiny synthetic samples whose meta id is '<tag><i>'."""

    def __init__(self, tag: str, n: int) -> None:
        self.tag, self.n = tag, n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> Sample:
        return Sample(np.zeros((2, 2, 3), np.uint8), [np.ones((2, 2), bool)], {"id": f"{self.tag}{index}"})

    def __iter__(self) -> Iterator[Sample]:
        return (self[i] for i in range(self.n))


def test_same_seed_same_stream_other_seed_differs() -> None:
    a = list(weighted_indices([5, 7], [1.0, 2.0], seed=3, num_samples=50))
    b = list(weighted_indices([5, 7], [1.0, 2.0], seed=3, num_samples=50))
    c = list(weighted_indices([5, 7], [1.0, 2.0], seed=4, num_samples=50))
    assert a == b and a != c


def test_weights_set_source_frequencies() -> None:
    counts = Counter(k for k, _ in weighted_indices([3, 4], [3.0, 1.0], seed=0, num_samples=4000))
    assert abs(counts[0] / 4000 - 0.75) < 0.03


def test_each_sample_once_per_pass() -> None:
    draws = [i for k, i in islice(weighted_indices([6], [1.0], seed=1), 18)]
    for p in range(3):
        assert sorted(draws[6 * p : 6 * p + 6]) == list(range(6))
    assert draws[:6] != list(range(6)) or draws[6:12] != list(range(6))  # shuffled


def test_mix_sources_tags_meta() -> None:
    specs = [SourceSpec("a", ListReader("a", 3), 1.0), SourceSpec("b", ListReader("b", 2), 1.0)]
    samples = list(mix_sources(specs, seed=0, num_samples=20))
    assert len(samples) == 20
    for s in samples:
        assert s.meta["id"] == f"{s.meta['source']}{s.meta['source_index']}"
    assert {s.meta["source"] for s in samples} == {"a", "b"}


def test_spec_and_stream_errors() -> None:
    with pytest.raises(ValueError, match="weight"):
        SourceSpec("a", ListReader("a", 3), 0.0)
    with pytest.raises(ValueError, match="at least one sample"):
        SourceSpec("a", ListReader("a", 0))
    with pytest.raises(ValueError, match="unique"):
        list(mix_sources([SourceSpec("a", ListReader("a", 1))] * 2, seed=0, num_samples=1))
    with pytest.raises(ValueError, match="equal length"):
        list(weighted_indices([1, 2], [1.0], seed=0, num_samples=1))

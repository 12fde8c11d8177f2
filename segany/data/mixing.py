"""Mixing several readers with sampling weights into one deterministic stream of samples."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from segany.data.sample import Sample, SampleReader


@dataclass(frozen=True)
class SourceSpec:
    """One data source of a mix: a reader and its relative sampling weight (> 0)."""

    name: str
    reader: SampleReader
    weight: float = 1.0

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"name must be a non-empty string, got {self.name!r}")
        if not isinstance(self.weight, (int, float)) or not math.isfinite(self.weight) or self.weight <= 0:
            raise ValueError(
                f"weight of source {self.name!r} must be a finite number > 0, got {self.weight!r}"
            )
        if len(self.reader) == 0:
            raise ValueError(f"reader of source {self.name!r} must hold at least one sample, got 0")


def weighted_indices(
    sizes: Sequence[int], weights: Sequence[float], seed: int, num_samples: int | None = None
) -> Iterator[tuple[int, int]]:
    """Stream of (source index, sample index) pairs, deterministic given seed.

    Each step draws a source with probability weight / sum(weights); within a source, samples come in a
    seeded random order that is reshuffled after each full pass (every sample once per pass). Sources
    use independent random streams. Infinite when num_samples is None.
    """
    if len(sizes) != len(weights) or not sizes:
        raise ValueError(
            f"sizes and weights must be non-empty and of equal length, got {len(sizes)} and {len(weights)}"
        )
    if any(int(s) <= 0 for s in sizes):
        raise ValueError(f"sizes must all be > 0, got {list(sizes)}")
    w = np.asarray(weights, dtype=np.float64)
    if not np.all(np.isfinite(w)) or np.any(w <= 0):
        raise ValueError(f"weights must all be finite and > 0, got {list(weights)}")
    if num_samples is not None and num_samples < 0:
        raise ValueError(f"num_samples must be >= 0 or None, got {num_samples}")
    seeds = np.random.SeedSequence(seed).spawn(len(sizes) + 1)
    choose = np.random.default_rng(seeds[0])
    orders = [np.random.default_rng(s) for s in seeds[1:]]
    perms = [orders[k].permutation(int(n)) for k, n in enumerate(sizes)]
    cursors = [0] * len(sizes)
    probs = w / w.sum()
    count = 0
    while num_samples is None or count < num_samples:
        k = int(choose.choice(len(sizes), p=probs))
        if cursors[k] == len(perms[k]):
            perms[k] = orders[k].permutation(int(sizes[k]))
            cursors[k] = 0
        yield k, int(perms[k][cursors[k]])
        cursors[k] += 1
        count += 1


def mix_sources(specs: Sequence[SourceSpec], seed: int, num_samples: int | None = None) -> Iterator[Sample]:
    """Samples drawn from several sources by weight (see weighted_indices), deterministic given seed.

    Each yielded sample's meta gains "source" (the spec name) and "source_index" (index in its reader).
    """
    if not specs:
        raise ValueError("specs must name at least one SourceSpec, got none")
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise ValueError(f"source names must be unique, got {names}")
    sizes = [len(s.reader) for s in specs]
    for k, i in weighted_indices(sizes, [s.weight for s in specs], seed, num_samples):
        image, masks, meta = specs[k].reader[i]
        yield Sample(image, masks, {**meta, "source": specs[k].name, "source_index": i})

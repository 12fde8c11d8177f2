"""Training data: source specs -> readers, a checkpointable weighted mix, per-rank sharding, prefetching.

Source specs (strings, or JSON objects in a config file), each with an optional `@WEIGHT` suffix:
  shared:DATASET:SPLIT           a fixed split of the shared data (DATASET: horses / weizmann_horse,
                                 davis, camvid; see segany.data.shared_splits)
  folder:ROOT[:TYPE]             ROOT/images + ROOT/masks, TYPE binary (default) | instance | semantic
  coco:ANNOTATIONS.json:IMAGES   a COCO instances file and its image folder
  sa1b:DIR                       SA-1B per-image json files with their images
  {"kind": "folder", "images": DIR, "masks": DIR, "mask_type": ..., "weight": ...} and likewise
  {"kind": "coco", "annotations": ..., "images": ...}, {"kind": "sa1b", "json_dir": ..., "image_dir": ...},
  {"kind": "shared", "dataset": ..., "split": ...}.

The mix is the stream of `segany.data.mixing.weighted_indices` (same seed -> same (source, index) pairs)
in a class whose state is a few integers, so a run resumes exactly where it stopped. Rank r of W takes
stream items r, r + W, r + 2W, ... (DistributedSampler-like). Sample preparation is seeded by the item's
stream position, so prefetching threads cannot change what is produced.
"""

from __future__ import annotations

import copy
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from segany.data import CocoReader, FolderReader, SA1BReader, SampleReader, SourceSpec
from segany.data.shared_splits import split_reader
from segany.training.augment import TrainSample

DATASET_ALIASES = {"horses": "weizmann_horse", "horse": "weizmann_horse"}
MAX_EMPTY_DRAWS = 1000  # consecutive samples without a usable mask before giving up


def _split_weight(spec: str) -> tuple[str, float]:
    body, sep, weight = spec.rpartition("@")
    if not sep:
        return spec, 1.0
    try:
        return body, float(weight)
    except ValueError:
        raise ValueError(f"data source weight must be a number after '@', got {spec!r}") from None


def parse_source(spec: str | dict[str, Any], shared_root: str | Path | None = None) -> SourceSpec:
    """A `SourceSpec` (name, reader, weight) from a spec string or object (see the module docstring)."""
    if isinstance(spec, dict):
        return _source_from_object(spec, shared_root)
    if not isinstance(spec, str) or ":" not in spec:
        raise ValueError(
            f"data source must look like shared:DATASET:SPLIT, folder:ROOT[:TYPE], coco:ANN.json:IMAGES or "
            f"sa1b:DIR (optionally @WEIGHT), got {spec!r}"
        )
    body, weight = _split_weight(spec)
    kind, _, rest = body.partition(":")
    parts = rest.split(":")
    if kind == "shared":
        if len(parts) != 2:
            raise ValueError(f"shared source must be shared:DATASET:SPLIT, got {spec!r}")
        obj: dict[str, Any] = {"kind": "shared", "dataset": parts[0], "split": parts[1]}
    elif kind == "folder":
        root = Path(parts[0])
        obj = {"kind": "folder", "images": str(root / "images"), "masks": str(root / "masks")}
        if len(parts) == 2:
            obj["mask_type"] = parts[1]
        elif len(parts) > 2:
            raise ValueError(f"folder source must be folder:ROOT[:TYPE], got {spec!r}")
    elif kind == "coco":
        if len(parts) != 2:
            raise ValueError(f"coco source must be coco:ANNOTATIONS.json:IMAGE_DIR, got {spec!r}")
        obj = {"kind": "coco", "annotations": parts[0], "images": parts[1]}
    elif kind == "sa1b":
        obj = {"kind": "sa1b", "json_dir": parts[0]}
        if len(parts) == 2:
            obj["image_dir"] = parts[1]
    else:
        raise ValueError(f"data source kind must be shared, folder, coco or sa1b, got {kind!r} in {spec!r}")
    obj["weight"] = weight
    obj["name"] = body
    return _source_from_object(obj, shared_root)


def _source_from_object(obj: dict[str, Any], shared_root: str | Path | None) -> SourceSpec:
    kind = obj.get("kind")
    weight = float(obj.get("weight", 1.0))
    reader: SampleReader
    if kind == "shared":
        dataset = DATASET_ALIASES.get(str(obj["dataset"]), str(obj["dataset"]))
        reader = split_reader(dataset, str(obj["split"]), root=shared_root)
        name = obj.get("name") or f"shared:{dataset}:{obj['split']}"
    elif kind == "folder":
        reader = FolderReader(
            obj["images"],
            obj["masks"],
            mask_type=obj.get("mask_type", "binary"),
            min_area=int(obj.get("min_area", 0)),
            ignore_labels=obj.get("ignore_labels", ()),
        )
        name = obj.get("name") or f"folder:{Path(obj['images']).parent}"
    elif kind == "coco":
        reader = CocoReader(obj["annotations"], obj["images"], min_area=int(obj.get("min_area", 0)))
        name = obj.get("name") or f"coco:{obj['annotations']}"
    elif kind == "sa1b":
        reader = SA1BReader(obj["json_dir"], obj.get("image_dir"), min_area=int(obj.get("min_area", 0)))
        name = obj.get("name") or f"sa1b:{obj['json_dir']}"
    else:
        raise ValueError(f"data source object needs kind shared | folder | coco | sa1b, got {obj!r}")
    return SourceSpec(str(name), reader, weight)


def build_sources(
    specs: Sequence[str | dict[str, Any]], shared_root: str | Path | None = None
) -> list[SourceSpec]:
    if not specs:
        raise ValueError("data must name at least one source (e.g. shared:horses:train or folder:DIR)")
    sources = [parse_source(spec, shared_root) for spec in specs]
    names = [s.name for s in sources]
    if len(set(names)) != len(names):
        raise ValueError(f"data sources must be distinct, got {names}")
    return sources


class MixedSampler:
    """The (source, index) stream of `weighted_indices(sizes, weights, seed)` with a resumable state.

    Each source's order is a permutation redrawn after each full pass; the state holds the generator
    states from before the current permutations plus cursors, so it stays small for any data size.
    """

    def __init__(self, sizes: Sequence[int], weights: Sequence[float], seed: int) -> None:
        if len(sizes) != len(weights) or not sizes or any(int(s) <= 0 for s in sizes):
            raise ValueError(
                f"sizes must be positive and match weights, got {list(sizes)} and {list(weights)}"
            )
        w = np.asarray(weights, dtype=np.float64)
        if not np.all(np.isfinite(w)) or np.any(w <= 0):
            raise ValueError(f"weights must all be finite and > 0, got {list(weights)}")
        self.sizes = [int(s) for s in sizes]
        self.probs = w / w.sum()
        seeds = np.random.SeedSequence(seed).spawn(len(sizes) + 1)
        self._choose = np.random.default_rng(seeds[0])
        self._orders = [np.random.default_rng(s) for s in seeds[1:]]
        self._perm_states: list[dict[str, Any]] = []
        self._perms: list[np.ndarray] = []
        for k, n in enumerate(self.sizes):
            self._perm_states.append(copy.deepcopy(dict(self._orders[k].bit_generator.state)))
            self._perms.append(self._orders[k].permutation(n))
        self._cursors = [0] * len(self.sizes)
        self.position = 0  # items drawn so far

    def next(self) -> tuple[int, int]:
        k = int(self._choose.choice(len(self.sizes), p=self.probs))
        if self._cursors[k] == self.sizes[k]:
            self._perm_states[k] = copy.deepcopy(dict(self._orders[k].bit_generator.state))
            self._perms[k] = self._orders[k].permutation(self.sizes[k])
            self._cursors[k] = 0
        index = int(self._perms[k][self._cursors[k]])
        self._cursors[k] += 1
        self.position += 1
        return k, index

    def state_dict(self) -> dict[str, Any]:
        return {
            "sizes": list(self.sizes),
            "position": self.position,
            "choose": copy.deepcopy(dict(self._choose.bit_generator.state)),
            "perm_states": copy.deepcopy(self._perm_states),
            "cursors": list(self._cursors),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if list(state["sizes"]) != self.sizes:
            raise ValueError(
                f"data sources changed since the checkpoint: sizes {state['sizes']} vs {self.sizes}"
            )
        self._choose.bit_generator.state = copy.deepcopy(state["choose"])
        for k, perm_state in enumerate(state["perm_states"]):
            self._orders[k].bit_generator.state = copy.deepcopy(perm_state)
            self._perm_states[k] = copy.deepcopy(perm_state)
            self._perms[k] = self._orders[k].permutation(self.sizes[k])
        self._cursors = [int(c) for c in state["cursors"]]
        self.position = int(state["position"])


PrepareFn = Callable[[Any, np.random.Generator], TrainSample | None]


class TrainLoader:
    """Prepared samples of one rank's shard, in stream order, optionally prepared by threads ahead of use.

    prepare(sample, rng) -> TrainSample | None gets a generator seeded by (seed, stream position);
    samples it rejects (no usable mask) are skipped. `state_dict` is the position after the last sample
    handed out, whatever was prefetched.
    """

    def __init__(
        self,
        sources: Sequence[SourceSpec],
        prepare: PrepareFn,
        seed: int,
        rank: int = 0,
        world_size: int = 1,
        num_workers: int = 0,
    ) -> None:
        if not 0 <= rank < world_size:
            raise ValueError(f"rank must be in [0, world_size), got {rank} of {world_size}")
        self.sources = list(sources)
        self.prepare = prepare
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.sampler = MixedSampler([len(s.reader) for s in sources], [s.weight for s in sources], seed)
        self._consumed = self.sampler.state_dict()
        self._executor = ThreadPoolExecutor(num_workers) if num_workers > 0 else None
        self._lookahead = 2 * num_workers
        self._queue: deque[tuple[dict[str, Any], Future[Any] | None, tuple[int, int, int]]] = deque()

    def _draw(self) -> tuple[int, int, int]:
        """(stream position, source, index) of this rank's next item."""
        while True:
            position = self.sampler.position
            k, index = self.sampler.next()
            if position % self.world_size == self.rank:
                return position, k, index

    def _load(self, position: int, k: int, index: int) -> TrainSample | None:
        rng = np.random.default_rng([self.seed, position])
        return self.prepare(self.sources[k].reader[index], rng)

    def _enqueue(self) -> None:
        item = self._draw()
        future = self._executor.submit(self._load, *item) if self._executor else None
        self._queue.append((self.sampler.state_dict(), future, item))

    def next_sample(self) -> TrainSample:
        for _ in range(MAX_EMPTY_DRAWS):
            while len(self._queue) <= self._lookahead:
                self._enqueue()
            state, future, item = self._queue.popleft()
            prepared = future.result() if future is not None else self._load(*item)
            self._consumed = state
            if prepared is not None:
                return prepared
        raise ValueError(
            f"{MAX_EMPTY_DRAWS} samples in a row had no usable mask (all empty, > max_mask_fraction of the "
            "image, or lost to cropping): check the data sources"
        )

    def next_batch(self, batch_size: int) -> list[TrainSample]:
        return [self.next_sample() for _ in range(batch_size)]

    def state_dict(self) -> dict[str, Any]:
        return copy.deepcopy(self._consumed)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for _, future, _ in self._queue:
            if future is not None:
                future.cancel()
        self._queue.clear()
        self.sampler.load_state_dict(state)
        self._consumed = self.sampler.state_dict()

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)

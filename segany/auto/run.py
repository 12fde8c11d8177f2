"""`run_auto`: an automatic run over many images with the local or the Ray engine, resumable and idempotent.

The driver reads the input list, cuts it into shards, loads the model once to fingerprint it, checks the
output folder belongs to this model and these settings, and plans what is left (finished shards and staged
images are skipped). An engine then does the pending images; shards commit as they complete. Finally the
results index is written from the done markers, and one line is appended to the run log.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from segany.auto.boxes import Box, boxes_digest
from segany.auto.index import index_rows, write_index
from segany.auto.manifest import ImageEntry, make_shards
from segany.auto.model_source import ModelSource
from segany.auto.plan import ShardTracker, plan_run
from segany.auto.settings import RunSettings, model_fingerprint, model_version_fingerprint
from segany.auto.store import ShardStore
from segany.auto.work import ImageRow, ImageWorker

ENGINES = ("local", "ray")


@dataclass
class RunSummary:
    images: int = 0
    processed: int = 0  # images segmented (or failed) by this invocation
    skipped: int = 0  # images of finished shards, or staged by an earlier invocation
    errors: int = 0  # error rows among all images of finished shards
    masks: int = 0  # masks of all images of finished shards
    shards: int = 0
    shards_skipped: int = 0  # shards already finished before this invocation
    shards_unfinished: int = 0
    seconds: float = 0.0

    @property
    def images_per_minute(self) -> float:
        return 60.0 * self.processed / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        return (
            f"{self.images} image(s) in {self.shards} shard(s): {self.processed} processed, {self.skipped} skipped "
            f"({self.shards_skipped} shard(s) already done), {self.errors} error(s), {self.masks} masks; "
            f"{self.seconds:.1f} s, {self.images_per_minute:.1f} images/min"
        )

    def to_dict(self) -> dict[str, Any]:
        return {**vars(self), "images_per_minute": self.images_per_minute}


def run_auto(
    entries: Sequence[ImageEntry],
    out: str | Path,
    source: ModelSource,
    *,
    generator: dict[str, Any] | None = None,
    boxes: dict[str, list[Box]] | None = None,
    shard_size: int = 64,
    engine: str = "local",
    overwrite: bool = False,
    output_format: str = "sa1b",
    on_row: Callable[[ImageRow], None] | None = None,
    on_plan: Callable[[int, int], None] | None = None,
    **engine_options: Any,
) -> RunSummary:
    """Segment ``entries`` into ``out``: grid prompts (``generator`` settings) or the given ``boxes`` per id.

    Args:
        entries: the images (``segany.auto.read_manifest``).
        out: the output folder (see :mod:`segany.auto.store` for its layout).
        source: how to build the model (in this process, and in each Ray actor).
        generator: SamAutomaticMaskGenerator keyword arguments (grid mode; defaults filled in).
        boxes: XYXY boxes per image id: boxes mode (one mask per box) instead of the grid.
        shard_size: images per shard.
        engine: "local" (this process) or "ray" (see ``segany.auto.ray_engine.run_ray`` for its options).
            Both take ``worker_class``: the ImageWorker (sub)class that segments each image.
        overwrite: discard results of another model / other settings in ``out`` instead of refusing.
        output_format: "sa1b" (an SA-1B json per image) or "parquet" (a mask table per shard, see
            ``segany.formats.mask_table``); part of the settings.
        on_row: called with each image's row as it finishes (progress).
        on_plan: called once with (images to do, images skipped) before the engine starts.

    Raises:
        RunMismatchError: ``out`` holds results of another model or other settings (and not ``overwrite``).
    """
    from segany.auto.settings import effective_generator_settings

    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if boxes is not None and generator:
        raise ValueError("give generator settings (grid mode) or boxes (boxes mode), not both")
    if output_format == "parquet":
        from segany.formats.mask_table import require_pyarrow

        require_pyarrow()  # before any work, not at the first shard's commit
    start = time.perf_counter()
    settings = (
        RunSettings("boxes", shard_size, boxes_sha256=boxes_digest(boxes), output_format=output_format)
        if boxes is not None
        else RunSettings(
            "grid",
            shard_size,
            generator=effective_generator_settings(generator or {}),
            output_format=output_format,
        )
    )
    # The driver of a Ray run only fingerprints the model: on the CPU, which a head node without GPUs has.
    model, description = (source if engine == "local" else replace(source, device="cpu")).load()
    identity = {
        "settings": settings.to_dict(),
        "settings_sha256": settings.digest(),
        "model_fingerprint": model_fingerprint(model),
        "model": str(description),
        # For the data engine's import: a --model value that reproduces the model, and the fingerprint that
        # `segany serve` and the engine's model versions give it (another hash than model_fingerprint).
        "model_spec": description.spec,
        "model_version_fingerprint": model_version_fingerprint(model),
    }
    output = Path(out)
    output.mkdir(parents=True, exist_ok=True)
    store = ShardStore(output, identity)
    store.check_identity(overwrite)
    shards = make_shards(entries, shard_size)
    plan = plan_run(store, shards, boxes)
    tracker = ShardTracker(store, plan)
    summary = RunSummary(images=len(entries), shards=len(shards), shards_skipped=len(plan.done))
    summary.skipped = len(entries) - len(plan.todo)
    if on_plan is not None:
        on_plan(len(plan.todo), summary.skipped)

    def record(row: ImageRow) -> None:
        summary.processed += 1
        if on_row is not None:
            on_row(row)

    if engine == "local":
        from segany.auto.local_engine import run_local

        worker_class = engine_options.pop("worker_class", ImageWorker)
        if engine_options:
            raise TypeError(f"the local engine takes only worker_class, got {sorted(engine_options)}")
        run_local(plan, tracker, store, worker_class(model, settings), record)
    else:
        from segany.auto.ray_engine import run_ray

        del model  # each actor builds its own
        run_ray(plan, tracker, store, source, settings, record, **engine_options)
    committed = [
        (shard.name, tracker.committed[shard.name]) for shard in shards if shard.name in tracker.committed
    ]
    rows = index_rows(committed, settings.output_format)
    write_index(output, rows)
    summary.errors = sum(row.error is not None for row in rows)
    summary.masks = sum(row.masks for row in rows)
    summary.shards_unfinished = len(tracker.unfinished)
    summary.seconds = time.perf_counter() - start
    store.tidy()
    store.append_log({"engine": engine, "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **summary.to_dict()})
    return summary

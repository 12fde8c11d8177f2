"""The local executor (the default): every pending image in this process, shard after shard."""

from __future__ import annotations

from collections.abc import Callable

from segany.auto.plan import RunPlan, ShardTracker
from segany.auto.store import ShardStore
from segany.auto.work import ImageRow, ImageWorker, decode_image, run_image


def run_local(
    plan: RunPlan,
    tracker: ShardTracker,
    store: ShardStore,
    worker: ImageWorker,
    on_row: Callable[[ImageRow], None],
) -> None:
    """Decode, segment and stage each pending image in input order; shards commit as they complete."""
    tracker.commit_ready()
    for task in plan.todo:
        image, error = decode_image(task.uri)
        row = run_image(worker, task, image, error, store.stage)
        tracker.add(task.shard, row)
        on_row(row)

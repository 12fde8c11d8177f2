"""What is left to do in a run, and the driver's bookkeeping while engines do it.

``plan_run`` splits the shards into finished ones (valid done marker: skipped whole) and pending ones, with
the images of each pending shard already staged by an interrupted run (skipped too). ``ShardTracker``
collects rows as an engine returns them and commits a shard the moment its last image is in; a row that
arrives twice (a retried task) is counted once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from segany.auto.boxes import Box
from segany.auto.manifest import Shard
from segany.auto.store import ShardStore
from segany.auto.work import ImageRow, ImageTask, tasks_of


@dataclass
class PendingShard:
    shard: Shard
    tasks: list[ImageTask]  # images still to do
    rows: dict[str, ImageRow] = field(default_factory=dict)  # images done, by id


@dataclass
class RunPlan:
    done: dict[str, list[ImageRow]]  # finished shards' rows, by shard name
    pending: list[PendingShard]

    @property
    def todo(self) -> list[ImageTask]:
        return [task for item in self.pending for task in item.tasks]

    @property
    def staged(self) -> int:
        return sum(len(item.rows) for item in self.pending)


def plan_run(store: ShardStore, shards: Sequence[Shard], boxes: dict[str, list[Box]] | None) -> RunPlan:
    done: dict[str, list[ImageRow]] = {}
    pending = []
    for shard in shards:
        rows = store.done_rows(shard)
        if rows is not None:
            done[shard.name] = rows
            store.discard_staging(shard.name)  # left by a run stopped between the marker and the clean-up
            continue
        tasks = tasks_of(shard.entries, shard.name, boxes)
        staged = store.staged_rows(tasks)
        pending.append(PendingShard(shard, [task for task in tasks if task.id not in staged], staged))
    return RunPlan(done, pending)


class ShardTracker:
    """Rows per pending shard; commits each shard (rename + marker) once all its images have rows."""

    def __init__(self, store: ShardStore, plan: RunPlan) -> None:
        self.store = store
        self.pending = {item.shard.name: item for item in plan.pending}
        self.committed: dict[str, list[ImageRow]] = dict(plan.done)

    def commit_ready(self) -> None:
        """Commit shards with nothing left (all staged before this run, or empty)."""
        for name in [name for name, item in self.pending.items() if self._complete(item)]:
            self._commit(name)

    def add(self, shard: str, row: ImageRow) -> bool:
        """Record one image's row; returns False for a duplicate (already recorded or already committed)."""
        item = self.pending.get(shard)
        if item is None or row.id in item.rows:
            return False
        item.rows[row.id] = row
        if self._complete(item):
            self._commit(shard)
        return True

    @property
    def unfinished(self) -> list[str]:
        return sorted(self.pending)

    def _complete(self, item: PendingShard) -> bool:
        return all(entry.id in item.rows for entry in item.shard.entries)

    def _commit(self, name: str) -> None:
        item = self.pending.pop(name)
        rows = [item.rows[entry.id] for entry in item.shard.entries]
        self.store.commit(item.shard, rows)
        self.committed[name] = rows

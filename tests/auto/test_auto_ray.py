"""`segany auto` on Ray: a real 2-node local cluster (one per module), outputs identical to the local engine,
a driver killed with SIGKILL mid-run and re-run, and the worker node removed mid-run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import auto_testing
import pytest
from auto_testing import SlowWorker, local_reference, output_bytes, run_photos

ray = pytest.importorskip("ray", reason="the Ray tests need the scale extra: pip install 'segany[scale]'")

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
SHARD = 2  # 10 photos -> 5 shards
OBJECT_STORE = 80 * 2**20
TESTS_DIR = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[Any, Any]]:
    """A head and one worker node, 2 logical CPUs each; this process connects to it as a driver."""
    from ray.cluster_utils import Cluster

    from segany.auto.ray_engine import import_ray

    import_ray()
    # Workers unpickle SlowWorker by value: tests/auto is not on their import path.
    ray.cloudpickle.register_pickle_by_value(auto_testing)
    head = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 2, "object_store_memory": OBJECT_STORE, "include_dashboard": False},
    )
    worker = head.add_node(num_cpus=2, object_store_memory=OBJECT_STORE)
    head.wait_for_nodes()
    ray.init(address=head.address, log_to_driver=False, logging_level="WARNING")
    yield head, worker
    ray.shutdown()
    head.shutdown()


@pytest.fixture(scope="module")
def reference(
    tmp_path_factory: pytest.TempPathFactory, photos: Path, tiny_checkpoint: Path
) -> dict[str, bytes]:
    return local_reference(photos, tmp_path_factory.mktemp("ray_reference") / "out", tiny_checkpoint, SHARD)


def test_ray_gives_the_local_engines_bytes(
    cluster: Any, reference: dict[str, bytes], photos: Path, tiny_checkpoint: Path, tmp_path: Path
) -> None:
    seen: list[str] = []
    summary = run_photos(
        photos,
        tmp_path / "out",
        tiny_checkpoint,
        SHARD,
        engine="ray",
        workers=2,
        on_row=lambda row: seen.append(row.id),
    )
    assert sorted(seen) == [f"img_{i:02d}.png" for i in range(10)]
    assert summary.processed == 10 and summary.errors == 1 and summary.shards_unfinished == 0
    assert output_bytes(tmp_path / "out") == reference
    assert "shards/000001/img_03.png.error.json" in reference  # the corrupt photo is an error row


def test_ray_writes_the_local_engines_parquet_tables(
    cluster: Any, photos: Path, tiny_checkpoint: Path, tmp_path: Path
) -> None:
    pytest.importorskip("pyarrow.parquet")
    local = local_reference(photos, tmp_path / "local", tiny_checkpoint, SHARD, output_format="parquet")
    run_photos(
        photos, tmp_path / "ray", tiny_checkpoint, SHARD, engine="ray", workers=2, output_format="parquet"
    )
    assert sorted(name for name in local if name.endswith(".parquet")) == [
        f"shards/{index:06d}.parquet" for index in range(5)
    ]
    assert output_bytes(tmp_path / "ray") == local


DRIVER = """
import sys
import ray
import auto_testing
from auto_testing import GRID, SlowWorker
from segany.auto import ModelSource, read_manifest, run_auto

address, photos, out, checkpoint, shard = sys.argv[1:6]
ray.cloudpickle.register_pickle_by_value(auto_testing)
ray.init(address=address, log_to_driver=False, logging_level="WARNING")
run_auto(read_manifest(photos), out, ModelSource(checkpoint), generator=GRID, shard_size=int(shard), engine="ray",
         workers=2, worker_class=SlowWorker)
"""


def _markers(out: Path) -> dict[str, tuple[int, bytes]]:
    return {
        path.name: (path.stat().st_mtime_ns, path.read_bytes())
        for path in (out / "shards").glob("*.done.json")
    }


def test_driver_killed_mid_run_then_rerun_redoes_only_unfinished_shards(
    cluster: Any, reference: dict[str, bytes], photos: Path, tiny_checkpoint: Path, tmp_path: Path
) -> None:
    head, _ = cluster
    out = tmp_path / "out"
    argv = [
        sys.executable,
        "-c",
        DRIVER,
        head.address,
        str(photos),
        str(out),
        str(tiny_checkpoint),
        str(SHARD),
    ]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS_DIR), os.environ.get("PYTHONPATH", "")])}
    driver = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    try:
        while not _markers(out):
            assert driver.poll() is None, driver.stderr.read().decode()[-2000:] if driver.stderr else ""
            assert time.monotonic() < deadline, "no shard finished in time"
            time.sleep(0.05)
    finally:
        driver.send_signal(signal.SIGKILL)
        driver.wait()
    done_at_kill = _markers(out)
    assert 1 <= len(done_at_kill) < 5, "the driver must die with work left"
    time.sleep(2)  # let Ray reap the dead job's actors
    done_shards = {name.split(".")[0] for name in done_at_kill}
    done_ids = {f"img_{i:02d}.png" for i in range(10) if f"{i // SHARD:06d}" in done_shards}

    seen: list[str] = []
    summary = run_photos(
        photos,
        out,
        tiny_checkpoint,
        SHARD,
        engine="ray",
        workers=2,
        on_row=lambda row: seen.append(row.id),
    )
    assert not set(seen) & done_ids, "a finished shard was recomputed"
    assert len(seen) == len(set(seen)) == summary.processed
    assert summary.processed + summary.skipped == 10 and summary.shards_skipped == len(done_at_kill)
    after = _markers(out)
    for name, (mtime, data) in done_at_kill.items():
        assert after[name] == (mtime, data), f"{name} was rewritten"
    assert output_bytes(out) == reference


def test_worker_node_removed_mid_run_loses_and_duplicates_nothing(
    cluster: Any,
    reference: dict[str, bytes],
    photos: Path,
    tiny_checkpoint: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    head, worker = cluster
    out = tmp_path / "out"
    nodes_log = tmp_path / "nodes"
    nodes_log.mkdir()
    monkeypatch.setattr(SlowWorker, "node_log", str(nodes_log))
    seen: list[str] = []
    outcome: dict[str, Any] = {}
    worker_id = next(
        node["NodeID"] for node in ray.nodes() if node["NodeManagerPort"] == worker.node_manager_port
    )

    def ran_on() -> set[str]:
        return {line for log in nodes_log.iterdir() for line in log.read_text().split()}

    def drive() -> None:
        try:
            outcome["summary"] = run_photos(
                photos,
                out,
                tiny_checkpoint,
                SHARD,
                engine="ray",
                workers=2,
                worker_class=SlowWorker,
                on_row=lambda row: seen.append(row.id),
            )
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test thread
            outcome["error"] = exc

    thread = threading.Thread(target=drive, daemon=True)
    thread.start()
    deadline = time.monotonic() + 240
    while worker_id not in ran_on():  # remove the node while it segments an image
        assert thread.is_alive() and time.monotonic() < deadline, outcome.get(
            "error", "nothing ran on the worker"
        )
        time.sleep(0.05)
    removed_at = len(seen)
    head.remove_node(worker)
    thread.join(300)
    assert not thread.is_alive(), "the run did not finish after the node was removed"
    if "error" in outcome:
        raise outcome["error"]
    assert removed_at < 10, "the node must be removed with work left"
    assert sorted(seen) == [f"img_{i:02d}.png" for i in range(10)]  # each image exactly once
    summary = outcome["summary"]
    assert summary.processed == 10 and summary.shards_unfinished == 0
    assert output_bytes(out) == reference
    assert len(ray.nodes()) == 2 and sum(node["Alive"] for node in ray.nodes()) == 1

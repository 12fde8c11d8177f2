"""Background work (gallery pre-encoding, everything jobs) runs at a lower CPU priority than requests, and
stopping the server answers every waiter.

Priorities are read back from the kernel (/proc/self/task/<tid>/stat), not from the server's own notes.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest
from server_testing import FIXTURES_DIR, make_client, post_json

from segany.modeling.sam import Sam
from segany.server.embeddings import BACKGROUND, URGENT

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="thread priorities: Linux only")


def task_nice(native_id: int) -> int:
    """Field 19 of /proc/self/task/<tid>/stat: the thread's nice value as the scheduler sees it."""
    stat = Path(f"/proc/self/task/{native_id}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[16])


def test_background_threads_are_niced_and_request_threads_are_not(
    small_sam: Sam, gallery_dir: Path, tmp_path: Path
) -> None:
    base = os.getpriority(os.PRIO_PROCESS, 0)
    with make_client(small_sam, tmp_path, images_dir=gallery_dir) as client:
        state = client.app.state.segany  # type: ignore[attr-defined]
        image_id = client.get("/api/images").json()[0]["id"]
        assert (
            post_json(client, f"/api/images/{image_id}/everything", {"points_per_side": 2}).status_code == 200
        )
        deadline = time.monotonic() + 60
        while (len(state.embeddings.worker_native_ids) < 2 or state.jobs.worker_native_id is None) and (
            time.monotonic() < deadline
        ):
            time.sleep(0.05)
        ids = state.embeddings.worker_native_ids
        assert task_nice(ids[URGENT]) == base
        assert task_nice(ids[BACKGROUND]) == 19
        assert task_nice(state.jobs.worker_native_id) == min(19, base + 10)


def test_closing_answers_every_waiter(small_sam: Sam, tmp_path: Path) -> None:
    """Images still queued when the server stops must not leave their waiters (an everything job) hanging."""
    from concurrent.futures import wait

    from segany.server.embeddings import ShuttingDown

    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("chelsea.jpg", "astronaut.jpg", "dog.jpg", "rocket_portrait.jpg"):
        (folder / name).write_bytes((FIXTURES_DIR / name).read_bytes())
    with make_client(small_sam, tmp_path / "cache", images_dir=folder) as client:
        state = client.app.state.segany  # type: ignore[attr-defined]
        entries = state.images.entries()
        futures = [state.embeddings.request(entry) for entry in entries]
    _, not_done = wait(futures, timeout=120)
    assert not not_done
    outcomes = [f.exception() for f in futures]
    assert all(error is None or isinstance(error, ShuttingDown) for error in outcomes)
    assert any(isinstance(error, ShuttingDown) for error in outcomes)  # closed before the queue ran out
    # An image not encoded is refused after the close, not queued for a worker that is gone.
    unencoded = next(entry for entry, error in zip(entries, outcomes) if error is not None)
    assert isinstance(state.embeddings.request(unencoded, urgent=True).exception(timeout=1), ShuttingDown)


def test_encode_ahead_waits_while_the_user_prompts(small_sam: Sam, tmp_path: Path) -> None:
    """While prompts (or the page's activity pings) keep coming, the background encoder holds at its next
    encoder block and goes on once they stop; an image a request waits on is encoded meanwhile."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("chelsea.jpg", "dog.jpg"):
        (folder / name).write_bytes((FIXTURES_DIR / name).read_bytes())
    with make_client(small_sam, tmp_path / "cache", images_dir=folder) as client:
        state = client.app.state.segany  # type: ignore[attr-defined]
        cache = state.embeddings
        ahead, opened = state.images.entries()
        assert client.post("/api/activity").status_code == 403  # a mutating request without the CSRF header
        pinged = client.post("/api/activity", headers={"X-Segany-Client": "1"})
        assert pinged.status_code == 204 and pinged.content == b""
        future = cache.request(ahead)  # encode-ahead, while the user keeps prompting
        deadline = time.monotonic() + 60
        while cache.background_pauses == 0 and time.monotonic() < deadline:
            cache.note_activity(hold_s=0.5)
            time.sleep(0.05)
        assert cache.background_pauses == 1
        for _ in range(20):  # 1 s more of pings: an unpaused segany_small encodes a photo in well under that
            cache.note_activity(hold_s=0.5)
            time.sleep(0.05)
        assert not future.done() and cache.state(ahead.id) == "pending"
        cache.note_activity(hold_s=10.0)
        assert cache.get(opened).image_id == opened.id  # the urgent worker is not held
        assert not future.done()
        assert client.get("/api/info").json()["cache"]["encode_ahead_pauses"] == 1
        assert future.result(timeout=60).image_id == ahead.id  # goes on once the hold has passed


def test_stopping_wakes_a_paused_encode_ahead(small_sam: Sam, tmp_path: Path) -> None:
    from segany.server.embeddings import ShuttingDown

    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "dog.jpg").write_bytes((FIXTURES_DIR / "dog.jpg").read_bytes())
    with make_client(small_sam, tmp_path / "cache", images_dir=folder) as client:
        cache = client.app.state.segany.embeddings  # type: ignore[attr-defined]
        cache.note_activity(hold_s=300.0)
        future = cache.request(cache.store.entries()[0])
        deadline = time.monotonic() + 60
        while cache.background_pauses == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert cache.background_pauses == 1
        stopping = time.monotonic()
    assert time.monotonic() - stopping < 30  # not the 300 s hold
    assert isinstance(future.exception(timeout=1), ShuttingDown)

"""Everything-mode jobs: run `SamAutomaticMaskGenerator` off the request path, with progress and cancel.

Jobs run one at a time in their own worker thread (queued ones wait), with their own predictor, at a lower
CPU priority; hover and click requests meanwhile keep being served by the request threads (torch releases
the GIL while it computes). The whole-image crop reuses the cached embedding instead of encoding the image again.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from segany.amg import SamAutomaticMaskGenerator
from segany.embedding_file import ImageEmbedding
from segany.modeling.sam import Sam
from segany.server.priority import lower_thread_priority
from segany.server.threads import compute_threads, use_compute_threads

MAX_KEPT_JOBS = 32  # finished jobs kept for their results, oldest dropped first
JOB_NICE_INCREMENT = 10


class JobCancelled(Exception):
    """Raised from the progress callback to stop a generator that was asked to stop."""


@dataclass
class Job:
    job_id: str
    image_id: str
    preset: str
    overrides: dict[str, Any] = field(default_factory=dict)  # generator settings replacing the preset's
    state: str = "queued"  # queued | running | done | failed | cancelled
    progress: float = 0.0
    error: str | None = None
    result: list[dict[str, Any]] | None = None
    size: tuple[int, int] = (0, 0)  # (H, W)
    cancel: threading.Event = field(default_factory=threading.Event)


class JobManager:
    def __init__(self, sam: Sam) -> None:
        self.sam = sam
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()
        self.worker_native_id: int | None = None  # the job thread's OS id, once it started (for tests)
        self._threads = compute_threads()  # the job thread's intra-op threads (segany.server.threads)
        # The job thread runs at a lower CPU priority (nice +10): a long run never slows hovering elsewhere.
        self._executor = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="segany-everything", initializer=self._start_worker
        )

    def submit(
        self,
        image_id: str,
        preset: str,
        inputs: Callable[[], tuple[np.ndarray, ImageEmbedding]],
        overrides: dict[str, Any] | None = None,
    ) -> Job:
        """Queue a job; `inputs` gives the image pixels and its embedding (called in the worker thread)."""
        job = Job(uuid.uuid4().hex, image_id, preset, dict(overrides or {}))
        with self._lock:
            self._jobs[job.job_id] = job
            self._forget_old()
        self._executor.submit(self._run, job, inputs)
        return job

    def _start_worker(self) -> None:
        self.worker_native_id = threading.get_native_id()
        lower_thread_priority(JOB_NICE_INCREMENT)
        use_compute_threads(self._threads)

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def cancel(self, job_id: str) -> Job | None:
        job = self.get(job_id)
        if job is not None:
            job.cancel.set()
            with self._lock:
                if job.state == "queued":
                    job.state = "cancelled"
        return job

    def shutdown(self) -> None:
        with self._lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            job.cancel.set()
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _run(self, job: Job, inputs: Callable[[], tuple[np.ndarray, ImageEmbedding]]) -> None:
        with self._lock:
            if job.state != "queued":
                return
            job.state = "running"

        def report(fraction: float) -> None:
            if job.cancel.is_set():
                raise JobCancelled
            job.progress = fraction

        try:
            pixels, embedding = inputs()
            generator = SamAutomaticMaskGenerator.from_preset(
                self.sam, job.preset, output_mode="uncompressed_rle", **job.overrides
            )
            records = generator.generate(pixels, progress=report, embedding=embedding)
        except JobCancelled:
            job.state = "cancelled"
            return
        except Exception as exc:  # noqa: BLE001 - any failure fails the job, never the server
            job.error = " ".join(f"{type(exc).__name__}: {exc}".split())
            job.state = "failed"
            return
        job.result, job.size, job.progress = records, (int(pixels.shape[0]), int(pixels.shape[1])), 1.0
        job.state = "done" if not job.cancel.is_set() else "cancelled"

    def _forget_old(self) -> None:
        finished = [key for key, job in self._jobs.items() if job.state in ("done", "failed", "cancelled")]
        for key in finished[: max(0, len(self._jobs) - MAX_KEPT_JOBS)]:
            del self._jobs[key]

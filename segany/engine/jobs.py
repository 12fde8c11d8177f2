"""Stage jobs (pre-fill, automatic, detector boxes) kept in the database so that they survive a crash.

One worker thread runs queued jobs image by image. Each image's masks are added in ONE transaction with
idempotency keys `<job>:<image>:<i>`, and an image whose masks are already in the database is skipped: after a
`kill -9` the job resumes where it stopped (`JobRunner.start` re-queues jobs left `running`), losing nothing
that was committed and adding nothing twice.
"""

from __future__ import annotations

import logging
import threading
import uuid
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from segany.engine import annotating
from segany.engine.errors import Invalid, NotFound
from segany.engine.models import JOB_KINDS, Annotation, Image, Job, utc_now
from segany.engine.projects import project_images
from segany.engine.stages import DetectorBox, box_masks, generated_masks, generator_params
from segany.engine.store import Store
from segany.modeling.sam import Sam

LOGGER = logging.getLogger("segany.engine")
_FINISHED = ("done", "failed", "cancelled")


def submit(
    store: Store,
    project_id: int,
    kind: str,
    params: dict[str, Any],
    user_id: int | None,
    model_version_id: int | None,
) -> Job:
    """Queue a job (validated now, run by the worker). Raises Invalid for a bad kind or parameters."""
    if kind not in JOB_KINDS:
        raise Invalid(f"kind must be one of {JOB_KINDS}, got {kind!r}", "kind")
    if kind == "boxes":
        if not isinstance(params.get("boxes"), dict):
            raise Invalid(
                "a boxes job needs params.boxes: {image_id: [[x0, y0, x1, y1, label, score], ...]}", "params"
            )
    else:
        generator_params(params)
    with store.transaction() as db:
        job = Job(
            id=uuid.uuid4().hex,
            project_id=project_id,
            kind=kind,
            state="queued",
            progress=0.0,
            params=params,
            model_version_id=model_version_id,
            created_by=user_id,
        )
        db.add(job)
    return job


def cancel(store: Store, project_id: int, job_id: str) -> Job:
    with store.transaction() as db:
        job = get(db, project_id, job_id)
        if job.state not in _FINISHED:
            job.state, job.updated_at = "cancelled", utc_now()
        return job


def get(db: Session, project_id: int, job_id: str) -> Job:
    job = db.get(Job, job_id)
    if job is None or job.project_id != project_id:
        raise NotFound(f"unknown job {job_id!r} in project {project_id}")
    return job


class JobRunner:
    """The worker thread; `wake()` after a submit, `stop()` at shutdown, `use()` on a model switch.

    A job runs with the model the runner holds when the job starts (a switch during a job applies to the
    next one), and the job and its masks are tagged with that model's version.
    """

    def __init__(self, store: Store, sam: Sam, model_version_id: int | None = None) -> None:
        self.store = store
        self.sam = sam
        self.model_version_id = model_version_id
        self._model_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="segany-engine-jobs", daemon=True)

    def start(self) -> None:
        with self.store.transaction() as db:  # jobs a crash left running go again (finished images skipped)
            db.execute(update(Job).where(Job.state == "running").values(state="queued"))
        self._thread.start()
        self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    def use(self, sam: Sam, model_version_id: int | None) -> None:
        """Run the jobs started from now on with `sam` (registered as `model_version_id`)."""
        with self._model_lock:
            self.sam, self.model_version_id = sam, model_version_id

    def _current_model(self) -> tuple[Sam, int | None]:
        with self._model_lock:
            return self.sam, self.model_version_id

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=30)

    def run_pending(self) -> int:
        """Run queued jobs to the end in this thread (CLI, tests); returns how many ran."""
        count = 0
        while not self._stop.is_set():
            with self.store.transaction() as db:
                job = db.scalar(select(Job).where(Job.state == "queued").order_by(Job.created_at).limit(1))
                if job is None:
                    return count
                job.state, job.updated_at = "running", utc_now()
                job_id = job.id
            self._run(job_id)
            count += 1
        return count

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(timeout=2.0)
            self._wake.clear()
            try:
                self.run_pending()
            except Exception:
                LOGGER.exception("job worker failed")

    def _run(self, job_id: str) -> None:
        try:
            self._run_images(job_id)
        except Exception as exc:
            LOGGER.exception("job %s failed", job_id)
            with self.store.transaction() as db:
                job = db.get(Job, job_id)
                if job is not None:
                    job.state, job.error = "failed", " ".join(f"{type(exc).__name__}: {exc}".split())
                    job.updated_at = utc_now()
            return
        with self.store.transaction() as db:
            job = db.get(Job, job_id)
            if job is not None and job.state == "running":
                job.state, job.progress, job.updated_at = "done", 1.0, utc_now()

    def _run_images(self, job_id: str) -> None:
        sam, runner_version = self._current_model()
        with self.store.transaction() as db:
            job = db.get(Job, job_id)
            if job is None:
                return
            if runner_version is not None:
                job.model_version_id = runner_version  # the model this job really runs with
            images = [image for image in project_images(db, job.project_id) if _wanted(job, image)]
            kind, params, version = job.kind, dict(job.params), job.model_version_id
        for position, image in enumerate(images):
            if self._cancelled(job_id):
                return
            if not self._already_done(job_id, image.id):
                pixels = self.store.blobs.load(image.blob_name)
                prefix = f"{job_id}:{image.id}"
                if kind == "boxes":
                    boxes = _boxes(params["boxes"].get(str(image.id), []))
                    new = box_masks(sam, pixels, boxes, prefix, version, job_id)
                else:
                    source = "prefilled" if kind == "prefill" else "automatic"
                    new = generated_masks(
                        sam, pixels, generator_params(params), source, prefix, version, job_id
                    )
                with self.store.transaction() as db:  # one image's masks all land, or none
                    fresh = db.get(Image, image.id)
                    if fresh is None:
                        continue
                    for item in new:
                        annotating.create(db, fresh, item, user_id=None)
                    annotating.record_event(
                        db,
                        image.project_id,
                        kind if kind != "boxes" else "prefill",
                        None,
                        image.id,
                        None,
                        {"job_id": job_id, "masks": len(new), "done": True},
                    )
            with self.store.transaction() as db:
                db.execute(
                    update(Job)
                    .where(Job.id == job_id, Job.state == "running")
                    .values(progress=(position + 1) / len(images), updated_at=utc_now())
                )

    def _cancelled(self, job_id: str) -> bool:
        with self.store.session() as db:
            return db.scalar(select(Job.state).where(Job.id == job_id)) != "running" or self._stop.is_set()

    def _already_done(self, job_id: str, image_id: int) -> bool:
        """True when this job's transaction for the image committed (its event row is written with the masks)."""
        from segany.engine.models import AnnotationEvent

        with self.store.session() as db:
            rows = db.scalars(
                select(AnnotationEvent.payload).where(
                    AnnotationEvent.image_id == image_id, AnnotationEvent.kind.in_(("prefill", "automatic"))
                )
            )
            return any(payload.get("job_id") == job_id for payload in rows)


def _wanted(job: Job, image: Image) -> bool:
    wanted = job.params.get("image_ids")
    if job.kind == "boxes":
        return str(image.id) in job.params.get("boxes", {})
    return wanted is None or image.id in wanted


def _boxes(rows: list[Any]) -> list[DetectorBox]:
    boxes = []
    for row in rows:
        label = row[4] if len(row) > 4 else None
        score = float(row[5]) if len(row) > 5 and row[5] is not None else None
        boxes.append(DetectorBox((float(row[0]), float(row[1]), float(row[2]), float(row[3])), label, score))
    return boxes


def job_masks(db: Any, job_id: str) -> int:
    return int(
        db.scalar(select(func.count()).select_from(Annotation).where(Annotation.job_id == job_id)) or 0
    )

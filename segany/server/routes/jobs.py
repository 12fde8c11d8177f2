"""Everything mode as a job: start, poll, fetch the result, cancel."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from segany.embedding_file import ImageEmbedding
from segany.server.errors import ApiError, not_found
from segany.server.jobs import Job
from segany.server.routes.common import Image, State
from segany.server.schemas import EverythingIn, EverythingOut, JobCreated, JobOut

router = APIRouter()
JobId = Annotated[str, Path(min_length=1, max_length=64)]


@router.post("/api/images/{id}/everything", response_model=JobCreated)
def start_everything(state: State, entry: Image, body: EverythingIn) -> dict[str, str]:
    def inputs() -> tuple[Any, ImageEmbedding]:
        return state.images.load_pixels(entry), state.embeddings.get(entry).embedding

    return {"job_id": state.jobs.submit(entry.id, body.preset, inputs, body.overrides()).job_id}


@router.get("/api/jobs/{job_id}", response_model=JobOut)
def job_state(state: State, job_id: JobId) -> dict[str, Any]:
    return job_out(_job(state, job_id))


@router.get("/api/jobs/{job_id}/result", response_model=EverythingOut)
def job_result(state: State, job_id: JobId) -> dict[str, Any]:
    job = _job(state, job_id)
    if job.state != "done" or job.result is None:
        raise ApiError(409, f"job {job_id!r} is {job.state}, not done", None)
    height, width = job.size
    masks = []
    for record in job.result:
        rle = record["segmentation"]
        masks.append(
            {
                "size": rle["size"],
                "counts": rle["counts"],
                "bbox": record["bbox"],
                "area": record["area"],
                "predicted_iou": record["predicted_iou"],
                "stability_score": record["stability_score"],
            }
        )
    return {"width": width, "height": height, "masks": masks}


@router.delete("/api/jobs/{job_id}", response_model=JobOut)
def cancel_job(state: State, job_id: JobId) -> dict[str, Any]:
    job = state.jobs.cancel(job_id)
    if job is None:
        raise not_found("job", job_id)
    return job_out(job)


def job_out(job: Job) -> dict[str, Any]:
    return {"job_id": job.job_id, "state": job.state, "progress": job.progress, "error": job.error}


def _job(state: State, job_id: str) -> Job:
    job = state.jobs.get(job_id)
    if job is None:
        raise not_found("job", job_id)
    return job

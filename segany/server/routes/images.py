"""Images: list, upload, the displayed file, background encoding and the raw embedding."""

from __future__ import annotations

from typing import Literal

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile as StarletteUploadFile

from segany.server.errors import ApiError
from segany.server.image_store import ImageEntry, browser_image
from segany.server.routes.common import Image, State, encoded_failure
from segany.server.schemas import EncodeOut, ImageOut

router = APIRouter()
_READ_CHUNK = 1 << 20


def image_out(entry: ImageEntry) -> dict[str, object]:
    return {"id": entry.id, "name": entry.name, "width": entry.width, "height": entry.height}


@router.get("/api/images", response_model=list[ImageOut])
def list_images(state: State) -> list[dict[str, object]]:
    return [image_out(entry) for entry in state.images.entries()]


_UPLOAD_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            }
        },
    }
}


@router.post("/api/images", response_model=ImageOut, openapi_extra=_UPLOAD_SCHEMA)
async def upload_image(state: State, request: Request) -> dict[str, object]:
    """Multipart field `file`. The same bytes always give the same id."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        raise ApiError(
            415, f"upload as multipart/form-data with a field 'file', got {content_type!r}", "file"
        )
    async with request.form(max_files=1, max_fields=4) as form:
        file = form.get("file")
        if not isinstance(file, StarletteUploadFile):
            raise ApiError(422, "field 'file' (an image file) is missing from the form", "file")
        limit = state.settings.max_upload_bytes
        chunks, size = [], 0
        while chunk := await file.read(_READ_CHUNK):
            size += len(chunk)
            if size > limit:
                raise ApiError(413, f"file is larger than the upload limit of {limit:,} bytes", "file")
            chunks.append(chunk)
        name = file.filename or "upload"
    if size == 0:
        raise ApiError(400, "file is empty (0 bytes)", "file")
    entry = await run_in_threadpool(state.images.add_bytes, b"".join(chunks), name)
    return image_out(entry)


@router.get("/api/images/{id}/file", response_class=Response)
def image_file(state: State, entry: Image) -> Response:
    """The image as a browser shows it with load_image's pixels (EXIF orientation applied)."""
    data, media = browser_image(entry, lambda: state.images.load_pixels(entry))
    return Response(data, media_type=media, headers={"Cache-Control": "private, max-age=86400, immutable"})


@router.post("/api/images/{id}/encode", response_model=EncodeOut)
def start_encoding(
    state: State, entry: Image, priority: Literal["now", "ahead"] = "ahead"
) -> dict[str, object]:
    """Queue the image for the encoder (no-op when ready or queued) and answer at once.

    `priority=now`: the photo the user opened, encoded next at normal CPU priority; `ahead` (default): a
    head start on a photo the user may open, encoded when nothing more urgent waits, at the lowest priority.
    """
    state.embeddings.request(entry, urgent=priority == "now")
    return encode_state(state, entry)


@router.get("/api/images/{id}/encode", response_model=EncodeOut)
def encoding_state(state: State, entry: Image) -> dict[str, object]:
    return encode_state(state, entry)


def encode_state(state: State, entry: ImageEntry) -> dict[str, object]:
    current = state.embeddings.state(entry.id)
    if current == "failed":
        return {"id": entry.id, "state": "failed", "error": state.embeddings.failure(entry.id)}
    return {"id": entry.id, "state": current, "error": None}


@router.get(
    "/api/images/{id}/embedding",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def embedding(state: State, entry: Image) -> Response:
    """float32 little-endian, C order, shape in X-Embedding-Shape; waits for the encoder."""
    try:
        encoded = state.embeddings.get(entry)
    except (ValueError, OSError) as exc:
        raise encoded_failure(exc) from exc
    record = encoded.embedding
    array = np.ascontiguousarray(record.embedding, dtype="<f4")
    headers = {
        "X-Embedding-Shape": ",".join(str(n) for n in array.shape),
        "X-Input-Size": f"{record.input_size[0]},{record.input_size[1]}",
        "X-Original-Size": f"{record.original_size[0]},{record.original_size[1]}",
        "Cache-Control": "no-store",
    }
    return Response(array.tobytes(), media_type="application/octet-stream", headers=headers)

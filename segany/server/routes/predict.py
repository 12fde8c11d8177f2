"""`POST /api/images/{id}/predict`: points / box / previous logits -> masks (uncompressed RLE) and scores;
`POST /api/images/{id}/hover`: one positive point -> the best candidate's mask as binary RLE (the hot path).

The decoder runs through the image's cached `SamPredictor` (the low-rank decoder); nothing of one request
is stored in it. The low-res logits are kept in the prediction cache for a later "previous" refinement.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from fastapi import APIRouter
from fastapi.responses import Response

from segany.formats import mask_to_uncompressed_rle
from segany.server.errors import ApiError, prompt_error
from segany.server.hover import check_hover_point, hover_mask
from segany.server.routes.common import Image, State, encoded_failure
from segany.server.schemas import HoverIn, PredictIn, PredictOut
from segany.server.threads import use_request_threads

router = APIRouter()


@router.post("/api/images/{id}/predict", response_model=PredictOut)
def predict(state: State, entry: Image, body: PredictIn) -> dict[str, object]:
    if len(body.labels) != len(body.points):
        raise ApiError(
            422,
            f"labels must have one entry per point ({len(body.points)}), got {len(body.labels)}",
            "labels",
        )
    state.embeddings.note_activity()
    mask_input = None
    if body.previous is not None:
        stored = state.predictions.get(body.previous.prediction_id)
        if stored is None or stored.image_id != entry.id:
            raise ApiError(
                409,
                f"previous prediction {body.previous.prediction_id!r} is unknown or expired for this image; "
                "send the prompt without 'previous'",
                "previous.prediction_id",
            )
        if body.previous.index >= stored.low_res_logits.shape[0]:
            raise ApiError(
                422,
                f"previous.index must be below {stored.low_res_logits.shape[0]}, got {body.previous.index}",
                "previous.index",
            )
        mask_input = stored.low_res_logits[body.previous.index][None]  # 1 x L x L
    try:
        encoded = state.embeddings.get(entry)
    except (ValueError, OSError) as exc:
        raise encoded_failure(exc) from exc
    use_request_threads()
    try:
        masks, scores, low_res = encoded.predictor.predict(
            point_coords=np.asarray(body.points, dtype=np.float64).reshape(-1, 2) if body.points else None,
            point_labels=np.asarray(body.labels, dtype=np.int64) if body.points else None,
            box=None if body.box is None else np.asarray(body.box, dtype=np.float64),
            mask_input=mask_input,
            multimask_output=body.multimask,
        )
    except (ValueError, TypeError) as exc:
        raise prompt_error(exc) from exc
    prediction_id = state.predictions.put(entry.id, low_res)
    return {
        "prediction_id": prediction_id,
        "width": entry.width,
        "height": entry.height,
        "masks": [mask_to_uncompressed_rle(mask) for mask in masks],
        "scores": [float(score) for score in scores],
        "best": int(np.argmax(scores)),
    }


_HOVER_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": (
            "The mask as uncompressed COCO RLE counts: uint32 little-endian run lengths over the H x W mask in "
            "column-major order, background first. Headers: X-Mask-Size 'H,W', X-Score (predicted IoU), "
            "X-Candidate (0..2), Server-Timing (decode, upscale, rle, total; ms)."
        ),
        "content": {"application/octet-stream": {}},
    }
}


@router.post("/api/images/{id}/hover", response_class=Response, responses=_HOVER_RESPONSE)
def hover(state: State, entry: Image, body: HoverIn) -> Response:
    """The best of the 3 candidates for one positive point; nothing is stored for refinement."""
    started = time.perf_counter()
    state.embeddings.note_activity()
    outside = check_hover_point(body.x, body.y, entry.width, entry.height)
    if outside is not None:
        size = entry.width if outside == "x" else entry.height
        raise ApiError(
            422,
            f"{outside} must lie within one image size of the {entry.width}x{entry.height} (WxH) image "
            f"([{-size}, {2 * size}]), got {getattr(body, outside)}",
            outside,
        )
    try:
        encoded = state.embeddings.get(entry)
    except (ValueError, OSError) as exc:
        raise encoded_failure(exc) from exc
    ready = time.perf_counter()
    use_request_threads()
    mask = hover_mask(encoded.predictor, body.x, body.y)
    payload = np.ascontiguousarray(mask.counts, dtype="<u4").tobytes()
    timings = {
        "wait": (ready - started) * 1000,
        **mask.timings_ms,
        "total": (time.perf_counter() - started) * 1000,
    }
    headers = {
        "X-Mask-Size": f"{mask.size[0]},{mask.size[1]}",
        "X-Score": f"{mask.score:.6f}",
        "X-Candidate": str(mask.index),
        "Server-Timing": ", ".join(f"{name};dur={ms:.2f}" for name, ms in timings.items()),
        "Cache-Control": "no-store",
    }
    return Response(payload, media_type="application/octet-stream", headers=headers)

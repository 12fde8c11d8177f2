"""The exported decoders for browser decoding: `GET /api/decoder.onnx` (official ONNX contract) and
`GET /api/decoder/{file}` for the other files of the same export (listed in /api/info's `decoder_files`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import FileResponse

from segany.server.decoder_export import DECODER_FILE, MASK_TOKENS
from segany.server.errors import ApiError, not_found
from segany.server.routes.common import State

router = APIRouter()
_ONNX: dict[int | str, dict[str, Any]] = {200: {"content": {"application/octet-stream": {}}}}


@router.get("/api/decoder.onnx", response_class=FileResponse, responses=_ONNX)
def decoder_onnx(state: State) -> FileResponse:
    return _decoder_file(state, DECODER_FILE)


@router.get("/api/decoder/{file}", response_class=FileResponse, responses=_ONNX)
def decoder_file(state: State, file: Annotated[str, Path(max_length=64)]) -> FileResponse:
    """One of the names in /api/info's `decoder_files` (never a path: other names are 404)."""
    if file not in state.decoder.files().values():
        raise not_found("decoder file", file)
    return _decoder_file(state, file)


def _decoder_file(state: State, name: str) -> FileResponse:
    try:
        path = state.decoder.ensure(name)
    except ImportError as exc:
        raise ApiError(
            501, f"browser decoding needs the onnx package: pip install 'segany[server]' ({exc})", None
        ) from exc
    headers = {"X-Model-Fingerprint": state.model.fingerprint, "Cache-Control": "no-cache"}
    if name == DECODER_FILE:
        headers |= {"X-Decoder-Multimask": "1", "X-Decoder-Mask-Tokens": str(MASK_TOKENS)}
    return FileResponse(path, media_type="application/octet-stream", headers=headers)

"""`GET /api/decoder.onnx`: the exported decoder for browser decoding (official ONNX contract)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse

from segany.server.decoder_export import MASK_TOKENS
from segany.server.errors import ApiError
from segany.server.routes.common import State

router = APIRouter()


@router.get(
    "/api/decoder.onnx",
    response_class=FileResponse,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def decoder_onnx(state: State) -> FileResponse:
    try:
        path = state.decoder.ensure()
    except ImportError as exc:
        raise ApiError(
            501, f"browser decoding needs the onnx package: pip install 'segany[server]' ({exc})", None
        ) from exc
    headers = {
        "X-Decoder-Multimask": "1",
        "X-Decoder-Mask-Tokens": str(MASK_TOKENS),
        "X-Model-Fingerprint": state.model.fingerprint,
        "Cache-Control": "no-cache",
    }
    return FileResponse(path, media_type="application/octet-stream", headers=headers)

"""`GET /api/info`: version, model, decoders, presets and limits."""

from __future__ import annotations

from fastapi import APIRouter

from segany import __version__
from segany.amg import PRESETS
from segany.server.decoder_export import DECODER_FILE
from segany.server.routes.common import State
from segany.server.schemas import EverythingIn, InfoOut

router = APIRouter()


@router.get("/api/info", response_model=InfoOut)
def info(state: State) -> dict[str, object]:
    return {
        "version": __version__,
        "model": state.model.to_dict(),
        "decoders": ["server", "browser"],
        "presets": list(PRESETS),
        "limits": {
            "max_upload_bytes": state.settings.max_upload_bytes,
            "max_pixels": state.settings.max_pixels,
        },
        "decoder_files": {
            role: "/api/decoder.onnx" if name == DECODER_FILE else f"/api/decoder/{name}"
            for role, name in state.decoder.files().items()
        },
        "everything_overrides": list(EverythingIn.override_names()),
        "cache": {
            "memory_bytes_held": state.embeddings.held_bytes,
            "memory_bytes_limit": state.settings.memory_cache_bytes,
            "images_ready": state.embeddings.ready_count,
            "encode_ahead_pauses": state.embeddings.background_pauses,
        },
    }

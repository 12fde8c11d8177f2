"""`POST /api/activity`: the page is prompting without asking the server (browser decoding), so background
encoding should wait (see `segany.server.embeddings`, `note_activity`). Prompts the server decodes count by
themselves."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from segany.server.routes.common import State

router = APIRouter()


@router.post("/api/activity", status_code=204, response_class=Response)
def activity(state: State) -> Response:
    """Pause the background encode-ahead for a moment (`ACTIVITY_HOLD_S`); no body, answers 204."""
    state.embeddings.note_activity()
    return Response(status_code=204)

"""Dependencies shared by the routes: the server state and the image a path names."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path

from segany.server.errors import ApiError, not_found
from segany.server.image_store import ImageEntry
from segany.server.state import ServerState, get_state

State = Annotated[ServerState, Depends(get_state)]


async def image_entry(
    state: State, image_id: Annotated[str, Path(alias="id", min_length=1, max_length=64)]
) -> ImageEntry:
    """The image `{id}` names, or 404 (a dictionary look-up: async, so it costs no thread-pool hop)."""
    entry = state.images.get(image_id)
    if entry is None:
        raise not_found("image", image_id)
    return entry


Image = Annotated[ImageEntry, Depends(image_entry)]


def encoded_failure(exc: Exception) -> ApiError:
    """An image that cannot be encoded (unreadable since it was listed): 400 with the reason."""
    reason = getattr(exc, "reason", None) or str(exc)
    return ApiError(400, f"cannot encode the image: {reason}", None)


__all__ = ["Image", "State", "encoded_failure", "image_entry"]

"""Making the objects' masks on one frame disjoint: a pixel claimed by several objects goes to the object with
the highest probability there (SAM's sigmoid for its answers, the warped mask value for carried masks)."""

from __future__ import annotations

import numpy as np

from segany.video.objects import Candidate


def resolve_overlaps(candidates: dict[int, Candidate]) -> dict[int, np.ndarray]:
    """obj_id -> H x W bool masks with no pixel in two masks; a lone claim is always kept."""
    if len(candidates) < 2:
        return {obj_id: candidate.mask for obj_id, candidate in candidates.items()}
    ids = list(candidates)
    claims = np.stack([candidates[obj_id].mask for obj_id in ids])  # K x H x W
    contested = claims.sum(axis=0) > 1
    if not contested.any():
        return {obj_id: candidates[obj_id].mask for obj_id in ids}
    # Among the claimants of a contested pixel, the most probable wins; unclaimed objects cannot win it.
    probabilities = np.stack([candidates[obj_id].probability[contested] for obj_id in ids])  # K x P
    probabilities = np.where(claims[:, contested], probabilities, -1.0)
    winner = np.argmax(probabilities, axis=0)
    resolved = {}
    for k, obj_id in enumerate(ids):
        mask = candidates[obj_id].mask.copy()
        mask[contested] = winner == k
        resolved[obj_id] = mask
    return resolved

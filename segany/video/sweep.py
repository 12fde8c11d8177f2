"""Every frame of a video once, for objects prompted on any frames: a backward walk, then a forward walk.

An object is tracked backwards from its first prompted frame (covering the frames before it) and forwards
from there (re-anchored on each of its later prompted frames). Results come out as computed: first the frames
before every object's first prompt, in descending order, then the rest in ascending order. Only the backward
masks of frames that the forward walk also visits are held until it gets there, as compressed RLE, so memory
stays bounded by the span of the first prompts, not by the video.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from segany.formats.masks_codec import mask_to_coco_rle, segmentation_to_mask
from segany.video.objects import FrameResult
from segany.video.video_predictor import VideoPredictor


def track_all_frames(video: VideoPredictor) -> Iterator[FrameResult]:
    """FrameResults for frames 0..T-1 (each once; order as in the module doc)."""
    firsts = {obj_id: video.prompted_frames(obj_id)[0] for obj_id in video.object_ids}
    if not firsts:
        raise ValueError("no prompts yet: add points, a box or a mask on some frame before tracking")
    earliest, latest = min(firsts.values()), max(firsts.values())
    held: dict[int, Packed] = {}  # frames earliest..latest-1: backward masks awaiting the forward walk
    if latest > 0:
        for result in video.propagate(start_frame=latest, reverse=True):
            kept = _only(result, [obj_id for obj_id, first in firsts.items() if result.index < first])
            if result.index < earliest:
                yield kept
            else:
                held[result.index] = _compress(kept)
    for result in video.propagate(start_frame=earliest):
        backward = held.pop(result.index, None)
        yield result if backward is None else _merge(result, backward)


def _only(result: FrameResult, objects: list[int]) -> FrameResult:
    kept = FrameResult(result.index, model_ran=result.model_ran)
    for obj_id in objects:
        if obj_id in result.masks:
            kept.masks[obj_id] = result.masks[obj_id]
            kept.scores[obj_id] = result.scores[obj_id]
            kept.uncertain[obj_id] = result.uncertain[obj_id]
            kept.sources[obj_id] = result.sources[obj_id]
    return kept


Packed = tuple[FrameResult, dict[int, dict[str, Any]]]  # (result without masks, obj_id -> COCO RLE)


def _compress(result: FrameResult) -> Packed:
    bare = FrameResult(result.index, {}, result.scores, result.uncertain, result.sources, result.model_ran)
    return bare, {obj_id: mask_to_coco_rle(mask) for obj_id, mask in result.masks.items()}


def _merge(forward: FrameResult, packed: Packed) -> FrameResult:
    """Objects of both walks on one frame; where they overlap, the forward walk's objects keep the pixels."""
    taken = np.zeros(next(iter(forward.masks.values())).shape, dtype=bool) if forward.masks else None
    for mask in forward.masks.values():
        taken |= mask
    backward, rles = packed
    for obj_id, rle in rles.items():
        mask = segmentation_to_mask(rle)
        forward.masks[obj_id] = mask if taken is None else mask & ~taken
        forward.scores[obj_id] = backward.scores[obj_id]
        forward.uncertain[obj_id] = backward.uncertain[obj_id]
        forward.sources[obj_id] = backward.sources[obj_id]
    return forward

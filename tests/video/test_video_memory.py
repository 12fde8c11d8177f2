"""Memory stays bounded however long the video: frames are streamed and per object only the latest state is
kept. Measured with tracemalloc (numpy's buffers are traced) on walks of 40 and 400 frames.

(`track_all_frames` holds the backward walk's masks, as RLE, for the frames between the first prompts of
different objects: that span is fixed here, as it is for prompts placed near the start of a video.)"""

from __future__ import annotations

import gc
import tracemalloc

import numpy as np
import pytest
from synthetic_video import GlidingSquare

from segany.video.settings import TrackerSettings
from segany.video.sweep import track_all_frames
from segany.video.video_predictor import VideoPredictor


@pytest.fixture(scope="module")
def tiny_sam():  # type: ignore[no-untyped-def]
    import torch

    from segany.registry import build_sam, resolve_config

    torch.manual_seed(0)
    return build_sam(resolve_config("vit_tiny")).eval()


def _peak_bytes(sam, frames: int) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """(peak traced bytes during the walk, frames the walk saw)."""
    source = GlidingSquare(frames, height=48, width=64, side=16, speed=1.0)
    video = VideoPredictor(sam, source, TrackerSettings(keyframe_interval=0, flow_scale=1.0))
    video.add_mask(0, 1, source.mask(0))
    # A second object prompted a few frames later: frames 0..4 come from a short backward walk.
    video.add_mask(5, 2, np.roll(source.mask(5), 20, axis=1) & ~source.mask(5))
    gc.collect()
    tracemalloc.start()
    seen = 0
    for result in track_all_frames(video):
        seen += 1
        del result
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak, seen


def test_memory_does_not_grow_with_the_video(tiny_sam) -> None:  # type: ignore[no-untyped-def]
    short_peak, short_seen = _peak_bytes(tiny_sam, 40)
    long_peak, long_seen = _peak_bytes(tiny_sam, 400)
    assert (short_seen, long_seen) == (40, 400)
    frame_bytes = 48 * 64 * 3
    # 360 more frames: keeping even one byte per pixel of each extra frame would add 360 x 3072 bytes.
    assert long_peak - short_peak < 20 * frame_bytes, (short_peak, long_peak)

"""The tracker on synthetic videos with exact ground truth, and its walks (directions, corrections, objects)."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic_video import GlidingSquare

from segany.video.frames import ArrayFrames
from segany.video.metrics import jaccard
from segany.video.settings import PRESETS, TrackerSettings
from segany.video.video_predictor import VideoPredictor

FLOW_ONLY = TrackerSettings(keyframe_interval=0, flow_scale=1.0)


@pytest.fixture(scope="module")
def small_sam():  # type: ignore[no-untyped-def]
    import torch

    from segany import load_pretrained

    torch.set_num_threads(1)  # the decoder runs far slower with 2 threads on a busy 2-core host
    return load_pretrained("segany_small")


@pytest.fixture(scope="module")
def tiny_sam():  # type: ignore[no-untyped-def]
    """Random weights: enough where the model is never asked (flow-only walks with mask prompts)."""
    import torch

    from segany.registry import build_sam, resolve_config

    torch.manual_seed(0)
    return build_sam(resolve_config("vit_tiny")).eval()


def test_flow_carries_a_textured_square_exactly(tiny_sam) -> None:  # type: ignore[no-untyped-def]
    source = GlidingSquare(40)
    video = VideoPredictor(tiny_sam, source, FLOW_ONLY)
    video.add_mask(0, 1, source.mask(0))
    scores = [jaccard(result.masks[1], source.mask(result.index)) for result in video.propagate()]
    assert len(scores) == 40
    assert min(scores) >= 0.95, np.round(scores, 3)
    # Copying the first mask is far off by the end: the test needs the motion to be followed.
    assert jaccard(source.mask(0), source.mask(39)) < 0.5


def test_flow_backwards_from_a_later_frame(tiny_sam) -> None:  # type: ignore[no-untyped-def]
    source = GlidingSquare(25)
    video = VideoPredictor(tiny_sam, source, FLOW_ONLY)
    video.add_mask(24, 3, source.mask(24))
    results = list(video.propagate(reverse=True))
    assert [r.index for r in results] == list(range(24, -1, -1))
    assert min(jaccard(r.masks[3], source.mask(r.index)) for r in results) >= 0.95


def test_full_method_with_segany_small_on_a_plain_square(small_sam) -> None:  # type: ignore[no-untyped-def]
    """segany_small re-prompted on every frame follows a high-contrast square (red on green) with J >= 0.95.

    Flat colours give optical flow little to hold on to, so the model has to do the work here.
    """
    source = GlidingSquare(6, side=96, speed=6.0, spread=0, colors=((40, 140, 60), (220, 30, 30)))
    video = VideoPredictor(small_sam, source, PRESETS["full"])
    video.add_mask(0, 1, source.mask(0))
    results = list(video.propagate())
    scores = [jaccard(r.masks[1], source.mask(r.index)) for r in results[1:]]
    assert all(r.model_ran for r in results[1:])
    assert [r.sources[1] for r in results[1:]] == ["sam"] * 5  # SAM's answers were accepted, not carried
    assert min(scores) >= 0.95, np.round(scores, 3)


def test_points_on_a_later_frame_and_a_correction(small_sam) -> None:  # type: ignore[no-untyped-def]
    source = GlidingSquare(5, side=96, speed=6.0, spread=0, colors=((40, 140, 60), (220, 30, 30)))
    video = VideoPredictor(small_sam, source, TrackerSettings(keyframe_interval=0))
    x, y = source.corner(2)
    mask = video.add_points(2, 1, [[x + 48, y + 48]], [1])
    assert jaccard(mask, source.mask(2)) >= 0.9
    # A correction on frame 4: a mask replaces whatever the walk carried there.
    wrong = np.zeros(source.size, dtype=bool)
    wrong[:10, :10] = True
    video.add_mask(4, 1, wrong)
    forward = {r.index: r for r in video.propagate()}
    assert sorted(forward) == [2, 3, 4]  # the walk starts on the first prompted frame
    assert np.array_equal(forward[4].masks[1], wrong) and forward[4].sources[1] == "prompt"
    assert jaccard(forward[3].masks[1], source.mask(3)) >= 0.85


def test_two_objects_get_disjoint_masks_and_a_label_map(tiny_sam) -> None:  # type: ignore[no-untyped-def]
    source = GlidingSquare(6)
    video = VideoPredictor(tiny_sam, source, FLOW_ONLY)
    first = source.mask(0)
    overlapping = np.roll(first, 8, axis=1)  # object 2 overlaps object 1 by most of its area
    video.add_mask(0, 1, first)
    video.add_mask(0, 2, overlapping)
    for result in video.propagate():
        assert not (result.masks[1] & result.masks[2]).any()
        labels = result.label_map(source.size)
        assert set(np.unique(labels)) <= {0, 1, 2}
        assert np.array_equal(labels == 2, result.masks[2])


def test_keyframe_interval_runs_the_model_every_n_frames(small_sam) -> None:  # type: ignore[no-untyped-def]
    source = ArrayFrames([GlidingSquare(7).read(i) for i in range(7)])
    video = VideoPredictor(small_sam, source, TrackerSettings(keyframe_interval=3))
    video.add_mask(0, 1, GlidingSquare(1).mask(0))
    ran = [r.model_ran for r in video.propagate()]
    # Frame 0 is prompted (its mask is given: no model needed), then every third frame.
    assert ran == [False, False, False, True, False, False, True]
    assert video.encoder.encoded == 2

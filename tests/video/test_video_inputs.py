"""Frame sources (folders, video files) and the errors bad input gives."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from synthetic_video import GlidingSquare

from segany.video.frames import FolderFrames, VideoFileFrames, open_frames
from segany.video.mask_io import read_label_png, write_label_png
from segany.video.settings import TrackerSettings
from segany.video.video_predictor import VideoPredictor


@pytest.fixture(scope="module")
def tiny_sam():  # type: ignore[no-untyped-def]
    import torch

    from segany.registry import build_sam, resolve_config

    torch.manual_seed(0)
    return build_sam(resolve_config("vit_tiny")).eval()


def _write_frames(folder: Path, count: int) -> GlidingSquare:
    source = GlidingSquare(count, height=48, width=64, side=16)
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        Image.fromarray(source.read(index)).save(folder / f"{index:05d}.png")
    return source


def test_folder_frames_in_name_order(tmp_path: Path) -> None:
    source = _write_frames(tmp_path / "frames", 4)
    frames = open_frames(tmp_path / "frames")
    assert isinstance(frames, FolderFrames) and len(frames) == 4 and frames.size == (48, 64)
    assert np.array_equal(frames.read(2), source.read(2))
    assert [i for i, _ in frames.frames(3, -1)] == [3, 2, 1, 0]
    assert frames.frame_name(1) == "00001"


def test_video_file_forwards_and_backwards(tmp_path: Path) -> None:
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    assert writer.isOpened()
    source = GlidingSquare(20, height=48, width=64, side=16)
    for index in range(20):
        writer.write(source.read(index)[:, :, ::-1].copy())
    writer.release()
    video = open_frames(path)
    assert isinstance(video, VideoFileFrames) and len(video) == 20 and video.size == (48, 64)
    forward = dict(video.frames(0, 20))
    backward = list(video.frames(19, -1))  # decoded in chunks, handed out in reverse
    assert [i for i, _ in backward] == list(range(19, -1, -1))
    for index, frame in backward:
        assert np.array_equal(frame, forward[index])
        assert np.abs(frame.astype(int) - source.read(index)).mean() < 8  # MJPG is lossy
    assert np.array_equal(video.read(7), forward[7])


def test_unreadable_video_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "notes.mp4"
    bad.write_text("this is not a video")
    with pytest.raises(ValueError, match="notes.mp4"):
        open_frames(bad)
    with pytest.raises(FileNotFoundError, match="missing.mp4"):
        open_frames(tmp_path / "missing.mp4")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="holds no frames"):
        open_frames(tmp_path / "empty")


def test_prompt_on_a_frame_that_does_not_exist(tiny_sam) -> None:  # type: ignore[no-untyped-def]
    source = GlidingSquare(5, height=48, width=64, side=16)
    video = VideoPredictor(tiny_sam, source)
    with pytest.raises(ValueError, match=r"frame 5 does not exist: .* has 5 frames \(indices 0..4\)"):
        video.add_mask(5, 1, source.mask(0))
    with pytest.raises(ValueError, match="frame -1 does not exist"):
        video.add_points(-1, 1, [[3, 3]])
    with pytest.raises(ValueError, match="obj_id must be an integer in 1..255"):
        video.add_mask(0, 0, source.mask(0))
    with pytest.raises(ValueError, match="no prompts yet"):
        next(video.propagate())


def test_mask_of_the_wrong_size(tiny_sam) -> None:  # type: ignore[no-untyped-def]
    video = VideoPredictor(tiny_sam, GlidingSquare(3, height=48, width=64, side=16))
    with pytest.raises(ValueError, match=r"mask must be H x W = 48 x 64 .* got shape \(64, 48\)"):
        video.add_mask(0, 1, np.zeros((64, 48), dtype=bool))


def test_bad_settings() -> None:
    with pytest.raises(ValueError, match="flow_method must be one of dis, farneback"):
        TrackerSettings(flow_method="lucas")
    with pytest.raises(ValueError, match="keyframe_interval must be >= 0"):
        TrackerSettings(keyframe_interval=-2)


def test_label_png_round_trip_and_binary_masks(tmp_path: Path) -> None:
    labels = np.zeros((10, 12), dtype=np.uint8)
    labels[2:5, 3:7], labels[6:9, 1:4] = 1, 7
    path = write_label_png(labels, tmp_path / "00000.png")
    with Image.open(path) as image:
        assert image.mode == "P" and image.getpalette()[3:6] == [128, 0, 0]  # DAVIS's label-1 colour
    assert np.array_equal(read_label_png(path), labels)
    Image.fromarray((labels > 0).astype(np.uint8) * 255).save(tmp_path / "binary.png")
    assert np.array_equal(read_label_png(tmp_path / "binary.png"), (labels > 0).astype(np.uint8))
    (tmp_path / "text.png").write_text("no png")
    with pytest.raises(ValueError, match="text.png is not a readable image"):
        read_label_png(tmp_path / "text.png")

"""`segany track` and `segany eval-video` end to end on a small synthetic folder of frames."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from synthetic_video import GlidingSquare

from segany.cli.main import main
from segany.video.mask_io import read_label_png, write_label_png

FRAMES = 8


def _cli(*argv: object) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, GlidingSquare]:
    """(frames folder, ground-truth folder, source) of a textured square gliding over 8 frames."""
    root = tmp_path_factory.mktemp("clip")
    source = GlidingSquare(FRAMES, height=96, width=128, side=32, speed=3.0)
    for index in range(FRAMES):
        (root / "frames").mkdir(exist_ok=True)
        Image.fromarray(source.read(index)).save(root / "frames" / f"{index:05d}.jpg", quality=95)
        write_label_png(source.mask(index).astype(np.uint8), root / "truth" / f"{index:05d}.png")
    return root / "frames", root / "truth", source


def test_track_from_a_mask_then_eval_video(clip, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    frames, truth, source = clip
    out = tmp_path / "out"
    code, stdout, stderr = _cli(
        "track",
        frames,
        "--mask",
        truth / "00000.png",
        "--keyframe-interval",
        "0",
        "--overlay",
        "frames",
        "--model",
        "vit_tiny",
        "--out",
        out,
        "--quiet",
    )
    assert code == 0, stderr
    assert "tracked 1 object(s) through 8 frames" in stdout
    masks = sorted((out / "masks").glob("*.png"))
    assert [m.stem for m in masks] == [f"{i:05d}" for i in range(FRAMES)]
    assert len(list((out / "overlay").glob("*.jpg"))) == FRAMES
    labels = read_label_png(masks[5])
    overlap = np.count_nonzero((labels == 1) & source.mask(5)) / np.count_nonzero(
        (labels == 1) | source.mask(5)
    )
    assert overlap > 0.9
    record = json.loads((out / "json" / "00005.json").read_text())
    (annotation,) = record["annotations"]
    assert annotation["id"] == 1 and annotation["segmentation"]["size"] == [96, 128]
    assert annotation["area"] == int(np.count_nonzero(labels == 1))
    summary = json.loads((out / "track.json").read_text())
    assert summary["objects"]["1"]["frames_present"] == FRAMES

    code, stdout, stderr = _cli("eval-video", out / "masks", truth, "--out", tmp_path / "scores.json")
    assert code == 0, stderr
    scores = json.loads((tmp_path / "scores.json").read_text())
    assert scores["summary"]["J_mean"] > 90 and len(scores["objects"][0]["J_per_frame"]) == FRAMES - 2


def test_track_points_on_a_later_frame_with_an_overlay_video(clip, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    frames, _, source = clip
    x, y = source.corner(3)
    out = tmp_path / "out"
    code, _, stderr = _cli(
        "track",
        frames,
        "--point",
        f"2:3,{x + 16},{y + 16}",
        "--keyframe-interval",
        "0",
        "--out",
        out,
        "-q",
    )
    assert code == 0, stderr
    assert len(list((out / "masks").glob("*.png"))) == FRAMES  # frames 0..2 from the backward walk
    assert (out / "overlay.mp4").stat().st_size > 0
    assert {int(v) for v in np.unique(read_label_png(out / "masks" / "00000.png"))} <= {0, 2}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--point", "9,10,10"), "frame 9 does not exist"),
        (("--box", "0,10,10,5,40"), "X1 >= X0"),
        ((), "give at least one prompt"),
    ],
)
def test_track_bad_prompts(clip, tmp_path: Path, argv: tuple[str, ...], message: str) -> None:  # type: ignore[no-untyped-def]
    frames, _, _ = clip
    code, _, stderr = _cli("track", frames, *argv, "--model", "vit_tiny", "--out", tmp_path / "out", "-q")
    assert code in (1, 2) and message in stderr, stderr


def test_track_bad_video_and_mask(clip, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    frames, _, _ = clip
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00" * 64)
    code, _, stderr = _cli("track", bad, "--point", "0,5,5", "--out", tmp_path / "o", "-q")
    assert code == 1 and "broken.mp4" in stderr
    small = tmp_path / "00000.png"
    write_label_png(np.ones((10, 10), np.uint8), small)
    code, _, stderr = _cli(
        "track", frames, "--mask", small, "--model", "vit_tiny", "--out", tmp_path / "o", "-q"
    )
    assert code == 1 and "10x10 (WxH), the video's frames are 128x96" in stderr

"""Helpers for the CLI tests: run `segany` in-process or as a subprocess, and craft bad image files."""

from __future__ import annotations

import contextlib
import io
import os
import struct
import subprocess
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from segany.cli.main import main

TESTS_DIR = Path(__file__).resolve().parents[1]
FIXTURES = TESTS_DIR / "fixtures"
REPO_ROOT = TESTS_DIR.parent
TINY = ("--model", "vit_tiny")
# Thresholds at which a random-weights model still yields masks in everything mode (16 prompts).
LOW_THRESHOLDS = ("--points-per-side", "4", "--pred-iou-thresh", "0", "--stability-score-thresh", "0")


@dataclass
class Result:
    code: int
    out: str
    err: str

    def error_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.startswith("segany: error:")]


def run_cli(*argv: object) -> Result:
    """Call `main(argv)` in-process and capture what it prints."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(arg) for arg in argv])
    return Result(code, out.getvalue(), err.getvalue())


def run_subprocess(*argv: object, env: dict[str, str] | None = None, timeout: float = 120) -> Result:
    """`python -m segany.cli.main ARGV` in a fresh interpreter."""
    completed = subprocess.run(
        [sys.executable, "-m", "segany.cli.main", *map(str, argv)],
        check=False,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO_ROOT,
        env={**os.environ, **(env or {})},
    )
    return Result(completed.returncode, completed.stdout, completed.stderr)


def assert_one_line_error(result: Result, *fragments: str) -> str:
    """Non-zero exit, no traceback, exactly one `segany: error:` line containing every fragment."""
    assert result.code != 0, result
    assert "Traceback" not in result.err, result.err
    lines = result.error_lines()
    assert len(lines) == 1, result.err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


# ------------------------------------------------------------------------------------------------ bad files
def png_with_declared_size(path: Path, width: int, height: int) -> Path:
    """A real 1x1 PNG whose IHDR is patched to declare width x height (CRC recomputed)."""
    buffer = io.BytesIO()
    Image.new("RGB", (1, 1)).save(buffer, format="PNG")
    data = bytearray(buffer.getvalue())
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    path.write_bytes(bytes(data))
    return path


def write_bad_inputs(folder: Path) -> dict[str, Path]:
    """The bad-input set: files that must fail cleanly, and odd but valid images that must work."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    files["empty"] = folder / "empty.jpg"
    files["empty"].write_bytes(b"")
    jpeg = (FIXTURES / "chelsea.jpg").read_bytes()
    files["truncated"] = folder / "truncated.jpg"
    files["truncated"].write_bytes(jpeg[: len(jpeg) // 3])
    files["text"] = folder / "notes.png"
    files["text"].write_text("this is not an image\n")
    files["huge"] = png_with_declared_size(folder / "huge.png", 100_000, 100_000)
    files["one_pixel"] = folder / "one_pixel.png"
    Image.new("RGB", (1, 1), (200, 30, 30)).save(files["one_pixel"])
    files["sixteen_bit"] = folder / "sixteen_bit.png"
    ramp = (np.arange(48 * 64, dtype=np.uint32).reshape(48, 64) * 21).astype(np.uint16)
    Image.fromarray(ramp).save(files["sixteen_bit"])
    files["cmyk"] = folder / "cmyk.jpg"
    Image.open(FIXTURES / "chelsea.jpg").convert("CMYK").save(files["cmyk"])
    return files


BROKEN = ("empty", "truncated", "text", "huge")
ODD_BUT_VALID = ("one_pixel", "sixteen_bit", "cmyk")


def write_smooth_tiny_checkpoint(path: Path, image_size: int = 256, seed: int = 0) -> Path:
    """A vit_tiny checkpoint for `everything` tests: fast, with few-piece masks and positive IoU scores.

    With plain random weights, the decoder's 2x2 transposed convolutions paint a checkerboard, so every mask
    is thousands of specks (YOLO polygons of such masks take minutes). Here their kernels are made constant
    over the 2x2 taps (nearest-neighbour upscaling), the IoU head predicts about +1 (masks pass low thresholds),
    and the input side is 256 (16x less encoder work); `--model PATH` infers all of this from the shapes.
    """
    import torch

    from segany.registry import build_sam, resolve_config

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        sam = build_sam(resolve_config("vit_tiny").with_image_size(image_size))
    state = sam.state_dict()
    for key in ("mask_decoder.output_upscaling.0.weight", "mask_decoder.output_upscaling.3.weight"):
        state[key][:] = state[key].mean(dim=(2, 3), keepdim=True)
    state["mask_decoder.iou_prediction_head.layers.2.bias"] += 1.0
    torch.save(state, path)
    return path

"""Bad input files: one clear `segany: error:` line naming the file, never a traceback; odd but valid images work."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from cli_testing import BROKEN, ODD_BUT_VALID, TINY, assert_one_line_error, run_cli, write_bad_inputs
from PIL import Image

REASONS = {
    "empty": "empty",
    "truncated": "truncated or corrupt",
    "text": "not an image file",
    "huge": "too large",
}


@pytest.fixture(scope="module")
def bad_inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_bad_inputs(tmp_path_factory.mktemp("bad_inputs"))


@pytest.mark.parametrize("kind", BROKEN)
def test_segment_refuses_broken_file_in_one_line(
    bad_inputs: dict[str, Path], tmp_path: Path, kind: str
) -> None:
    path = bad_inputs[kind]
    result = run_cli("segment", path, "--point", "0,0", *TINY, "--out", tmp_path)
    assert result.code == 1
    assert_one_line_error(result, str(path), REASONS[kind])
    assert result.out == ""
    assert not list(tmp_path.glob("*.png"))


def test_segment_missing_file(tmp_path: Path) -> None:
    result = run_cli("segment", tmp_path / "nope.jpg", "--point", "0,0", *TINY, "--out", tmp_path)
    assert_one_line_error(result, "nope.jpg", "file not found")


def test_segment_one_pixel_image(bad_inputs: dict[str, Path], tmp_path: Path) -> None:
    result = run_cli("segment", bad_inputs["one_pixel"], "--point", "0,0", *TINY, "--out", tmp_path)
    assert result.code == 0, result.err
    with Image.open(tmp_path / "one_pixel_mask_0.png") as mask:
        assert mask.size == (1, 1)


def test_embed_folder_reports_each_broken_file_and_goes_on(
    bad_inputs: dict[str, Path], tmp_path: Path
) -> None:
    result = run_cli("embed", next(iter(bad_inputs.values())).parent, *TINY, "--out", tmp_path)
    assert result.code == 1  # some images failed
    assert "Traceback" not in result.err
    lines = result.error_lines()
    assert len(lines) == len(BROKEN)
    for kind in BROKEN:
        (line,) = [line for line in lines if str(bad_inputs[kind]) in line]
        assert REASONS[kind] in line
    for kind in ODD_BUT_VALID:
        with np.load(tmp_path / f"{bad_inputs[kind].stem}.npz") as data:
            assert data["embedding"].shape == (1, 256, 64, 64)
    assert (
        f"{len(bad_inputs)} image(s): {len(ODD_BUT_VALID)} processed, 0 skipped (already done), "
        f"{len(BROKEN)} failed" in result.out
    )

"""The entry point: help with examples, usage errors, `info`, and real subprocess runs with exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from cli_testing import FIXTURES, assert_one_line_error, run_cli, run_subprocess
from PIL import Image

from segany.cli.main import build_parser

COMMANDS = (
    ("segment",),
    ("everything",),
    ("embed",),
    ("weights",),
    ("info",),
    ("export",),
    ("export", "onnx"),
)


def test_top_level_help_lists_commands_and_examples() -> None:
    result = run_cli("--help")
    assert result.code == 0
    for name in ("segment", "everything", "embed", "weights", "info", "export"):
        assert name in result.out
    assert "examples:" in result.out


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_help_has_examples(command: tuple[str, ...]) -> None:
    result = run_cli(*command, "--help")
    assert result.code == 0
    assert "examples:" in result.out
    assert f"segany {command[0]}" in result.out.split("examples:")[1]


def test_flags_default_to_none_so_the_library_owns_defaults() -> None:
    parser = build_parser()
    for argv in (
        ["segment", "x.jpg", "--out", "o"],
        ["everything", "x", "--out", "o"],
        ["embed", "x", "--out", "o"],
    ):
        args = vars(parser.parse_args(argv))
        given = {"command", "run", "out", "image", "images"}
        assert {key: value for key, value in args.items() if key not in given and value is not None} == {}


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (("segment",), "the following arguments are required"),
        (("frobnicate",), "invalid choice"),
        (("everything", "x", "--out", "o", "--points-per-side", "0"), "positive integer"),
        (("everything", "x", "--out", "o", "--format", "tiff"), "invalid choice"),
    ],
)
def test_usage_errors_are_one_line_exit_2(argv: tuple[str, ...], fragment: str) -> None:
    result = run_cli(*argv)
    assert result.code == 2
    assert_one_line_error(result, fragment)


def test_no_command_prints_help_exit_2() -> None:
    result = run_cli()
    assert result.code == 2
    assert "COMMAND" in result.err


def test_info(empty_weights_cache: Path) -> None:
    import numpy
    import torch

    result = run_cli("info")
    assert result.code == 0, result.err
    assert f"torch                    {torch.__version__}" in result.out
    assert f"numpy                    {numpy.__version__}" in result.out
    assert "onnxruntime" in result.out
    assert f"cache:    {empty_weights_cache}" in result.out
    assert f"threads: {torch.get_num_threads()}" in result.out
    assert "vit_tiny" in result.out and "default model: vit_tiny (random weights" in result.out
    report = json.loads(run_cli("info", "--json").out)
    assert report["versions"]["segany"] == "0.1.0"
    assert report["device"]["auto"] in ("cpu", "cuda", "mps")
    assert set(report["models"]) >= {"vit_b", "vit_l", "vit_h", "vit_tiny"}
    assert {row["name"]: row["present"] for row in report["weights"]} == {
        "vit_h": False,
        "vit_l": False,
        "vit_b": False,
    }


def test_subprocess_segment_succeeds_and_fails_with_exit_codes(tmp_path: Path) -> None:
    # No --model and an empty weights cache: the model bundled in the package, without a warning.
    result = run_subprocess("segment", FIXTURES / "chelsea.jpg", "--box", "20,20,300,280", "--out", tmp_path)
    assert result.code == 0, result.err
    assert "no pretrained weights found" not in result.err and "Traceback" not in result.err
    model = json.loads((tmp_path / "chelsea.json").read_text())["model"]
    assert (model["arch"], model["source"], model["spec"]) == (
        "segany_small_lite0_640",
        "bundled",
        "segany_small_v2",
    )
    with Image.open(tmp_path / "chelsea_mask_0.png") as mask:
        assert mask.size == (451, 300)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    failed = run_subprocess("segment", broken, "--point", "1,1", "--model", "vit_tiny", "--out", tmp_path)
    assert failed.code == 1
    assert_one_line_error(failed, "broken.jpg")


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).with_name("segany")
    if not script.exists():
        pytest.skip("the segany console script is not installed in this environment")
    completed = subprocess.run(
        [str(script), "--version"], check=False, capture_output=True, text=True, timeout=60
    )
    assert completed.returncode == 0
    assert completed.stdout.strip() == "segany 0.1.0"

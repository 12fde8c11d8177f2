"""`segany export onnx`: the model is resolved like every command, files and settings are written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_testing import assert_one_line_error, run_cli

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")


def test_export_decoders_of_a_checkpoint(tmp_path: Path, smooth_tiny: Path) -> None:
    result = run_cli(
        "export", "onnx", "--model", smooth_tiny, "--no-encoder", "--no-verify", "--out", tmp_path, "-q"
    )
    assert result.code == 0, result.err
    assert (tmp_path / "decoder.onnx").is_file() and (tmp_path / "decoder_lowres.onnx").is_file()
    assert not (tmp_path / "encoder.onnx").exists()
    metadata = json.loads((tmp_path / "metadata.json").read_text())
    assert metadata["model"] == "vit_tiny" and metadata["image_size"] == 256
    settings = json.loads((tmp_path / "settings.json").read_text())
    assert settings["command"] == "export onnx"
    assert settings["export_options"] == {"include_encoder": False, "verify": False}
    assert str(tmp_path / "decoder.onnx") in result.out


def test_export_errors(tmp_path: Path) -> None:
    result = run_cli("export", "onnx", "--model", "vit_b", "--out", tmp_path)
    assert_one_line_error(result, "segany weights download vit_b")
    result = run_cli("export", "onnx", "--model", "vit_tiny", "--quantize", "int4", "--out", tmp_path)
    assert result.code == 2
    assert_one_line_error(result, "invalid choice: 'int4'")

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
    # vit_tiny has SAM's 256-wide decoder: the cached pair takes the low-rank form by default.
    assert metadata["files"]["decoder_lowrank"] == "decoder_lowrank.onnx"
    assert "decoder_dense" not in metadata["files"]


def test_export_with_the_dense_decoder_form(tmp_path: Path, smooth_tiny: Path) -> None:
    result = run_cli(
        "export", "onnx", "--model", smooth_tiny, "--no-encoder", "--no-verify", "--decoder-form", "dense",
        "--out", tmp_path, "-q",
    )  # fmt: skip
    assert result.code == 0, result.err
    metadata = json.loads((tmp_path / "metadata.json").read_text())
    assert metadata["files"]["decoder_dense"] == "decoder_dense.onnx"
    assert (tmp_path / "decoder_dense.onnx").is_file() and not (tmp_path / "decoder_lowrank.onnx").exists()
    assert set(metadata["contract"]) == set(metadata["files"])
    settings = json.loads((tmp_path / "settings.json").read_text())
    assert settings["export_options"]["decoder_form"] == "dense"


def test_export_errors(tmp_path: Path) -> None:
    result = run_cli("export", "onnx", "--model", "vit_b", "--out", tmp_path)
    assert_one_line_error(result, "segany weights download vit_b")
    result = run_cli("export", "onnx", "--model", "vit_tiny", "--quantize", "int4", "--out", tmp_path)
    assert result.code == 2
    assert_one_line_error(result, "invalid choice: 'int4'")
    result = run_cli("export", "onnx", "--model", "vit_tiny", "--decoder-form", "sparse", "--out", tmp_path)
    assert result.code == 2
    assert_one_line_error(result, "invalid choice: 'sparse'")

"""Bundled weights (segany/pretrained): the export tool, the manifest, resolution without download, and the
CLI's default choice. A randomly initialised `segany_small` stands in for a trained one, in a temporary
package folder, so these tests check the mechanism whatever the repository ships."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

import segany.pretrained
from segany import load_pretrained, weights
from segany.registry import build_sam, resolve_config
from segany.training.export_pretrained import export


@pytest.fixture
def original_state(tmp_path: Path) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    sam = build_sam(resolve_config("segany_small"))
    with torch.no_grad():
        for param in sam.parameters():
            param.add_(torch.randn_like(param) * 0.05)
    state = {key: value.clone() for key, value in sam.state_dict().items()}
    torch.save(state, tmp_path / "model.pt")
    return state


@pytest.fixture
def bundled(
    tmp_path: Path, original_state: dict[str, torch.Tensor], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """Export the stand-in run into a temporary package folder and point segany.pretrained at it."""
    package_dir = tmp_path / "pretrained"
    export(tmp_path, "segany_small", "segany_small", "stand-in", out_dir=package_dir)
    monkeypatch.setattr(segany.pretrained, "PRETRAINED_DIR", package_dir)
    monkeypatch.setattr(segany.pretrained, "MANIFEST_PATH", package_dir / "manifest.json")
    monkeypatch.setenv("SEGANY_CACHE_DIR", str(tmp_path / "empty_cache"))
    segany.pretrained.manifest.cache_clear()
    yield package_dir
    segany.pretrained.manifest.cache_clear()


def test_export_writes_float16_weights_and_their_manifest(bundled: Path) -> None:
    entry = json.loads((bundled / "manifest.json").read_text())["segany_small"]
    path = bundled / entry["file"]
    assert entry["bytes"] == path.stat().st_size <= 25 * 2**20
    assert entry["sha256"] == weights.file_sha256(path)
    with safe_open(str(path), "pt") as handle:
        assert {handle.get_tensor(key).dtype for key in handle.keys()} == {torch.float16}  # noqa: SIM118


def test_bundled_weights_resolve_in_place_without_download(bundled: Path) -> None:
    info = weights.weights_info("segany_small")
    assert weights.is_bundled("segany_small") and info.url == ""
    path = weights.weights_path("segany_small")
    assert path == bundled / "segany_small.safetensors"
    assert weights.find_local("segany_small") == path
    assert weights.download("segany_small") == path  # verified, nothing fetched
    with pytest.raises(ValueError, match="shipped inside the package"):
        weights.copy_into_cache(path, "segany_small")
    path.write_bytes(path.read_bytes()[:-1] + b"\0")  # damaged install
    with pytest.raises(weights.WeightsDownloadError, match="reinstall segany"):
        weights.download("segany_small")


def test_load_pretrained_gives_the_float16_rounded_weights(
    bundled: Path, original_state: dict[str, torch.Tensor]
) -> None:
    sam = load_pretrained("segany_small")
    assert not sam.training
    loaded = sam.state_dict()
    assert loaded.keys() == original_state.keys()
    for key, value in original_state.items():
        assert loaded[key].dtype == torch.float32
        torch.testing.assert_close(loaded[key], value.half().float(), rtol=0, atol=0, msg=key)


def test_cli_default_is_the_bundled_model_when_no_official_weights(bundled: Path) -> None:
    from segany.cli.models import catalog, resolve_model
    from segany.cli.weights import weights_rows

    assert [info.name for info in catalog()] == ["vit_h", "vit_l", "vit_b", "segany_small"]
    _, description = resolve_model(None, "cpu")
    assert (description.arch, description.source, description.spec) == (
        "segany_small",
        "bundled",
        "segany_small",
    )
    assert {row["name"]: row["present"] for row in weights_rows()}["segany_small"] is True


def test_without_bundled_weights_the_catalog_has_only_official_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from segany.cli.models import catalog

    monkeypatch.setattr(segany.pretrained, "MANIFEST_PATH", tmp_path / "absent.json")
    segany.pretrained.manifest.cache_clear()
    try:
        assert [info.name for info in catalog()] == ["vit_h", "vit_l", "vit_b"]
        with pytest.raises(ValueError, match="unknown weights name 'segany_small'"):
            weights.weights_info("segany_small")
    finally:
        segany.pretrained.manifest.cache_clear()


def test_export_refuses_weights_of_another_architecture(tmp_path: Path) -> None:
    torch.save(build_sam(resolve_config("vit_tiny")).state_dict(), tmp_path / "model.pt")
    with pytest.raises(ValueError, match="missing keys"):
        export(tmp_path, "segany_small", "segany_small", "wrong", out_dir=tmp_path / "out")
    assert not (tmp_path / "out" / "segany_small.safetensors").exists()


def test_export_refuses_a_run_trained_at_another_image_size(
    tmp_path: Path, original_state: dict[str, torch.Tensor]
) -> None:
    from segany.training.config import TrainConfig

    registry_size = resolve_config("segany_small").image_size
    TrainConfig(model="segany_small", image_size=registry_size // 2).save(tmp_path / "config.json")
    with pytest.raises(ValueError, match=f"trained at image_size {registry_size // 2}"):
        export(tmp_path, "segany_small", "segany_small", "wrong size", out_dir=tmp_path / "out")
    TrainConfig(model="segany_small", image_size=registry_size).save(tmp_path / "config.json")
    assert export(tmp_path, "segany_small", "segany_small", "right size", out_dir=tmp_path / "out").is_file()


def test_both_generations_ship_and_the_second_is_preferred() -> None:
    """The real package: segany_small_v2 is the offline default, segany_small stays loadable by name."""
    from segany.cli.models import DEFAULT_PREFERENCE

    assert {"segany_small", "segany_small_v2"} <= set(segany.pretrained.manifest())
    assert DEFAULT_PREFERENCE.index("segany_small_v2") < DEFAULT_PREFERENCE.index("segany_small")
    first, second = load_pretrained("segany_small"), load_pretrained("segany_small_v2")
    # v1 runs at 512 px; v2 at 640 (its last training steps were at that size).
    assert (first.image_size, second.image_size) == (512, 640)
    # v2 has the EfficientNet-Lite0-shaped encoder (segany_small_lite0_640) and v1's 128-wide prompt encoder and
    # decoder layout, with other weights.
    assert segany.pretrained.manifest()["segany_small_v2"]["model"] == "segany_small_lite0_640"
    assert type(second.image_encoder).__name__ == "ImageEncoderMBConv"
    first_state, second_state = first.state_dict(), second.state_dict()
    decoder_keys = [key for key in first_state if not key.startswith("image_encoder.")]
    assert decoder_keys == [key for key in second_state if not key.startswith("image_encoder.")]
    assert not all(torch.equal(first_state[key], second_state[key]) for key in decoder_keys)

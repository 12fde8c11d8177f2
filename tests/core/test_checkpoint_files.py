"""Checkpoint files: .pth / .safetensors round trips, wrapped state dicts, and loud failures."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from core_testing import perturb_
from safetensors.torch import save_file

from segany.checkpoint import CheckpointMismatchError, load_checkpoint, read_state_dict
from segany.registry import SamConfig, ViTEncoderConfig, build_sam

SMALL = SamConfig(
    ViTEncoderConfig(embed_dim=32, depth=2, num_heads=2, global_attn_indexes=(1,)), image_size=256
)
OTHER_WIDTH = SamConfig(
    ViTEncoderConfig(embed_dim=48, depth=2, num_heads=2, global_attn_indexes=(1,)), image_size=256
)


@pytest.fixture(scope="module")
def source_state() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    model = build_sam(SMALL)
    perturb_(model, seed=1)
    return {k: v.clone() for k, v in model.state_dict().items()}


def _assert_holds(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> None:
    loaded = model.state_dict()
    assert sorted(loaded) == sorted(state)
    for key, value in state.items():
        assert torch.equal(loaded[key], value), key


def test_pth_round_trip(tmp_path: Path, source_state: dict[str, torch.Tensor]) -> None:
    path = tmp_path / "weights.pth"
    torch.save(source_state, path)
    _assert_holds(build_sam(SMALL, checkpoint=path), source_state)
    fresh = build_sam(SMALL)
    load_checkpoint(fresh, str(path))  # str paths too
    _assert_holds(fresh, source_state)


def test_safetensors_round_trip(tmp_path: Path, source_state: dict[str, torch.Tensor]) -> None:
    path = tmp_path / "weights.safetensors"
    save_file({k: v.contiguous() for k, v in source_state.items()}, str(path))
    _assert_holds(build_sam(SMALL, checkpoint=path), source_state)
    read = read_state_dict(path)
    assert sorted(read) == sorted(source_state)


@pytest.mark.parametrize("wrapper", ["model", "state_dict", "module"])
def test_wrapped_state_dicts_load(
    tmp_path: Path, source_state: dict[str, torch.Tensor], wrapper: str
) -> None:
    path = tmp_path / "wrapped.pth"
    torch.save({wrapper: source_state, "epoch": 3}, path)
    _assert_holds(build_sam(SMALL, checkpoint=path), source_state)


def test_ddp_prefixed_state_dict_loads(tmp_path: Path, source_state: dict[str, torch.Tensor]) -> None:
    path = tmp_path / "ddp.pth"
    torch.save({f"module.{k}": v for k, v in source_state.items()}, path)
    _assert_holds(build_sam(SMALL, checkpoint=path), source_state)


def test_mis_sized_checkpoint_lists_every_misfit(
    tmp_path: Path, source_state: dict[str, torch.Tensor]
) -> None:
    state = dict(source_state)
    del state["mask_decoder.iou_token.weight"]
    state["image_encoder.blocks.7.attn.qkv.weight"] = torch.zeros(3, 3)
    path = tmp_path / "small.pth"
    torch.save(state, path)
    with pytest.raises(CheckpointMismatchError) as info:
        build_sam(OTHER_WIDTH, checkpoint=path)
    error = info.value
    message = str(error)
    assert isinstance(error, ValueError)
    assert "missing" in message and "mask_decoder.iou_token.weight" in message
    assert "unexpected" in message and "image_encoder.blocks.7.attn.qkv.weight" in message
    # Every encoder tensor with a width axis is mis-shaped; the message counts them and shows the first ones
    # with both shapes, the exception carries the full list.
    mis_shaped = {key: (got, want) for key, got, want in error.mismatched}
    target = build_sam(OTHER_WIDTH).state_dict()
    expected_mis_shaped = sorted(k for k, v in state.items() if k in target and target[k].shape != v.shape)
    assert all(key.startswith("image_encoder.") for key in expected_mis_shaped)  # the decoder fits
    assert sorted(mis_shaped) == expected_mis_shaped
    assert f"mis-shaped keys ({len(expected_mis_shaped)})" in message
    first = expected_mis_shaped[0]
    got, want = mis_shaped[first]
    assert f"{first} checkpoint {got} vs model {want}" in message
    assert mis_shaped["image_encoder.patch_embed.proj.weight"] == ((32, 3, 16, 16), (48, 3, 16, 16))
    assert error.missing == ["mask_decoder.iou_token.weight"]
    assert error.unexpected == ["image_encoder.blocks.7.attn.qkv.weight"]


def test_non_strict_loading_keeps_what_fits(tmp_path: Path, source_state: dict[str, torch.Tensor]) -> None:
    path = tmp_path / "small.pth"
    torch.save(source_state, path)
    model = build_sam(OTHER_WIDTH, checkpoint=path, strict=False)
    loaded = model.state_dict()
    for key in ("mask_decoder.iou_token.weight", "prompt_encoder.no_mask_embed.weight"):
        assert torch.equal(loaded[key], source_state[key])


def test_missing_file_is_a_clear_file_not_found(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "sam_vit_b_01ec64.pth"
    with pytest.raises(FileNotFoundError, match="sam_vit_b_01ec64.pth"):
        build_sam(SMALL, checkpoint=missing)
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        read_state_dict(missing)


def test_directory_is_not_a_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_state_dict(tmp_path)


@pytest.mark.parametrize("suffix", [".pth", ".pt", ".bin", ".safetensors"])
def test_garbage_file_is_a_value_error(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"garbage{suffix}"
    path.write_bytes(b"this is not a checkpoint\x00\x01\x02" * 10)
    with pytest.raises(ValueError, match="garbage"):
        read_state_dict(path)


def test_empty_file_is_a_value_error(tmp_path: Path) -> None:
    path = tmp_path / "empty.safetensors"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match="empty.safetensors"):
        read_state_dict(path)


@pytest.mark.parametrize(
    "payload",
    [[torch.zeros(2)], {"epoch": 3, "lr": 0.1}, torch.zeros(3)],
    ids=["list", "no-tensors", "tensor"],
)
def test_checkpoint_without_a_state_dict_is_a_value_error(tmp_path: Path, payload: object) -> None:
    path = tmp_path / "odd.pth"
    torch.save(payload, path)
    with pytest.raises(ValueError, match="odd.pth"):
        read_state_dict(path)


class _NotAWeight:
    pass


def test_pickled_objects_are_refused(tmp_path: Path) -> None:
    """weights_only loading: a pickle carrying arbitrary objects is rejected, not executed."""
    path = tmp_path / "pickle.pth"
    torch.save({"weights": torch.zeros(1), "obj": _NotAWeight()}, path)
    with pytest.raises(ValueError, match="pickle.pth"):
        read_state_dict(path)

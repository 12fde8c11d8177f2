"""The encoder's inference workspace: buffers reused across blocks, and outputs equal to the allocating path.

The allocating path (grad enabled) is the plain module-by-module computation; with the gradient off the blocks
write their qkv, MLP hidden layer and attention bias into one Workspace. Both must give the same embedding, on a
grid whose windows need padding (16 x 16 tokens, windows of 14) and with a global block chunked into several
query-row pieces. The encoder keeps that workspace for its next call (KeptWorkspace): a second image must not
see the first one's data, other threads and copies of the model must not share it, and switching from
inference_mode to no_grad must still work.
"""

from __future__ import annotations

import copy
import pickle
import threading

import pytest
import torch
from core_testing import perturb_

from segany.modeling import vit_attention
from segany.modeling.image_encoder import ImageEncoderViT
from segany.modeling.workspace import KeptWorkspace, Workspace, inference_writes_allowed
from segany.registry import SamConfig, ViTEncoderConfig, build_sam


def test_views_share_one_buffer_and_grow() -> None:
    workspace = Workspace()
    like = torch.empty(0)
    first = workspace.get("a", (2, 3), like)
    first.fill_(1.0)
    second = workspace.get("a", (3,), like)
    assert second.data_ptr() == first.data_ptr(), "a smaller view must reuse the buffer"
    assert second.shape == (3,) and second.is_contiguous()
    larger = workspace.get("a", (4, 4), like)
    assert larger.shape == (4, 4) and larger.is_contiguous()
    other = workspace.get("b", (2, 3), like)
    assert other.data_ptr() != larger.data_ptr(), "names must not share memory"
    as_double = workspace.get("b", (2, 3), torch.empty(0, dtype=torch.float64))
    assert as_double.dtype == torch.float64


def test_workspace_only_without_gradient_or_tracing() -> None:
    with torch.enable_grad():
        assert not inference_writes_allowed()
    with torch.no_grad():
        assert inference_writes_allowed()
    with torch.inference_mode():
        assert inference_writes_allowed()


@pytest.mark.parametrize("bias_elements", [1 << 24, 1 << 12])
def test_inference_embedding_equals_allocating_path(
    bias_elements: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same weights, same input: workspace (no grad) vs allocating (grad) encoder agree to float rounding."""
    monkeypatch.setattr(vit_attention, "_MAX_BIAS_ELEMENTS", bias_elements)  # small: chunked global attention
    torch.manual_seed(0)
    encoder_config = ViTEncoderConfig(embed_dim=48, depth=2, num_heads=3, global_attn_indexes=(1,))
    sam = build_sam(SamConfig(encoder_config, image_size=256)).eval()
    perturb_(sam, seed=1, scale=0.2)  # rel_pos and pos_embed start at zero: make every path matter
    image = torch.randn(1, 3, 256, 256)
    calls: list[bool] = []
    original = Workspace.get

    def spy(self: Workspace, name: str, shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
        calls.append(True)
        return original(self, name, shape, like)

    monkeypatch.setattr(Workspace, "get", spy)
    with torch.enable_grad():
        allocating = sam.image_encoder(image.requires_grad_(True)).detach()
    assert not calls, "the gradient path must not use the workspace"
    with torch.inference_mode():
        reused = sam.image_encoder(image.detach())
    assert calls, "the inference path did not use the workspace"
    scale = allocating.abs().max().item()
    assert (reused - allocating).abs().max().item() <= 1e-5 * scale


def _small_encoder() -> ImageEncoderViT:
    torch.manual_seed(0)
    encoder_config = ViTEncoderConfig(embed_dim=48, depth=2, num_heads=3, global_attn_indexes=(1,))
    sam = build_sam(SamConfig(encoder_config, image_size=256)).eval()
    perturb_(sam, seed=1, scale=0.2)
    encoder = sam.image_encoder
    assert isinstance(encoder, ImageEncoderViT)
    return encoder


def _kept_buffers(encoder: ImageEncoderViT) -> dict[str, torch.Tensor]:
    return encoder._kept_workspace._workspace._buffers


def test_kept_workspace_serves_the_next_image_without_leaking_the_previous_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(vit_attention, "_MAX_BIAS_ELEMENTS", 1 << 12)  # chunked global attention
    encoder = _small_encoder()
    first, second = torch.randn(1, 3, 256, 256), torch.randn(1, 3, 256, 256)
    with torch.enable_grad():
        expected_second = encoder(second).detach()  # allocating path: no workspace at all
    with torch.inference_mode():
        encoder(first)
        pointers = {name: buffer.data_ptr() for name, buffer in _kept_buffers(encoder).items()}
        got_second = encoder(second)
    assert {"qkv", "mlp_hidden", "bias", "keys", "values"} <= set(pointers)
    assert pointers == {name: buffer.data_ptr() for name, buffer in _kept_buffers(encoder).items()}, (
        "the second call must reuse the first call's buffers"
    )
    scale = expected_second.abs().max().item()
    assert (got_second - expected_second).abs().max().item() <= 1e-5 * scale


def test_no_grad_after_inference_mode_replaces_the_inference_buffers() -> None:
    encoder = _small_encoder()
    image = torch.randn(1, 3, 256, 256)
    with torch.inference_mode():
        reference = encoder(image).clone()
    assert all(buffer.is_inference() for buffer in _kept_buffers(encoder).values())
    with torch.no_grad():  # writing into an inference tensor here would raise
        again = encoder(image)
    assert not any(buffer.is_inference() for buffer in _kept_buffers(encoder).values())
    assert torch.equal(again, reference)


def test_a_busy_kept_workspace_hands_out_a_fresh_one() -> None:
    kept = KeptWorkspace()
    with torch.no_grad():
        with kept.borrow() as outer:
            seen: list[Workspace | None] = []
            worker = threading.Thread(target=lambda: seen.append(_borrow_once(kept)))
            worker.start()
            worker.join()
            with kept.borrow() as inner:  # same thread, still busy: not the same object either
                assert inner is not outer
        assert seen and seen[0] is not None and seen[0] is not outer
        with kept.borrow() as after:
            assert after is outer, "once returned, the kept workspace is lent again"
    with torch.enable_grad(), kept.borrow() as none:
        assert none is None


def _borrow_once(kept: KeptWorkspace) -> Workspace | None:
    with torch.no_grad(), kept.borrow() as workspace:
        return workspace


def test_release_copies_and_pickles_start_empty() -> None:
    encoder = _small_encoder()
    with torch.inference_mode():
        encoder(torch.randn(1, 3, 256, 256))
    assert _kept_buffers(encoder)
    for twin in (copy.deepcopy(encoder), pickle.loads(pickle.dumps(encoder))):
        assert not _kept_buffers(twin)
        assert twin._kept_workspace._lock is not encoder._kept_workspace._lock
    encoder.release_workspace()
    assert not _kept_buffers(encoder)

"""The encoder's inference workspace: buffers reused across blocks, and outputs equal to the allocating path.

The allocating path (grad enabled) is the plain module-by-module computation; with the gradient off the blocks
write their qkv, MLP hidden layer and attention bias into one Workspace. Both must give the same embedding, on a
grid whose windows need padding (16 x 16 tokens, windows of 14) and with a global block chunked into several
query-row pieces.
"""

from __future__ import annotations

import pytest
import torch
from core_testing import perturb_

from segany.modeling import vit_attention
from segany.modeling.workspace import Workspace, workspace_for_inference
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
        assert workspace_for_inference() is None
    with torch.no_grad():
        assert isinstance(workspace_for_inference(), Workspace)
    with torch.inference_mode():
        assert isinstance(workspace_for_inference(), Workspace)


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

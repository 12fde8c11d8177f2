"""Every registered model, as a tiny variant: shapes end to end, gradients reaching every parameter,
checkpoints made for another input size, and the fused vs reference attention paths."""

from __future__ import annotations

from contextlib import nullcontext

import pytest
import torch
import torch.nn.functional as F
from core_testing import REDUCED_ENCODER, perturb_

from segany.checkpoint import load_state_dict_into
from segany.modeling import vit_attention
from segany.modeling.reference import reference_paths
from segany.modeling.vit_attention import Attention
from segany.registry import CONFIGS, SamConfig, ViTEncoderConfig, build_sam

# The ViT registry entries (the convolutional segany_small has its own tests in test_conv_encoder.py).
VIT_NAMES = sorted(name for name, config in CONFIGS.items() if isinstance(config.encoder, ViTEncoderConfig))

TINY_IMAGE_SIZE = 256  # 16 x 16 tokens: windows of 14 need padding (16 -> 28), as 64 -> 70 does at full size


def tiny_variant(config: SamConfig) -> SamConfig:
    """Keep the heads and the global-attention rhythm (every k-th block), shrink width, depth and input."""
    enc = config.encoder
    period = enc.depth // len(enc.global_attn_indexes)
    # The registry's pattern is "the last block of every period": check it rather than assume it.
    assert enc.global_attn_indexes == tuple(range(period - 1, enc.depth, period))
    tiny = ViTEncoderConfig(
        embed_dim=8 * enc.num_heads,
        depth=period,
        num_heads=enc.num_heads,
        global_attn_indexes=(period - 1,),
        window_size=enc.window_size,
        mlp_ratio=enc.mlp_ratio,
    )
    return SamConfig(tiny, image_size=TINY_IMAGE_SIZE, prompt_embed_dim=config.prompt_embed_dim)


def _tiny_model(name: str, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = build_sam(tiny_variant(CONFIGS[name]))
    perturb_(model, seed + 1)
    return model


def _batched_input(model: torch.nn.Module, with_masks: bool) -> list[dict[str, torch.Tensor]]:
    """Two images of different aspect ratios; points (labels 1, 0, -1) + box (+ mask) prompts, 2 objects each."""
    size = model.image_size
    low_res = model.prompt_encoder.mask_input_size
    generator = torch.Generator().manual_seed(3)
    items = []
    for (h, w), original in (((size, 3 * size // 4), (400, 300)), ((2 * size // 3, size), (341, 512))):
        item = {
            "image": torch.rand(3, h, w, generator=generator) * 255,
            "original_size": original,
            "point_coords": torch.rand(2, 3, 2, generator=generator) * size,
            "point_labels": torch.tensor([[1, 0, -1], [1, 1, 0]]),
            "boxes": torch.tensor([[10.0, 20.0, 120.0, 150.0], [40.0, 5.0, 250.0, 90.0]]),
        }
        if with_masks:
            item["mask_inputs"] = torch.randn(2, 1, *low_res, generator=generator)
        items.append(item)
    return items


@pytest.mark.parametrize("name", VIT_NAMES)
def test_tiny_variant_shapes(name: str) -> None:
    model = _tiny_model(name).eval()
    grid = TINY_IMAGE_SIZE // 16
    with torch.no_grad():
        batch = _batched_input(model, with_masks=True)
        images = torch.stack([model.preprocess(item["image"]) for item in batch])
        assert images.shape == (2, 3, TINY_IMAGE_SIZE, TINY_IMAGE_SIZE)
        assert model.image_encoder(images).shape == (2, 256, grid, grid)
        sparse, dense = model.prompt_encoder(
            (batch[0]["point_coords"], batch[0]["point_labels"]), batch[0]["boxes"], batch[0]["mask_inputs"]
        )
        assert sparse.shape == (2, 3 + 2, 256)  # no pad point when a box follows
        assert dense.shape == (2, 256, grid, grid)
        sparse_only_points, _ = model.prompt_encoder(
            (batch[0]["point_coords"], batch[0]["point_labels"]), None, None
        )
        assert sparse_only_points.shape == (2, 3 + 1, 256)  # + pad point
        for multimask, count in ((True, 3), (False, 1)):
            outputs = model(batch, multimask_output=multimask)
            for item, out in zip(batch, outputs):
                assert out["masks"].shape == (2, count, *item["original_size"])
                assert out["masks"].dtype == torch.bool
                assert out["iou_predictions"].shape == (2, count)
                assert out["low_res_logits"].shape == (2, count, 4 * grid, 4 * grid)
                assert torch.isfinite(out["low_res_logits"]).all()


@pytest.mark.parametrize("name", VIT_NAMES)
def test_tiny_variant_gradients_reach_every_parameter(name: str) -> None:
    model = _tiny_model(name).train()
    # Pass A: points (positive, negative, padding) + box + mask, 3-mask output.
    # Pass B: points only (the pad point), no mask (no_mask_embed), single-mask output (token 0).
    loss = torch.zeros(())
    for with_masks, multimask in ((True, True), (False, False)):
        batch = _batched_input(model, with_masks)
        if not with_masks:
            for item in batch:
                del item["boxes"]
        for out in model(batch, multimask_output=multimask):
            loss = loss + out["low_res_logits"].pow(2).mean() + out["iou_predictions"].sum()
    loss.backward()
    no_grad = [n for n, p in model.named_parameters() if p.grad is None]
    zero_grad = [n for n, p in model.named_parameters() if p.grad is not None and not p.grad.abs().sum() > 0]
    assert not no_grad, f"parameters without gradient: {no_grad}"
    assert not zero_grad, f"parameters with all-zero gradient: {zero_grad}"
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())


def _reduced_state_1024(seed: int = 0) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    model = build_sam(SamConfig(REDUCED_ENCODER))
    perturb_(model, seed + 1, scale=0.2)
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_512_model_loads_a_1024_checkpoint() -> None:
    state = _reduced_state_1024()
    small = build_sam(SamConfig(REDUCED_ENCODER, image_size=512))
    load_state_dict_into(small, state, strict=True)
    loaded = small.state_dict()
    assert set(loaded) == set(state)
    global_block = REDUCED_ENCODER.global_attn_indexes[0]
    resized = {"image_encoder.pos_embed"} | {
        f"image_encoder.blocks.{global_block}.attn.rel_pos_{axis}" for axis in "hw"
    }
    for key, value in loaded.items():
        if key not in resized:
            assert torch.equal(value, state[key]), key
    # Absolute position embedding: 1 x 64 x 64 x C -> 1 x 32 x 32 x C, bicubic (align_corners=False).
    pos = state["image_encoder.pos_embed"]
    expected = F.interpolate(pos.permute(0, 3, 1, 2), size=(32, 32), mode="bicubic", align_corners=False)
    torch.testing.assert_close(loaded["image_encoder.pos_embed"], expected.permute(0, 2, 3, 1))
    # Global-attention relative tables: 127 x d -> 63 x d, linear along the offset axis; windowed ones keep 27.
    for axis in "hw":
        table = state[f"image_encoder.blocks.{global_block}.attn.rel_pos_{axis}"]
        assert table.shape[0] == 127
        expected_table = F.interpolate(table.T[None], size=63, mode="linear", align_corners=False)[0].T
        torch.testing.assert_close(
            loaded[f"image_encoder.blocks.{global_block}.attn.rel_pos_{axis}"], expected_table
        )
    assert loaded["image_encoder.blocks.0.attn.rel_pos_h"].shape[0] == 27
    small.eval()
    with torch.no_grad():
        assert small.image_encoder(torch.randn(1, 3, 512, 512)).shape == (1, 256, 32, 32)


def test_resizing_keeps_a_constant_position_embedding_constant() -> None:
    """Implementation-independent property of any sane resize: a constant field stays constant."""
    state = _reduced_state_1024()
    state["image_encoder.pos_embed"] = torch.full_like(state["image_encoder.pos_embed"], 0.25)
    small = build_sam(SamConfig(REDUCED_ENCODER, image_size=512))
    load_state_dict_into(small, state, strict=True)
    torch.testing.assert_close(small.image_encoder.pos_embed, torch.full((1, 32, 32, 96), 0.25))


@pytest.mark.parametrize("chunked", [False, True])
def test_fused_and_reference_attention_agree(monkeypatch: pytest.MonkeyPatch, chunked: bool) -> None:
    model = _tiny_model("vit_b").eval()
    if chunked:
        # Force the query-row chunking that global attention uses on big grids.
        monkeypatch.setattr(vit_attention, "_MAX_BIAS_ELEMENTS", 4096)
    images = torch.randn(2, 3, TINY_IMAGE_SIZE, TINY_IMAGE_SIZE, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        fused = model.image_encoder(images)
        with reference_paths():
            reference = model.image_encoder(images)
    torch.testing.assert_close(fused, reference, rtol=1e-4, atol=1e-4)
    assert fused.abs().max() > 0.1


@pytest.mark.parametrize("use_rel_pos", [True, False])
@pytest.mark.parametrize("grid", [(14, 14), (9, 23)])
def test_attention_module_paths_agree(
    monkeypatch: pytest.MonkeyPatch, use_rel_pos: bool, grid: tuple[int, int]
) -> None:
    torch.manual_seed(0)
    attn = Attention(48, num_heads=4, use_rel_pos=use_rel_pos, input_size=grid)
    perturb_(attn, seed=5, scale=0.3)
    x = torch.randn(3, *grid, 48)
    monkeypatch.setattr(vit_attention, "_MAX_BIAS_ELEMENTS", 3 * 4 * grid[1] * grid[0] * grid[1] * 2)
    with torch.no_grad():
        fused = attn(x)
        with reference_paths():
            reference = attn(x)
    torch.testing.assert_close(fused, reference, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("chunks", ["none", "head groups", "row bands"])
def test_fused_and_reference_attention_gradients_agree(monkeypatch: pytest.MonkeyPatch, chunks: str) -> None:
    torch.manual_seed(0)
    grid = (16, 16)
    attn = Attention(48, num_heads=4, use_rel_pos=True, input_size=grid)
    perturb_(attn, seed=6, scale=0.3)
    bias_per_row = grid[1] * grid[0] * grid[1]
    # head groups: 3 heads of all rows fit, spread evenly: chunks of (1 image, 2 heads, all rows);
    # row bands: 3 rows of one head fit: chunks of (1 image, 1 head, 3 rows).
    if chunks == "head groups":
        monkeypatch.setattr(vit_attention, "_MAX_BIAS_ELEMENTS", 3 * grid[0] * bias_per_row)
    elif chunks == "row bands":
        monkeypatch.setattr(vit_attention, "_MAX_BIAS_ELEMENTS", 3 * bias_per_row)
    attn.double()  # float64: the comparison is about the maths, not float32 summation order
    x = torch.randn(2, *grid, 48, dtype=torch.float64)
    grads = []
    for fused in (True, False):
        attn.zero_grad()
        x_in = x.clone().requires_grad_(True)
        with nullcontext() if fused else reference_paths():
            attn(x_in).pow(2).sum().backward()
        grads.append([x_in.grad] + [p.grad.clone() for p in attn.parameters()])
    for fused_grad, reference_grad in zip(*grads):
        torch.testing.assert_close(fused_grad, reference_grad, rtol=1e-9, atol=1e-9)


def test_attention_reference_path_is_plain_softmax_attention() -> None:
    """Independent check of the maths: rel-pos attention with explicit loops over heads and positions."""
    torch.manual_seed(0)
    h, w, dim, heads = 3, 4, 8, 2
    attn = Attention(dim, num_heads=heads, use_rel_pos=True, input_size=(h, w))
    perturb_(attn, seed=2, scale=0.5)
    x = torch.randn(1, h, w, dim)
    with torch.no_grad():
        got = attn(x)
        qkv = attn.qkv(x.reshape(h * w, dim)).reshape(h * w, 3, heads, dim // heads)
        out = torch.zeros(h * w, heads, dim // heads)
        for head in range(heads):
            q, k, v = qkv[:, 0, head], qkv[:, 1, head], qkv[:, 2, head]
            logits = torch.empty(h * w, h * w)
            for i in range(h * w):
                qi_h, qi_w = divmod(i, w)
                for j in range(h * w):
                    kj_h, kj_w = divmod(j, w)
                    logits[i, j] = (
                        (q[i] @ k[j]) * (dim // heads) ** -0.5
                        + q[i] @ attn.rel_pos_h[qi_h - kj_h + h - 1]
                        + q[i] @ attn.rel_pos_w[qi_w - kj_w + w - 1]
                    )
            out[:, head] = logits.softmax(-1) @ v
        expected = attn.proj(out.reshape(1, h, w, dim))
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("with_mask_prompt", [False, True])
def test_fused_and_reference_mask_upscaling_agree(with_mask_prompt: bool) -> None:
    """The matmul formulation of the decoder's upscaling equals the ConvTranspose2d modules (values and grads)."""
    torch.manual_seed(0)
    model = build_sam(SamConfig(ViTEncoderConfig(32, 1, 2, (0,)), image_size=256))
    perturb_(model, seed=3)
    decoder = model.mask_decoder
    embedding = torch.randn(1, 256, 16, 16)
    points = (torch.rand(3, 2, 2) * 256, torch.tensor([[1, 0], [1, 1], [0, 1]]))
    masks = torch.randn(3, 1, 64, 64) if with_mask_prompt else None
    outputs = {}
    for fused in (True, False):
        decoder.zero_grad()
        with nullcontext() if fused else reference_paths():
            sparse, dense = model.prompt_encoder(points, None, masks)
            logits, _ = decoder.predict_masks(embedding, model.prompt_encoder.get_dense_pe(), sparse, dense)
            logits.square().mean().backward()
        outputs[fused] = (logits.detach(), decoder.output_upscaling[0].weight.grad.clone())
    torch.testing.assert_close(outputs[True][0], outputs[False][0], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(outputs[True][1], outputs[False][1], rtol=1e-4, atol=1e-6)
    assert outputs[False][0].abs().max() > 0.1

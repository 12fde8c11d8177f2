"""The convolutional encoder of `segany_small`: shapes, gradients, an independent recomputation of its forward,
checkpoint round trips and architecture inference."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from core_testing import perturb_

from segany.checkpoint import load_checkpoint
from segany.modeling.conv_encoder import ImageEncoderConv
from segany.registry import ConvEncoderConfig, SamConfig, build_sam, infer_model_name, resolve_config

SMALL = SamConfig(
    ConvEncoderConfig(widths=(16, 24, 32), depths=(1, 1, 3)), image_size=128, prompt_embed_dim=32
)


def test_registry_entry_shapes() -> None:
    config = resolve_config("segany_small")
    sam = build_sam(config)
    grid = config.image_size // 16
    with torch.no_grad():
        out = sam.image_encoder(torch.randn(1, 3, config.image_size, config.image_size))
    assert out.shape == (1, config.prompt_embed_dim, grid, grid)
    assert tuple(sam.prompt_encoder.image_embedding_size) == (grid, grid)
    assert tuple(sam.prompt_encoder.mask_input_size) == (4 * grid, 4 * grid)


def test_gradients_reach_every_parameter() -> None:
    torch.manual_seed(0)
    sam = build_sam(SMALL).train()
    size = SMALL.image_size
    embeddings = sam.image_encoder(torch.randn(2, 3, size, size))
    sparse, dense = sam.prompt_encoder(
        (torch.rand(2, 2, 2) * size, torch.tensor([[1, 0], [1, 1]])),
        torch.tensor([[4.0, 8.0, 90.0, 100.0], [10.0, 10.0, 60.0, 50.0]]),
        torch.randn(2, 1, *sam.prompt_encoder.mask_input_size),
    )
    logits, iou = sam.mask_decoder.predict_masks(embeddings, sam.prompt_encoder.get_dense_pe(), sparse, dense)
    (logits.square().mean() + iou.square().mean()).backward()
    # Unused by these prompts: the padding point (absent with a box) and the no-mask embedding (masks given).
    no_grad = [n for n, p in sam.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert sorted(no_grad) == [
        "prompt_encoder.no_mask_embed.weight",
        "prompt_encoder.not_a_point_embed.weight",
    ]
    assert all(p.grad is not None for n, p in sam.named_parameters() if n.startswith("image_encoder."))


def _reference_forward(encoder: ImageEncoderConv, x: torch.Tensor) -> torch.Tensor:
    """The documented layout written out with functional ops, from the parameters alone."""

    def gn(module: torch.nn.GroupNorm, y: torch.Tensor) -> torch.Tensor:
        return F.group_norm(y, module.num_groups, module.weight, module.bias, module.eps)

    def conv_norm_act(block: torch.nn.Sequential, y: torch.Tensor) -> torch.Tensor:
        conv, norm = block[0], block[1]
        return F.gelu(gn(norm, F.conv2d(y, conv.weight, stride=conv.stride, padding=1)))

    def residual(block: torch.nn.Module, y: torch.Tensor, dilation: int) -> torch.Tensor:
        z = F.conv2d(y, block.conv1.weight, padding=dilation, dilation=dilation)
        z = F.gelu(gn(block.norm1, z))
        z = gn(block.norm2, F.conv2d(z, block.conv2.weight, padding=dilation, dilation=dilation))
        return F.gelu(y + z)

    def layer_norm_2d(norm: torch.nn.Module, y: torch.Tensor) -> torch.Tensor:
        z = F.layer_norm(y.permute(0, 2, 3, 1), (y.shape[1],), norm.weight, norm.bias, norm.eps)
        return z.permute(0, 3, 1, 2)

    y = conv_norm_act(encoder.stem[1], conv_norm_act(encoder.stem[0], x))
    for block in encoder.stage1:
        y = residual(block, y, 1)
    mid = conv_norm_act(encoder.down2, y)
    for block in encoder.stage2:
        mid = residual(block, mid, 1)
    deep = conv_norm_act(encoder.down3, mid)
    for i, block in enumerate(encoder.stage3):
        deep = residual(block, deep, [1, 2, 4][i % 3])
    y = deep + F.conv2d(F.avg_pool2d(mid, 2), encoder.skip.weight)
    y = layer_norm_2d(encoder.neck[1], F.conv2d(y, encoder.neck[0].weight))
    return layer_norm_2d(encoder.neck[3], F.conv2d(y, encoder.neck[2].weight, padding=1))


def test_forward_matches_an_independent_recomputation() -> None:
    torch.manual_seed(1)
    sam = build_sam(SMALL)
    perturb_(sam, 2)  # norms and all weights away from their initial values
    x = torch.randn(2, 3, SMALL.image_size, SMALL.image_size)
    with torch.no_grad():
        ours = sam.image_encoder(x)
        reference = _reference_forward(sam.image_encoder, x)
    torch.testing.assert_close(ours, reference, rtol=1e-5, atol=1e-5)


def test_checkpoint_round_trip_and_inference(tmp_path: Path) -> None:
    torch.manual_seed(2)
    sam = build_sam(resolve_config("segany_small"))
    perturb_(sam, 3)
    path = tmp_path / "small.pth"
    torch.save(sam.state_dict(), path)
    assert infer_model_name(torch.load(path, weights_only=True)) == ("segany_small", 512)
    other = build_sam(resolve_config("segany_small"))
    load_checkpoint(other, path, strict=True)
    for (name, a), (_, b) in zip(sam.state_dict().items(), other.state_dict().items()):
        assert torch.equal(a, b), name


def test_unregistered_conv_layout_is_rejected() -> None:
    state = build_sam(SMALL).state_dict()
    with pytest.raises(ValueError, match="no registered SAM has the convolutional encoder"):
        infer_model_name(state)


@pytest.mark.parametrize(("widths", "depths"), [((16, 32), (1, 1, 1)), ((16, 32, 64), (1, 1))])
def test_bad_stage_lists_are_rejected(widths: tuple[int, ...], depths: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="widths and depths must have 3 entries"):
        ImageEncoderConv(img_size=64, widths=widths, depths=depths)

"""PatchEmbed's matrix-product form against the convolution it replaces (torch's own Conv2d kernel)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from segany.modeling.image_encoder import PatchEmbed


@pytest.mark.parametrize(("batch", "size", "bias"), [(1, 64, True), (2, 48, True), (1, 32, False)])
def test_tokens_equal_the_strided_convolution(batch: int, size: int, bias: bool) -> None:
    torch.manual_seed(0)
    embed = PatchEmbed(patch_size=16, in_chans=3, embed_dim=24)
    if not bias:
        embed.proj.bias = None
    image = torch.randn(batch, 3, size, size, requires_grad=True)
    tokens = embed(image)
    expected = F.conv2d(image, embed.proj.weight, embed.proj.bias, stride=16).permute(0, 2, 3, 1)
    assert tokens.shape == (batch, size // 16, size // 16, 24) and tokens.is_contiguous()
    torch.testing.assert_close(tokens, expected, rtol=1e-5, atol=1e-5)
    tokens.square().sum().backward()  # the product form is differentiable
    assert embed.proj.weight.grad is not None and image.grad is not None


def test_size_not_divisible_by_the_patch_falls_back_to_the_convolution() -> None:
    torch.manual_seed(1)
    embed = PatchEmbed(patch_size=16, in_chans=3, embed_dim=8)
    image = torch.randn(1, 3, 40, 50)  # the convolution drops the partial patches: 2 x 3 tokens
    expected = F.conv2d(image, embed.proj.weight, embed.proj.bias, stride=16).permute(0, 2, 3, 1)
    torch.testing.assert_close(embed(image), expected)

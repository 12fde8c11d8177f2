"""`reference_paths()`: one switch that really routes every fast path to its reference maths."""

from __future__ import annotations

import threading

import pytest
import torch

import segany.modeling.mask_decoder as mask_decoder_module
from segany.modeling.decoder_lowrank import supports_low_rank
from segany.modeling.reference import reference_paths, use_reference_paths
from segany.modeling.vit_attention import Attention
from segany.registry import SamConfig, ViTEncoderConfig, build_sam


def test_switch_nests_and_is_seen_by_other_threads() -> None:
    assert not use_reference_paths()
    seen: list[bool] = []
    with reference_paths():
        with reference_paths():
            assert use_reference_paths()
        assert use_reference_paths()
        thread = threading.Thread(target=lambda: seen.append(use_reference_paths()))
        thread.start()
        thread.join()
    assert seen == [True] and not use_reference_paths()
    with pytest.raises(RuntimeError), reference_paths():
        raise RuntimeError("left by an exception")
    assert not use_reference_paths()


def test_switch_routes_attention_upscaling_and_low_rank(monkeypatch: pytest.MonkeyPatch) -> None:
    model = build_sam(SamConfig(ViTEncoderConfig(32, 1, 2, (0,)), image_size=256)).eval()
    calls: list[str] = []
    reference_attention = Attention._reference_attention
    fused_upscaling = mask_decoder_module.MaskDecoder._upscale_tokens_and_dot

    def spy_attention(self: Attention, *args: object) -> torch.Tensor:
        calls.append("reference attention")
        return reference_attention(self, *args)

    def spy_upscaling(self: object, *args: object) -> torch.Tensor:
        calls.append("fused upscaling")
        return fused_upscaling(self, *args)

    monkeypatch.setattr(Attention, "_reference_attention", spy_attention)
    monkeypatch.setattr(mask_decoder_module.MaskDecoder, "_upscale_tokens_and_dot", spy_upscaling)
    image = torch.randn(1, 3, 256, 256)
    points = (torch.tensor([[[100.0, 120.0]]]), torch.tensor([[1]]))
    with torch.no_grad():
        for reference in (False, True):
            calls.clear()
            with reference_paths() if reference else torch.no_grad():
                embedding = model.image_encoder(image)
                sparse, dense = model.prompt_encoder(points, None, None)
                model.mask_decoder(embedding, model.prompt_encoder.get_dense_pe(), sparse, dense, True)
                low_rank = supports_low_rank(model.mask_decoder)
            if reference:
                assert "reference attention" in calls and "fused upscaling" not in calls and not low_rank
            else:
                assert "reference attention" not in calls and "fused upscaling" in calls and low_rank

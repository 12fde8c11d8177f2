"""Hugging Face `transformers.SamModel` checkpoints: converted by `segany.hf_checkpoint`, loaded strictly, and
compared numerically with the Hugging Face model itself (same 1024 x 1024 pixel tensor, same prompts in the
1024 frame, as Hugging Face's own processor produces them)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import torch
from core_testing import assert_scaled_close, load_photo, max_abs, max_diff, perturb_

from segany.checkpoint import CheckpointMismatchError, load_state_dict_into, read_state_dict
from segany.hf_checkpoint import convert_hf_state_dict, is_hf_state_dict
from segany.predictor import SamPredictor
from segany.registry import SamConfig, ViTEncoderConfig, build_sam

ENCODER = ViTEncoderConfig(embed_dim=96, depth=2, num_heads=3, global_attn_indexes=(1,))
OFFICIAL_DECODER_EPS = 1e-5  # torch.nn.LayerNorm's default, what the official decoder uses


def _import_transformers() -> ModuleType:
    """Import transformers' SAM while hiding the oracle's torchvision stand-in (tests/oracle_shims).

    transformers imports torchvision.transforms.InterpolationMode whenever torchvision is importable; the
    stand-in only has what segment-anything needs. Hiding it while transformers decides (and caches) whether
    torchvision is available makes transformers use its PIL code paths.
    """
    hidden_paths = [p for p in sys.path if Path(p).name == "oracle_shims"]
    hidden_modules = {k: sys.modules.pop(k) for k in list(sys.modules) if k.split(".")[0] == "torchvision"}
    saved_path = list(sys.path)
    sys.path[:] = [p for p in sys.path if p not in hidden_paths]
    try:
        import_utils = importlib.import_module("transformers.utils.import_utils")
        import_utils.is_torchvision_available.cache_clear()
        assert not import_utils.is_torchvision_available()
    finally:
        sys.path[:] = saved_path
        sys.modules.update(hidden_modules)
    return importlib.import_module("transformers")


pytest.importorskip("transformers")
transformers = _import_transformers()


def _hf_model(decoder_eps: float | None, seed: int = 0) -> torch.nn.Module:
    """A random SamModel with a reduced vision encoder (input 1024, so the decoder grid stays 64 x 64)."""
    vision = transformers.SamVisionConfig(
        hidden_size=ENCODER.embed_dim,
        num_hidden_layers=ENCODER.depth,
        num_attention_heads=ENCODER.num_heads,
        global_attn_indexes=list(ENCODER.global_attn_indexes),
        image_size=1024,
    )
    decoder = transformers.SamMaskDecoderConfig(
        **({} if decoder_eps is None else {"layer_norm_eps": decoder_eps})
    )
    torch.manual_seed(seed)
    model = transformers.SamModel(transformers.SamConfig(vision_config=vision, mask_decoder_config=decoder))
    perturb_(model, seed + 1)  # pos_embed / rel_pos are zero-initialised by Hugging Face too
    return model.eval()


@pytest.fixture(scope="module")
def hf_official_eps() -> torch.nn.Module:
    return _hf_model(OFFICIAL_DECODER_EPS)


@pytest.fixture(scope="module")
def processed() -> dict[str, object]:
    """Hugging Face's processor output for a photo with one point and one box (its PIL backend)."""
    image = load_photo("dog.jpg")
    processor = transformers.SamProcessor(image_processor=transformers.SamImageProcessorPil())
    point = [[[[520.0, 260.0]]]]
    box = [[[150.0, 120.0, 610.0, 500.0]]]
    with_point = processor(images=image, input_points=point, input_labels=[[[1]]], return_tensors="pt")
    with_box = processor(images=image, input_boxes=box, return_tensors="pt")
    return {
        "image": image,
        "pixel_values": with_point["pixel_values"],
        "input_points": with_point["input_points"].float(),  # 1 x 1 x 1 x 2, 1024 frame
        "input_labels": with_point["input_labels"],
        "input_boxes": with_box["input_boxes"].float(),  # 1 x 1 x 4, 1024 frame
        "point": np.array(point[0][0]),
        "box": np.array(box[0][0]),
    }


def _converted_model(hf: torch.nn.Module, tmp_path: Path) -> torch.nn.Module:
    hf.save_pretrained(tmp_path)
    state = read_state_dict(tmp_path / "model.safetensors")  # converted on read
    model = build_sam(SamConfig(ENCODER))
    load_state_dict_into(model, state, strict=True)
    return model.eval()


def test_conversion_covers_every_key_with_identical_tensors(hf_official_eps: torch.nn.Module) -> None:
    hf_state = hf_official_eps.state_dict()
    assert is_hf_state_dict(hf_state)
    converted = convert_hf_state_dict(hf_state)
    target = build_sam(SamConfig(ENCODER)).state_dict()
    assert sorted(converted) == sorted(target)
    assert {k: tuple(v.shape) for k, v in converted.items()} == {k: tuple(v.shape) for k, v in target.items()}
    # A pure renaming: every Hugging Face tensor arrives unchanged (same values, no transposes).
    values = {id(v) for v in converted.values()}
    assert all(id(v) in values for k, v in hf_state.items() if "positional_embedding" not in k)
    fourier = converted["prompt_encoder.pe_layer.positional_encoding_gaussian_matrix"]
    assert torch.equal(fourier, hf_state["shared_image_embedding.positional_embedding"])
    head = "mask_decoder.iou_prediction_head"
    assert torch.equal(converted[f"{head}.layers.0.weight"], hf_state[f"{head}.proj_in.weight"])
    assert torch.equal(converted[f"{head}.layers.1.weight"], hf_state[f"{head}.layers.0.weight"])
    assert torch.equal(converted[f"{head}.layers.2.bias"], hf_state[f"{head}.proj_out.bias"])


def test_official_state_dicts_are_not_taken_for_hugging_face_ones() -> None:
    assert not is_hf_state_dict(build_sam(SamConfig(ENCODER)).state_dict())


def _decode_ours(model: torch.nn.Module, embedding: torch.Tensor, points=None, boxes=None, multimask=True):
    with torch.no_grad():
        sparse, dense = model.prompt_encoder(points=points, boxes=boxes, masks=None)
        return model.mask_decoder(embedding, model.prompt_encoder.get_dense_pe(), sparse, dense, multimask)


def _compare_with_hf(
    hf: torch.nn.Module, ours: torch.nn.Module, processed: dict, logit_rtol: float, iou_atol: float
) -> dict[str, float]:
    pixels = processed["pixel_values"]
    with torch.no_grad():
        hf_embedding = hf.get_image_embeddings(pixels)
        our_embedding = ours.image_encoder(pixels)
    diffs = {"embedding": assert_scaled_close(our_embedding, hf_embedding, "image embedding")}
    points, labels, boxes = processed["input_points"], processed["input_labels"], processed["input_boxes"]
    for name, hf_kwargs, our_kwargs, multimask in (
        ("point", {"input_points": points, "input_labels": labels}, {"points": (points[0], labels[0])}, True),
        ("box", {"input_boxes": boxes}, {"boxes": boxes[0]}, False),
    ):
        with torch.no_grad():
            out = hf(image_embeddings=hf_embedding, multimask_output=multimask, **hf_kwargs)
        low_res, iou = _decode_ours(ours, hf_embedding, multimask=multimask, **our_kwargs)
        hf_low_res, hf_iou = out.pred_masks[0], out.iou_scores[0]  # image axis dropped: 1 x C x 256 x 256
        assert low_res.shape == hf_low_res.shape == (1, 3 if multimask else 1, 256, 256)
        diffs[f"{name} low-res"] = max_diff(low_res, hf_low_res)
        diffs[f"{name} iou"] = max_diff(iou, hf_iou)
        assert diffs[f"{name} low-res"] <= logit_rtol * max(1.0, max_abs(hf_low_res)), diffs
        assert diffs[f"{name} iou"] <= iou_atol, diffs
    return diffs


def test_save_pretrained_checkpoint_matches_hugging_face_outputs(
    hf_official_eps: torch.nn.Module, processed: dict, tmp_path: Path
) -> None:
    ours = _converted_model(hf_official_eps, tmp_path)
    _compare_with_hf(hf_official_eps, ours, processed, logit_rtol=1e-4, iou_atol=1e-5)


def test_hugging_face_default_decoder_eps_only_shifts_outputs_slightly(
    processed: dict, tmp_path: Path
) -> None:
    """Hugging Face's decoder LayerNorms use eps 1e-6 (official: 1e-5): close, not exact (see hf_checkpoint)."""
    hf = _hf_model(decoder_eps=None)
    assert hf.config.mask_decoder_config.layer_norm_eps == 1e-6
    ours = _converted_model(hf, tmp_path)
    _compare_with_hf(hf, ours, processed, logit_rtol=1e-3, iou_atol=1e-3)


def test_hugging_face_processor_conventions_match_the_predictor(
    hf_official_eps: torch.nn.Module, processed: dict, tmp_path: Path
) -> None:
    """End to end: our predictor on the photo (own resize / normalise / coordinate mapping) vs Hugging Face
    fed its processor's pixel values and rescaled prompts."""
    ours = _converted_model(hf_official_eps, tmp_path)
    predictor = SamPredictor(ours)
    predictor.set_image(processed["image"])
    assert tuple(processed["pixel_values"].shape) == (1, 3, 1024, 1024)
    with torch.no_grad():
        hf_embedding = hf_official_eps.get_image_embeddings(processed["pixel_values"])
    assert_scaled_close(predictor.get_image_embedding(), hf_embedding, "predictor vs HF embedding")
    mapped = predictor.transform.apply_coords(processed["point"], predictor.original_size)
    np.testing.assert_allclose(mapped, processed["input_points"][0, 0].numpy(), atol=1e-4)
    _, scores, low_res = predictor.predict(processed["point"], np.array([1]), multimask_output=True)
    with torch.no_grad():
        out = hf_official_eps(
            image_embeddings=hf_embedding,
            input_points=processed["input_points"],
            input_labels=processed["input_labels"],
            multimask_output=True,
        )
    assert_scaled_close(low_res, out.pred_masks[0, 0], "predictor vs HF low-res logits")
    assert max_diff(scores, out.iou_scores[0, 0]) <= 1e-5


@pytest.mark.parametrize("suffix", [".bin", ".pth"])
def test_torch_saved_hugging_face_state_dicts_load(
    hf_official_eps: torch.nn.Module, tmp_path: Path, suffix: str
) -> None:
    path = tmp_path / f"pytorch_model{suffix}"
    hf_state = hf_official_eps.state_dict()  # holds both tied Fourier keys
    torch.save(hf_state, path)
    model = build_sam(SamConfig(ENCODER), checkpoint=path)
    loaded = model.state_dict()
    assert torch.equal(
        loaded["image_encoder.blocks.1.norm2.weight"], hf_state["vision_encoder.layers.1.layer_norm2.weight"]
    )
    assert torch.equal(
        loaded["mask_decoder.output_upscaling.3.weight"], hf_state["mask_decoder.upscale_conv2.weight"]
    )


def test_untied_fourier_matrices_are_refused(hf_official_eps: torch.nn.Module) -> None:
    state = dict(hf_official_eps.state_dict())
    state["prompt_encoder.shared_embedding.positional_embedding"] = torch.randn(2, 128)
    with pytest.raises(ValueError, match="Fourier"):
        convert_hf_state_dict(state)


def test_unknown_hugging_face_keys_surface_in_strict_loading(hf_official_eps: torch.nn.Module) -> None:
    state = dict(hf_official_eps.state_dict())
    state["vision_encoder.some_new_adapter.weight"] = torch.zeros(3)
    del state["mask_decoder.iou_token.weight"]
    with pytest.raises(CheckpointMismatchError) as info:
        load_state_dict_into(build_sam(SamConfig(ENCODER)), convert_hf_state_dict(state), strict=True)
    assert info.value.unexpected == ["vision_encoder.some_new_adapter.weight"]
    assert info.value.missing == ["mask_decoder.iou_token.weight"]

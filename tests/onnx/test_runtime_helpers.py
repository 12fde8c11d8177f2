"""The torch-free pieces of the runtime: resizing, upscaling, metadata, and OnnxPredictor's API edges."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from onnx_testing import load_photo, mask_agreement, max_abs_diff, session_options
from PIL import Image

from segany import geometry
from segany.geometry import (
    resize_longest_side,
    resized_shape,
    scale_coords,
    upscale_logits,
    upscale_masks,
)
from segany.modeling.mask_upsampling import upscale_mask_logits
from segany.onnx.contract import METADATA_FILE, ExportMetadata
from segany.onnx.runtime import ImageNotSetError, OnnxPredictor
from segany.predictor import SamPredictor
from segany.transforms import ResizeLongestSide


def test_resize_rules_follow_the_official_rule() -> None:
    """Independent arithmetic: the official rule scales by S / max(H, W) and rounds each side half up."""
    for height, width in [(534, 800), (427, 280), (1, 1), (1500, 2250), (1024, 1024), (333, 2049), (2048, 1)]:
        scale = 1024 / max(height, width)
        assert resized_shape(height, width, 1024) == (int(height * scale + 0.5), int(width * scale + 0.5))
    image = load_photo("chelsea.jpg")
    expected_h, expected_w = resized_shape(*image.shape[:2], 1024)
    pil = Image.fromarray(image).resize((expected_w, expected_h), Image.BILINEAR)
    np.testing.assert_array_equal(resize_longest_side(image, 1024), np.asarray(pil))
    np.testing.assert_array_equal(ResizeLongestSide(1024).apply_image(image), np.asarray(pil))
    coords = np.array([[10.5, 20.0], [450.0, 299.0]])
    expected = coords * np.array([expected_w / image.shape[1], expected_h / image.shape[0]])
    np.testing.assert_allclose(scale_coords(coords, image.shape[:2], 1024), expected)
    np.testing.assert_allclose(ResizeLongestSide(1024).apply_coords(coords, image.shape[:2]), expected)


@pytest.mark.parametrize("use_cv2", [True, False], ids=["cv2", "pillow_numpy"])
@pytest.mark.parametrize("original", [(1500, 2250), (534, 800), (427, 280), (1024, 1024), (2000, 90)])
def test_upscale_logits_matches_torch(use_cv2: bool, original: tuple[int, int]) -> None:
    """Both paths equal torch's bilinear (align_corners=False) chain, enlarging and shrinking."""
    generator = torch.Generator().manual_seed(0)
    low_res = torch.nn.functional.avg_pool2d(torch.randn(1, 3, 260, 260, generator=generator) * 20, 5, 1)[
        ..., :256, :256
    ]
    input_size = resized_shape(*original, 1024)
    with torch.no_grad():
        expected = torch.nn.functional.interpolate(
            low_res, (1024, 1024), mode="bilinear", align_corners=False
        )
        expected = expected[..., : input_size[0], : input_size[1]]
        expected = torch.nn.functional.interpolate(expected, original, mode="bilinear", align_corners=False)[
            0
        ].numpy()
    ours = upscale_logits(low_res[0].numpy(), 1024, input_size, original, use_cv2=use_cv2)
    assert ours.shape == (3, *original) and ours.dtype == np.float32
    assert max_abs_diff(ours, expected) <= 1e-3
    assert mask_agreement(ours > 0, expected > 0) >= 0.9999
    # and equal to what the torch predictor's own (OpenCV) path produces
    predictor_path = upscale_mask_logits(low_res, 1024, input_size, original)[0].numpy()
    assert max_abs_diff(ours, predictor_path) <= 1e-4


@pytest.mark.parametrize("use_cv2", [True, False], ids=["cv2", "pillow_numpy"])
@pytest.mark.parametrize("original", [(1500, 2250), (427, 280), (2000, 90)])
def test_upscale_masks_equals_thresholded_logits(
    use_cv2: bool, original: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The in-place binary path gives exactly `upscale_logits(...) > threshold` (same kernels, same values)."""
    if not use_cv2:
        monkeypatch.setattr(geometry, "_CV2", None)
    rng = np.random.default_rng(1)
    low_res = rng.normal(0.0, 3.0, (3, 256, 256)).astype(np.float32)
    input_size = resized_shape(*original, 1024)
    expected = upscale_logits(low_res, 1024, input_size, original) > 0.5
    out = np.ones((3, *original), dtype=np.bool_)
    masks = upscale_masks(low_res, 1024, input_size, original, 0.5, out=out)
    assert masks is out
    np.testing.assert_array_equal(masks, expected)
    np.testing.assert_array_equal(upscale_masks(low_res, 1024, input_size, original, 0.5), expected)
    with pytest.raises(ValueError, match="M x h x w"):
        upscale_masks(low_res[0], 1024, input_size, original, 0.5)


@pytest.mark.skipif(geometry._CV2 is None, reason="needs OpenCV")
@pytest.mark.parametrize("original", [(1500, 2250), (2250, 1500), (534, 800), (1024, 1024), (90, 2000)])
def test_cv2_upscaling_of_the_needed_rows_only_equals_the_full_map(original: tuple[int, int]) -> None:
    """The S x S stage resizes only the low-res rows / columns inside the crop: the same values, bit for bit,
    as resizing the whole map and cropping (OpenCV directly, then the same second resize)."""
    cv2 = geometry._CV2
    rng = np.random.default_rng(2)
    low_res = rng.normal(0.0, 3.0, (256, 256)).astype(np.float32)
    input_size = resized_shape(*original, 1024)
    whole = cv2.resize(low_res, (1024, 1024), interpolation=cv2.INTER_LINEAR)[
        : input_size[0], : input_size[1]
    ]
    expected = cv2.resize(whole, (original[1], original[0]), interpolation=cv2.INTER_LINEAR)
    ours = upscale_logits(low_res[None], 1024, input_size, original, use_cv2=True)[0]
    np.testing.assert_array_equal(ours, expected)


def test_upscale_logits_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError, match="M x h x w"):
        upscale_logits(np.zeros((256, 256), np.float32), 1024, (683, 1024), (534, 800))


def test_metadata_round_trip_and_errors(tmp_path: Path, export_dir: Path) -> None:
    metadata = ExportMetadata.load(export_dir)
    metadata.save(tmp_path)
    assert ExportMetadata.load(tmp_path) == metadata
    with pytest.raises(FileNotFoundError, match="metadata.json"):
        ExportMetadata.load(tmp_path / "missing")
    (tmp_path / METADATA_FILE).write_text(json.dumps({"format": "other"}))
    with pytest.raises(ValueError, match="not a segany ONNX"):
        ExportMetadata.load(tmp_path)


def test_predictor_api_edges(export_dir: Path, torch_predictor: SamPredictor, tmp_path: Path) -> None:
    predictor = OnnxPredictor(export_dir, session_options=session_options())
    assert not predictor.is_image_set
    with pytest.raises(ImageNotSetError, match="set_image"):
        predictor.predict(point_coords=np.array([[1.0, 1.0]]), point_labels=np.array([1]))
    with pytest.raises(ValueError, match="original_size"):
        predictor.set_image_embedding(np.zeros((1, 256, 64, 64), np.float32))
    with pytest.raises(ValueError, match="shape"):
        predictor.set_image_embedding(np.zeros((1, 256, 32, 32), np.float32), (10, 10))
    with pytest.raises(ValueError, match="quantized"):
        OnnxPredictor(export_dir, quantized="fp16")

    # An embedding file written by the torch predictor loads unchanged, and saves back identically.
    saved = torch_predictor.save_image_embedding(tmp_path / "emb.npz", model_name="vit_tiny")
    predictor.load_image_embedding(saved)
    assert predictor.is_image_set and predictor.original_size == torch_predictor.original_size
    assert predictor.input_size == torch_predictor.input_size
    np.testing.assert_array_equal(
        predictor.get_image_embedding(), torch_predictor.get_image_embedding().numpy()
    )
    again = predictor.save_image_embedding(tmp_path / "again")
    assert again.suffix == ".npz"
    with np.load(saved) as a, np.load(again) as b:
        np.testing.assert_array_equal(a["embedding"], b["embedding"])
        np.testing.assert_array_equal(a["input_size"], b["input_size"])

    with pytest.raises(ValueError, match="point_labels"):
        predictor.predict(point_coords=np.array([[1.0, 1.0]]), point_labels=np.array([5]))
    with pytest.raises(ValueError, match="point_coords"):
        predictor.predict(point_labels=np.array([1]))
    with pytest.raises(TypeError, match="multimask_output"):
        predictor.predict(box=np.array([1.0, 1.0, 50.0, 50.0]), multimask_output="yes")
    predictor.reset_image()
    assert not predictor.is_image_set


def test_bgr_and_pil_inputs(export_dir: Path) -> None:
    from PIL import Image

    image = load_photo("astronaut.jpg")
    predictor = OnnxPredictor(export_dir, session_options=session_options())
    predictor.set_image(image)
    rgb = predictor.get_image_embedding().copy()
    predictor.set_image(np.ascontiguousarray(image[:, :, ::-1]), image_format="BGR")
    np.testing.assert_array_equal(predictor.get_image_embedding(), rgb)
    predictor.set_image(Image.fromarray(image))
    np.testing.assert_array_equal(predictor.get_image_embedding(), rgb)


def test_scratch_pool_reuses_lends_exclusively_and_stays_bounded() -> None:
    pool = geometry._ScratchPool(limit_bytes=4 * 100 * 100 * 2)  # room for two 100 x 100 float maps
    with pool.borrow((100, 100)) as first:
        first_memory = first.__array_interface__["data"][0]
        with pool.borrow((100, 100)) as second:  # lent while the first is out: other memory
            assert second.__array_interface__["data"][0] != first_memory
    with pool.borrow((50, 80)) as again:  # a smaller request reuses a returned buffer
        assert again.shape == (50, 80) and again.dtype == np.float32
        assert again.__array_interface__["data"][0] in {first_memory, second.__array_interface__["data"][0]}
    with pool.borrow((300, 300)):  # larger than the whole pool: served, then not kept
        pass
    assert sum(buffer.nbytes for buffer in pool._free) <= 4 * 100 * 100 * 2
    assert all(buffer.size < 300 * 300 for buffer in pool._free)


def test_official_decoder_fallback(
    export_dir: Path, onnx_torch_embedding: OnnxPredictor, tmp_path: Path
) -> None:
    """An export holding only `decoder.onnx` (no low-res variant) still serves OnnxPredictor, identically."""
    import shutil

    metadata = ExportMetadata.load(export_dir)
    shutil.copy(export_dir / metadata.files["decoder"], tmp_path / metadata.files["decoder"])
    metadata.files = {"decoder": metadata.files["decoder"]}
    metadata.quantization = None
    metadata.save(tmp_path)
    with pytest.raises(ValueError, match="not quantized"):
        OnnxPredictor(tmp_path, quantized="int8")
    predictor = OnnxPredictor(tmp_path, session_options=session_options())
    embedding = onnx_torch_embedding.get_image_embedding()
    predictor.set_image_embedding(embedding, onnx_torch_embedding.original_size)
    box = np.array([120.0, 90.0, 610.0, 480.0])
    masks, scores, logits = predictor.predict(box=box)
    expected = onnx_torch_embedding.predict(box=box)
    # The two paths upscale with different kernels (ORT's Resize vs OpenCV), ~1e-6 apart: a pixel whose
    # logit is closer to zero than that may flip; every pixel with a clear sign must agree.
    expected_logits = onnx_torch_embedding.predict(box=box, return_logits=True)[0]
    clear = np.abs(expected_logits) > 1e-4
    np.testing.assert_array_equal(masks[clear], expected[0][clear])
    assert (masks != expected[0]).mean() <= 1e-5
    assert max_abs_diff(logits, expected[2]) <= 1e-5 and max_abs_diff(scores, expected[1]) <= 1e-6
    with pytest.raises(FileNotFoundError, match="without the encoder"):
        predictor.set_image(load_photo("chelsea.jpg"))

"""What `export_onnx` writes: files, metadata.json, the encoder contract, external data, int8 copies, checks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx_testing import load_photo, mask_iou, max_abs_diff, session_options

from segany.geometry import resize_longest_side
from segany.modeling.sam import Sam
from segany.onnx.contract import METADATA_FILE, ExportMetadata, int8_name
from segany.onnx.export import ExportResult, export_encoder, export_onnx
from segany.onnx.quantize import quantize_int8
from segany.onnx.runtime import OnnxPredictor
from segany.onnx.verify import verify_export
from segany.registry import build_sam, resolve_config


def _dims(value_info: onnx.ValueInfoProto) -> list:
    return [d.dim_param or d.dim_value for d in value_info.type.tensor_type.shape.dim]


def test_files_and_metadata(export: ExportResult) -> None:
    out = export.out_dir
    expected = {
        "encoder": "encoder.onnx",
        "decoder": "decoder.onnx",
        "decoder_lowres": "decoder_lowres.onnx",
        "decoder_prep": "decoder_prep.onnx",
        "decoder_lowrank": "decoder_lowrank.onnx",
        "encoder_int8": "encoder.int8.onnx",
        "decoder_int8": "decoder.int8.onnx",
        "decoder_lowres_int8": "decoder_lowres.int8.onnx",
    }
    assert {role: path.name for role, path in export.files.items()} == expected
    for path in export.files.values():
        assert path.is_file() and path.parent == out
    raw = json.loads((out / METADATA_FILE).read_text())
    assert raw["model"] == "vit_tiny" and raw["image_size"] == 1024 and raw["opset"] == 17
    assert raw["quantization"] == "int8" and raw["return_single_mask"] is False
    assert raw["embedding_shape"] == [1, 256, 64, 64]
    assert set(raw["contract"]) == {"encoder", "decoder", "decoder_lowres", "decoder_prep", "decoder_lowrank"}
    metadata = ExportMetadata.load(out)
    assert metadata.files == {
        "encoder": "encoder.onnx",
        "decoder": "decoder.onnx",
        "decoder_lowres": "decoder_lowres.onnx",
        "decoder_prep": "decoder_prep.onnx",
        "decoder_lowrank": "decoder_lowrank.onnx",
    }
    assert int8_name("decoder.onnx") == "decoder.int8.onnx"
    assert not any(p.name.startswith(".export-") for p in out.iterdir()), "staging directory left behind"


def test_encoder_contract(export: ExportResult, tiny_sam: Sam, torch_predictor) -> None:
    """h x w x 3 float RGB in 0..255 (longest side 1024, any aspect) -> 1 x 256 x 64 x 64; padding is inside."""
    model = onnx.load(str(export.files["encoder"]))
    (graph_input,) = model.graph.input
    assert graph_input.name == "input_image"
    height, width, channels = _dims(graph_input)
    assert isinstance(height, str) and isinstance(width, str) and channels == 3
    assert [o.name for o in model.graph.output] == ["image_embeddings"]
    assert _dims(model.graph.output[0]) == [1, 256, 64, 64]

    session = ort.InferenceSession(
        str(export.files["encoder"]), session_options(), providers=["CPUExecutionProvider"]
    )
    portrait = resize_longest_side(load_photo("rocket_portrait.jpg"), 1024)
    assert portrait.shape[0] == 1024 and portrait.shape[1] < 1024
    (embedding,) = session.run(None, {"input_image": portrait.astype(np.float32)})
    from segany.predictor import SamPredictor

    reference = SamPredictor(tiny_sam)
    reference.set_image(load_photo("rocket_portrait.jpg"))
    expected = reference.get_image_embedding().numpy()
    assert max_abs_diff(embedding, expected) <= 1e-4 * max(1.0, float(np.abs(expected).max()))


def test_external_data_encoder(export: ExportResult, tiny_sam: Sam, tmp_path: Path) -> None:
    """Models past 2 GB keep their weights in `<name>.data`; forced here on the tiny encoder."""
    path = export_encoder(tiny_sam, tmp_path / "encoder.onnx", external_data=True)
    data = tmp_path / "encoder.onnx.data"
    assert data.is_file() and data.stat().st_size > path.stat().st_size
    assert sorted(p.name for p in tmp_path.iterdir()) == ["encoder.onnx", "encoder.onnx.data"]
    image = np.random.default_rng(0).uniform(0, 255, (600, 1024, 3)).astype(np.float32)
    external = ort.InferenceSession(str(path), session_options(), providers=["CPUExecutionProvider"])
    inline = ort.InferenceSession(
        str(export.files["encoder"]), session_options(), providers=["CPUExecutionProvider"]
    )
    expected = inline.run(None, {"input_image": image})[0]
    np.testing.assert_allclose(external.run(None, {"input_image": image})[0], expected, atol=1e-6)
    # int8 quantization reads the external weights and writes its own data file next to the model.
    quantized = quantize_int8(path, tmp_path / "encoder.int8.onnx", external_data=True)
    assert (tmp_path / "encoder.int8.onnx.data").is_file()
    session = ort.InferenceSession(str(quantized), session_options(), providers=["CPUExecutionProvider"])
    (embedding,) = session.run(None, {"input_image": image})
    assert embedding.shape == expected.shape and np.isfinite(embedding).all()


def test_int8_models_run_and_stay_close(
    export_dir: Path, onnx_end_to_end: OnnxPredictor, photo: np.ndarray
) -> None:
    """Random weights make int8 error large; only a loose IoU bound is asserted, the values are printed."""
    int8 = OnnxPredictor(export_dir, quantized="int8", session_options=session_options())
    int8.set_image(photo)
    ious = []
    for prompt in (
        {"point_coords": np.array([[400.0, 260.0]]), "point_labels": np.array([1])},
        {"box": np.array([120.0, 90.0, 610.0, 480.0])},
    ):
        masks, scores, logits = int8.predict(**prompt, multimask_output=False)
        reference, _, _ = onnx_end_to_end.predict(**prompt, multimask_output=False)
        assert masks.shape == reference.shape and np.isfinite(logits).all() and np.isfinite(scores).all()
        ious.append(mask_iou(masks[0], reference[0]))
    print(f"int8 vs fp32 mask IoU: {[round(v, 4) for v in ious]}")
    assert min(ious) >= 0.5
    for name in ("encoder.int8.onnx", "decoder_lowres.int8.onnx"):
        ops = {node.op_type for node in onnx.load(str(export_dir / name)).graph.node}
        assert ops & {"MatMulInteger", "DynamicQuantizeMatMul", "DynamicQuantizeLinear"}, name


def test_verify_export_reports_differences(export_dir: Path, tiny_sam: Sam) -> None:
    report = verify_export(export_dir, tiny_sam, load_photo("chelsea.jpg"), quantized=True)
    print("verify_export:", {k: float(f"{v:.4g}") for k, v in report.items()})
    assert report["encoder_max_abs_diff"] <= 1e-4 * max(1.0, report["encoder_max_abs_value"])
    for prefix in ("decoder", "end_to_end"):
        assert report[f"{prefix}_low_res_max_abs_diff"] <= 1e-3
        assert report[f"{prefix}_mask_agreement_min"] >= 0.999
    assert report["official_decoder_low_res_max_abs_diff"] <= 1e-3
    assert report["official_decoder_mask_agreement"] >= 0.999
    assert 0.0 <= report["int8_mask_iou_min"] <= 1.0


def test_export_rejects_bad_arguments(tiny_sam: Sam, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="quantize"):
        export_onnx(tiny_sam, tmp_path, quantize="int4")
    with pytest.raises(ValueError, match="registry name"):
        export_onnx("vit_nonexistent", tmp_path)
    with pytest.raises(ValueError, match="checkpoint"):
        export_onnx(tiny_sam, tmp_path, checkpoint=tmp_path / "x.pth")


def test_export_verifies_a_model_whose_low_res_masks_are_not_256(tmp_path: Path) -> None:
    # segany_small at 256 px: a 128-wide decoder on a 16 x 16 embedding, so 64 x 64 low-res masks and a
    # 64 x 64 mask_input in the official-contract decoder.
    sam = build_sam(resolve_config("segany_small").with_image_size(256))
    generator = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for param in sam.parameters():
            param.add_(torch.randn(param.shape, generator=generator) * 0.05)
    result = export_onnx(sam.eval(), tmp_path, model_name="segany_small", verify_image=load_photo("dog.jpg"))
    report = result.verification
    assert report["official_decoder_low_res_max_abs_diff"] <= 1e-3
    assert report["official_decoder_mask_agreement"] >= 0.999
    assert report["end_to_end_mask_agreement_min"] >= 0.999


def test_lite0_encoder_exports_and_matches_torch_on_a_portrait_photo(tmp_path: Path) -> None:
    """segany_small_lite0 (its S/8 tap pooled onto the S/16 grid) exports with a dynamic input size; the ONNX
    encoder's embedding of a portrait photo matches the torch predictor's."""
    sam = build_sam(resolve_config("segany_small_lite0").with_image_size(256)).eval()
    assert sam.image_encoder.tap_pools == (2, 1, 1)
    result = export_onnx(sam, tmp_path, model_name="segany_small_lite0", verify=False)
    session = ort.InferenceSession(
        str(result.files["encoder"]), session_options(), providers=["CPUExecutionProvider"]
    )
    photo = load_photo("rocket_portrait.jpg")
    (embedding,) = session.run(None, {"input_image": resize_longest_side(photo, 256).astype(np.float32)})
    from segany.predictor import SamPredictor

    reference = SamPredictor(sam)
    reference.set_image(photo)
    expected = reference.get_image_embedding().numpy()
    assert embedding.shape == expected.shape == (1, 128, 16, 16)
    assert max_abs_diff(embedding, expected) <= 1e-4 * max(1.0, float(np.abs(expected).max()))

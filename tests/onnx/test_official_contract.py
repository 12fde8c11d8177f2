"""`decoder.onnx` keeps the official contract: names, shapes, dynamic N, and the oracle's numbers.

The decoder is fed exactly as the official notebook feeds its export (points in the 1024 frame, a padding
point (0, 0, -1) appended when there is no box, box corners labelled 2 and 3), and compared with the official
package's own export module `segment_anything.utils.onnx.SamOnnxModel` run in torch with the same weights.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx_testing import max_abs_diff, session_options
from segment_anything.build_sam import _build_sam as oracle_build_sam
from segment_anything.utils.onnx import SamOnnxModel

from segany.geometry import scale_coords
from segany.modeling.sam import Sam
from segany.onnx.contract import DECODER_INPUTS, DECODER_OUTPUTS, ExportMetadata
from segany.onnx.export import ExportResult, add_export_arguments, main_export

ORIGINAL = (534, 800)  # H, W of the photo the embedding comes from
LOW_RES_ATOL = 1e-3
MASKS_ATOL = 2e-3  # at the original size: bilinear resizes in ORT vs torch
MIN_AGREEMENT = 0.999


@pytest.fixture(scope="module")
def oracle(tiny_sam: Sam) -> torch.nn.Module:
    """The official SAM with the tiny encoder, holding our perturbed weights (strict load)."""
    encoder = tiny_sam.image_encoder
    model = oracle_build_sam(
        encoder_embed_dim=encoder.patch_embed.proj.out_channels,
        encoder_depth=len(encoder.blocks),
        encoder_num_heads=encoder.blocks[0].attn.num_heads,
        encoder_global_attn_indexes=list(encoder.global_attn_indexes),
        checkpoint=None,
    )
    model.load_state_dict(tiny_sam.state_dict(), strict=True)
    return model.eval()


@pytest.fixture(scope="module")
def embedding(torch_predictor) -> np.ndarray:
    return torch_predictor.get_image_embedding().cpu().numpy()


@pytest.fixture(scope="module")
def single_mask_dir(tiny_sam: Sam, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Decoders exported through the CLI entry point, from a checkpoint path, with --return-single-mask."""
    root = tmp_path_factory.mktemp("single_mask")
    checkpoint = root / "tiny.pth"
    torch.save(tiny_sam.state_dict(), checkpoint)
    parser = add_export_arguments(argparse.ArgumentParser())
    out = root / "export"
    args = parser.parse_args(
        ["--model", str(checkpoint), "--out", str(out), "--return-single-mask", "--no-encoder", "--no-verify"]
    )
    assert main_export(args) == 0
    return out


def _notebook_feeds(
    embedding: np.ndarray,
    points: np.ndarray | None,
    labels: np.ndarray | None,
    box: np.ndarray | None = None,
    mask: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Inputs built the way the official notebook (onnx_model_example.ipynb) builds them."""
    coords_parts, label_parts = [], []
    if points is not None:
        coords_parts.append(points)
        label_parts.append(labels)
    if box is not None:
        coords_parts.append(box.reshape(2, 2))
        label_parts.append(np.array([2, 3]))
    else:
        coords_parts.append(np.array([[0.0, 0.0]]))
        label_parts.append(np.array([-1]))
    coords = np.concatenate(coords_parts)[None, :, :]
    labels = np.concatenate(label_parts)[None, :].astype(np.float32)
    return {
        "image_embeddings": embedding,
        "point_coords": scale_coords(coords, ORIGINAL, 1024).astype(np.float32),
        "point_labels": labels,
        "mask_input": np.zeros((1, 1, 256, 256), np.float32) if mask is None else mask.astype(np.float32),
        "has_mask_input": np.array([0.0 if mask is None else 1.0], np.float32),
        "orig_im_size": np.array(ORIGINAL, dtype=np.float32),
    }


CASES = {
    "1_point": (np.array([[400.0, 260.0]]), np.array([1]), None),
    "2_points": (np.array([[400.0, 260.0], [250.0, 200.0]]), np.array([1, 0]), None),
    "5_points": (
        np.array([[400.0, 260.0], [250.0, 200.0], [620.0, 120.0], [90.0, 450.0], [500.0, 400.0]]),
        np.array([1, 0, 1, 0, 1]),
        None,
    ),
    "box": (None, None, np.array([120.0, 90.0, 610.0, 480.0])),
    "box_and_point": (np.array([[250.0, 200.0]]), np.array([0]), np.array([120.0, 90.0, 610.0, 480.0])),
}


def _oracle_outputs(oracle: torch.nn.Module, feeds: dict[str, np.ndarray], single: bool) -> list[np.ndarray]:
    model = SamOnnxModel(oracle, return_single_mask=single)
    with torch.inference_mode():
        outputs = model(*(torch.from_numpy(feeds[name]) for name in DECODER_INPUTS))
    return [o.numpy() for o in outputs]


def _compare(ours: list[np.ndarray], reference: list[np.ndarray], what: str) -> None:
    masks, scores, low_res = ours
    ref_masks, ref_scores, ref_low_res = reference
    assert masks.shape == ref_masks.shape, what
    assert max_abs_diff(low_res, ref_low_res) <= LOW_RES_ATOL, what
    assert max_abs_diff(scores, ref_scores) <= 1e-4, what
    assert max_abs_diff(masks, ref_masks) <= MASKS_ATOL, what
    assert np.mean((masks > 0) == (ref_masks > 0)) >= MIN_AGREEMENT, what


def test_decoder_signature(export: ExportResult) -> None:
    model = onnx.load(str(export.files["decoder"]))
    onnx.checker.check_model(model)
    inputs = {
        i.name: [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim] for i in model.graph.input
    }
    outputs = [o.name for o in model.graph.output]
    assert list(inputs) == list(DECODER_INPUTS)
    assert outputs == list(DECODER_OUTPUTS)
    assert inputs["image_embeddings"] == [1, 256, 64, 64]
    assert inputs["point_coords"][0] == 1 and isinstance(inputs["point_coords"][1], str)  # dynamic N
    assert inputs["point_coords"][2] == 2
    assert inputs["mask_input"] == [1, 1, 256, 256]
    assert inputs["has_mask_input"] == [1] and inputs["orig_im_size"] == [2]
    for name in DECODER_INPUTS:
        elem = next(i for i in model.graph.input if i.name == name).type.tensor_type.elem_type
        assert elem == onnx.TensorProto.FLOAT, name


@pytest.mark.parametrize("name", list(CASES))
def test_notebook_feeds_match_oracle(name: str, export: ExportResult, oracle, embedding: np.ndarray) -> None:
    points, labels, box = CASES[name]
    feeds = _notebook_feeds(embedding, points, labels, box)
    session = ort.InferenceSession(
        str(export.files["decoder"]), session_options(), providers=["CPUExecutionProvider"]
    )
    ours = session.run(None, feeds)
    assert (
        ours[0].shape == (1, 4, *ORIGINAL) and ours[1].shape == (1, 4) and ours[2].shape == (1, 4, 256, 256)
    )
    _compare(ours, _oracle_outputs(oracle, feeds, single=False), name)


def test_mask_input_and_other_sizes_match_oracle(export: ExportResult, oracle, embedding: np.ndarray) -> None:
    session = ort.InferenceSession(
        str(export.files["decoder"]), session_options(), providers=["CPUExecutionProvider"]
    )
    points, labels, _ = CASES["2_points"]
    previous = session.run(None, _notebook_feeds(embedding, points, labels))[2][:, :1]
    feeds = _notebook_feeds(embedding, points, labels, mask=previous)
    _compare(session.run(None, feeds), _oracle_outputs(oracle, feeds, single=False), "mask input")
    for size in [
        (1500, 2250),
        (427, 280),
        (64, 1000),
    ]:  # masks follow orig_im_size, the crop its aspect ratio
        feeds["orig_im_size"] = np.array(size, dtype=np.float32)
        ours = session.run(None, feeds)
        assert ours[0].shape == (1, 4, *size)
        _compare(ours, _oracle_outputs(oracle, feeds, single=False), f"orig_im_size {size}")


@pytest.mark.parametrize("name", list(CASES))
def test_return_single_mask_matches_oracle(
    name: str, single_mask_dir: Path, oracle, embedding: np.ndarray
) -> None:
    """Best of the 3 multimask outputs when N <= 2 sparse tokens (1 point + pad, or a box), else token 0."""
    metadata = ExportMetadata.load(single_mask_dir)
    assert metadata.return_single_mask and metadata.model == "vit_tiny" and "encoder" not in metadata.files
    session = ort.InferenceSession(
        str(single_mask_dir / metadata.files["decoder"]),
        session_options(),
        providers=["CPUExecutionProvider"],
    )
    points, labels, box = CASES[name]
    feeds = _notebook_feeds(embedding, points, labels, box)
    ours = session.run(None, feeds)
    assert ours[0].shape == (1, 1, *ORIGINAL) and ours[1].shape == (1, 1)
    _compare(ours, _oracle_outputs(oracle, feeds, single=True), name)
    # The same choice, spelled out from the 4-token outputs of the full decoder.
    full = ort.InferenceSession(
        str(single_mask_dir / metadata.files["decoder_lowres"]),
        session_options(),
        providers=["CPUExecutionProvider"],
    )
    scores, low_res = full.run(None, {k: v for k, v in feeds.items() if k != "orig_im_size"})
    expected = 1 + int(np.argmax(scores[0, 1:])) if feeds["point_labels"].shape[1] <= 2 else 0
    assert max_abs_diff(ours[2][0, 0], low_res[0, expected]) <= 1e-5

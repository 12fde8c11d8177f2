"""`decoder_prep.onnx` + `decoder_lowrank.onnx` (the exact low-rank decoder) in ONNX Runtime.

Against `decoder_lowres.onnx` fed the same prompt without mask input, and against torch (whose predictor
takes its own low-rank path): low-res logits within 1e-3, IoU predictions within 1e-4.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
from onnx_testing import max_abs_diff, session_options

from segany.onnx.contract import ExportMetadata
from segany.onnx.runtime import OnnxPredictor
from segany.predictor import SamPredictor

LOW_RES_ATOL = 1e-3
SCORE_ATOL = 1e-4

# (point_coords, point_labels) in the 1024 input frame, pad point / box corners already appended.
PROMPTS = {
    "1_point": ([[500.0, 300.0], [0.0, 0.0]], [1.0, -1.0]),
    "2_points": ([[500.0, 300.0], [200.0, 250.0], [0.0, 0.0]], [1.0, 0.0, -1.0]),
    "5_points": (
        [[500.0, 300.0], [200.0, 250.0], [80.0, 600.0], [900.0, 100.0], [10.0, 10.0]],
        [1, 0, 1, 0, 1],
    ),
    "box": ([[150.0, 110.0], [770.0, 600.0]], [2.0, 3.0]),
    "box_and_points": (
        [[400.0, 300.0], [650.0, 200.0], [150.0, 110.0], [770.0, 600.0]],
        [1.0, 0.0, 2.0, 3.0],
    ),
}


def _session(path: Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), session_options(), providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def sessions(export_dir: Path) -> dict[str, ort.InferenceSession]:
    files = ExportMetadata.load(export_dir).files
    return {
        role: _session(export_dir / files[role])
        for role in ("decoder_prep", "decoder_lowrank", "decoder_lowres")
    }


@pytest.mark.parametrize("name", list(PROMPTS))
def test_low_rank_graph_matches_the_lowres_graph_and_torch(
    sessions: dict[str, ort.InferenceSession], torch_predictor: SamPredictor, name: str
) -> None:
    embedding = torch_predictor.get_image_embedding().cpu().numpy()
    prep = sessions["decoder_prep"]
    terms = dict(zip([o.name for o in prep.get_outputs()], prep.run(None, {"image_embeddings": embedding})))
    coords, labels = PROMPTS[name]
    prompt = {
        "point_coords": np.asarray(coords, dtype=np.float32)[None],
        "point_labels": np.asarray(labels, dtype=np.float32)[None],
    }
    scores, low_res = sessions["decoder_lowrank"].run(None, {**prompt, **terms})
    assert low_res.shape == (1, 4, 256, 256) and scores.shape == (1, 4)
    no_mask = {
        "mask_input": np.zeros((1, 1, 256, 256), np.float32),
        "has_mask_input": np.zeros(1, np.float32),
    }
    ref_scores, ref_low_res = sessions["decoder_lowres"].run(
        None, {"image_embeddings": embedding, **prompt, **no_mask}
    )
    assert max_abs_diff(low_res, ref_low_res) <= LOW_RES_ATOL, name
    assert max_abs_diff(scores, ref_scores) <= SCORE_ATOL, name
    # torch (its reference decoder path), on the same sparse prompt: labels 2 / 3 are the box corners.
    model = torch_predictor.model
    with torch.inference_mode():
        coords_t = torch.from_numpy(prompt["point_coords"])
        labels_t = torch.from_numpy(prompt["point_labels"]).long()
        sparse = model.prompt_encoder.embed_points(coords_t, labels_t, pad=False)
        _, _, height, width = embedding.shape
        dense = model.prompt_encoder.no_mask_embed.weight.reshape(1, -1, 1, 1).expand(1, -1, height, width)
        image_pe = model.prompt_encoder.get_dense_pe()
        torch_low, torch_scores = model.mask_decoder.predict_masks(
            torch_predictor.get_image_embedding(), image_pe, sparse, dense
        )
    assert max_abs_diff(low_res, torch_low.numpy()) <= LOW_RES_ATOL, name
    assert max_abs_diff(scores, torch_scores.numpy()) <= SCORE_ATOL, name


def test_predictor_uses_the_low_rank_pair(export_dir: Path, torch_predictor: SamPredictor) -> None:
    fp32 = OnnxPredictor(export_dir, session_options=session_options())
    assert fp32.uses_low_rank_decoder
    assert not OnnxPredictor(
        export_dir, quantized="int8", session_options=session_options()
    ).uses_low_rank_decoder
    point, label = np.array([[400.0, 260.0]]), np.array([1])
    reference = torch_predictor.predict(point_coords=point, point_labels=label)
    embedding = torch_predictor.get_image_embedding().cpu().numpy()
    # A first embedding, then the real one: the image terms of the first must not be reused.
    fp32.set_image_embedding(np.flip(embedding, axis=-1).copy(), torch_predictor.original_size)
    other = fp32.predict(point_coords=point, point_labels=label)
    fp32.set_image_embedding(embedding, torch_predictor.original_size)
    _, scores, logits = fp32.predict(point_coords=point, point_labels=label)
    assert max_abs_diff(logits, reference[2]) <= LOW_RES_ATOL
    assert max_abs_diff(scores, reference[1]) <= SCORE_ATOL
    assert max_abs_diff(other[2], reference[2]) > 1e-2

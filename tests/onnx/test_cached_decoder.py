"""The cached decoder pair in ONNX Runtime: `decoder_prep.onnx` + `decoder_lowrank.onnx` (exact low-rank form)
or + `decoder_dense.onnx` (dense form).

Against `decoder_lowres.onnx` fed the same prompt without mask input, and against torch's reference decoder
path: low-res logits within 1e-3, IoU predictions within 1e-4. The dense form is also checked in eager torch
against the reference (a pure re-arrangement of the same maths), and on the bundled `segany_small`, for which
the export picks it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
from onnx_testing import max_abs_diff, session_options
from torch import nn

from segany.modeling.sam import Sam
from segany.onnx.contract import DECODER_LOWRES_INPUTS, ExportMetadata
from segany.onnx.dense_decoder import DenseDecoderGraph, image_stage_zero, prefers_dense_decoder
from segany.onnx.export import export_cached_decoder, export_onnx
from segany.onnx.runtime import OnnxPredictor
from segany.predictor import SamPredictor
from segany.pretrained import load_pretrained
from segany.registry import build_sam, resolve_config

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
    # More tokens than the export's dummy prompt: the token count stays dynamic throughout the graphs.
    "12_points": (
        [[60.0 + 75.0 * i, 900.0 - 60.0 * i] for i in range(11)] + [[0.0, 0.0]],
        [1.0, 0.0] * 5 + [1.0, -1.0],
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
def dense_pair_dir(tiny_sam: Sam, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny SAM's cached pair in the dense form (the full export holds the low-rank form)."""
    out = tmp_path_factory.mktemp("dense_pair")
    assert export_cached_decoder(tiny_sam, out, form="dense")[0] == "decoder_dense"
    return out


@pytest.fixture(scope="module")
def sessions(export_dir: Path, dense_pair_dir: Path) -> dict[str, ort.InferenceSession]:
    files = ExportMetadata.load(export_dir).files
    found = {role: _session(export_dir / files[role]) for role in ("decoder_prep", "decoder_lowrank")}
    return {
        "lowrank": found,
        "dense": {
            "decoder_prep": _session(dense_pair_dir / "decoder_prep.onnx"),
            "decoder_dense": _session(dense_pair_dir / "decoder_dense.onnx"),
        },
        "decoder_lowres": _session(export_dir / files["decoder_lowres"]),
    }


def _torch_reference(
    model: Sam, embedding: torch.Tensor, coords: list[list[float]], labels: list[float]
) -> tuple[np.ndarray, np.ndarray]:
    """Low-res logits and IoU of torch's reference decoder path (no mask input) for a sparse prompt."""
    with torch.inference_mode():
        coords_t = torch.as_tensor(np.asarray(coords, dtype=np.float32)).reshape(1, -1, 2)
        labels_t = torch.as_tensor(np.asarray(labels, dtype=np.float32)).reshape(1, -1).long()
        sparse = model.prompt_encoder.embed_points(coords_t, labels_t, pad=False)
        _, _, height, width = embedding.shape
        dense = model.prompt_encoder.no_mask_embed.weight.reshape(1, -1, 1, 1).expand(1, -1, height, width)
        low_res, scores = model.mask_decoder.predict_masks(
            embedding, model.prompt_encoder.get_dense_pe(), sparse, dense
        )
    return low_res.numpy(), scores.numpy()


@pytest.mark.parametrize("form", ["lowrank", "dense"])
@pytest.mark.parametrize("name", list(PROMPTS))
def test_cached_graph_matches_the_lowres_graph_and_torch(
    sessions: dict, torch_predictor: SamPredictor, form: str, name: str
) -> None:
    embedding = torch_predictor.get_image_embedding().cpu().numpy()
    pair = sessions[form]
    prep = pair["decoder_prep"]
    terms = dict(zip([o.name for o in prep.get_outputs()], prep.run(None, {"image_embeddings": embedding})))
    coords, labels = PROMPTS[name]
    prompt = {
        "point_coords": np.asarray(coords, dtype=np.float32)[None],
        "point_labels": np.asarray(labels, dtype=np.float32)[None],
    }
    scores, low_res = pair[f"decoder_{form}"].run(None, {**prompt, **terms})
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
    torch_low, torch_scores = _torch_reference(
        torch_predictor.model, torch_predictor.get_image_embedding(), coords, labels
    )
    assert max_abs_diff(low_res, torch_low) <= LOW_RES_ATOL, name
    assert max_abs_diff(scores, torch_scores) <= SCORE_ATOL, name


@pytest.mark.parametrize("name", list(PROMPTS))
def test_dense_form_in_torch_equals_the_reference_path(
    tiny_sam: Sam, torch_predictor: SamPredictor, name: str
) -> None:
    """The dense graph run eagerly: the same maths as the reference decoder, only re-associated."""
    embedding = torch_predictor.get_image_embedding()
    coords, labels = PROMPTS[name]
    with torch.inference_mode():
        scores, low_res = DenseDecoderGraph(tiny_sam)(
            torch.tensor([coords], dtype=torch.float32),
            torch.tensor([labels], dtype=torch.float32),
            *image_stage_zero(tiny_sam, embedding),
        )
    ref_low, ref_scores = _torch_reference(tiny_sam, embedding, coords, labels)
    assert max_abs_diff(low_res.numpy(), ref_low) <= 1e-4 * max(1.0, float(np.abs(ref_low).max())), name
    assert max_abs_diff(scores.numpy(), ref_scores) <= 1e-5, name


def test_form_choice_follows_the_decoder_width() -> None:
    """SAM's 256-wide decoder keeps the low-rank form; segany_small's 128-wide one takes the dense form."""
    assert not prefers_dense_decoder(build_sam(resolve_config("vit_b")))
    assert prefers_dense_decoder(build_sam(resolve_config("segany_small")))
    with pytest.raises(ValueError, match="decoder form must be one of"):
        export_cached_decoder(build_sam(resolve_config("vit_tiny")), Path("unused"), form="sparse")


def test_bundled_small_model_exports_and_runs_the_dense_pair(tmp_path: Path, photo: np.ndarray) -> None:
    """The shipped default: `auto` writes decoder_dense.onnx, and OnnxPredictor's answers match torch's."""
    sam = load_pretrained("segany_small")
    result = export_onnx(sam, tmp_path, model_name="segany_small", include_encoder=False, verify=False)
    assert "decoder_dense" in result.files and "decoder_lowrank" not in result.files
    assert set(result.metadata.contract) == set(result.metadata.files)
    onnx_predictor = OnnxPredictor(tmp_path, session_options=session_options())
    assert onnx_predictor.cached_decoder_role == "decoder_dense" and onnx_predictor.uses_cached_decoder
    torch_predictor = SamPredictor(sam)
    torch_predictor.set_image(photo)
    embedding = torch_predictor.get_image_embedding().cpu().numpy()
    onnx_predictor.set_image_embedding(embedding, torch_predictor.original_size)
    height, width = torch_predictor.original_size
    for point in ([[width * 0.5, height * 0.5]], [[width * 0.2, height * 0.7]]):
        reference = torch_predictor.predict(point_coords=np.array(point), point_labels=np.array([1]))
        masks, scores, logits = onnx_predictor.predict(
            point_coords=np.array(point), point_labels=np.array([1])
        )
        assert max_abs_diff(logits, reference[2]) <= LOW_RES_ATOL
        assert max_abs_diff(scores, reference[1]) <= SCORE_ATOL
        assert np.mean(masks == reference[0]) >= 0.999
    # The lowres graph (mask prompts and int8 use it) agrees with the dense pair on a plain prompt.
    lowres = _session(tmp_path / result.metadata.files["decoder_lowres"])
    prompt = {
        "image_embeddings": embedding,
        "point_coords": np.array([[[256.0, 200.0], [0.0, 0.0]]], np.float32),
        "point_labels": np.array([[1.0, -1.0]], np.float32),
        "mask_input": np.zeros((1, 1, 128, 128), np.float32),
        "has_mask_input": np.zeros(1, np.float32),
    }
    ref_scores, ref_low = lowres.run(None, {k: prompt[k] for k in DECODER_LOWRES_INPUTS})
    prep = _session(tmp_path / "decoder_prep.onnx")
    terms = dict(zip([o.name for o in prep.get_outputs()], prep.run(None, {"image_embeddings": embedding})))
    feeds = {"point_coords": prompt["point_coords"], "point_labels": prompt["point_labels"], **terms}
    scores, low_res = _session(tmp_path / "decoder_dense.onnx").run(None, feeds)
    assert max_abs_diff(low_res, ref_low) <= LOW_RES_ATOL and max_abs_diff(scores, ref_scores) <= SCORE_ATOL


def test_predictor_uses_the_low_rank_pair(export_dir: Path, torch_predictor: SamPredictor) -> None:
    fp32 = OnnxPredictor(export_dir, session_options=session_options())
    assert fp32.uses_cached_decoder and fp32.cached_decoder_role == "decoder_lowrank"
    assert not OnnxPredictor(
        export_dir, quantized="int8", session_options=session_options()
    ).uses_cached_decoder
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


@pytest.mark.parametrize("form", ["lowrank", "dense"])
def test_tanh_gelu_pair_matches_torch_with_the_tanh_gelu(
    tiny_sam: Sam, torch_predictor: SamPredictor, tmp_path: Path, form: str
) -> None:
    """`gelu="tanh"` (the browser's graph): one opset-20 Gelu node per upscaling activation, the answer of torch's
    reference path with those GELUs in their tanh form, within IoU 0.99 of the exact masks; the model exported
    from keeps its exact GELU."""
    import copy

    import onnx

    role, prep_path, graph_path = export_cached_decoder(tiny_sam, tmp_path, opset=20, form=form, gelu="tanh")
    assert role == f"decoder_{form}"
    nodes = [node for node in onnx.load(str(graph_path)).graph.node if node.op_type == "Gelu"]
    assert nodes and all(
        onnx.helper.get_attribute_value(next(a for a in node.attribute if a.name == "approximate")) == b"tanh"
        for node in nodes
    )
    assert all(
        m.approximate == "none" for m in tiny_sam.mask_decoder.output_upscaling if isinstance(m, nn.GELU)
    )
    tanh_model = copy.deepcopy(tiny_sam)
    for module in tanh_model.mask_decoder.output_upscaling:
        if isinstance(module, nn.GELU):
            module.approximate = "tanh"
    embedding = torch_predictor.get_image_embedding()
    prep = _session(prep_path)
    terms = dict(
        zip([o.name for o in prep.get_outputs()], prep.run(None, {"image_embeddings": embedding.numpy()}))
    )
    for name in ("1_point", "box_and_points"):
        coords, labels = PROMPTS[name]
        prompt = {
            "point_coords": np.asarray(coords, dtype=np.float32)[None],
            "point_labels": np.asarray(labels, dtype=np.float32)[None],
        }
        scores, low_res = _session(graph_path).run(None, {**prompt, **terms})
        tanh_low, _ = _torch_reference(tanh_model, embedding, coords, labels)
        exact_low, exact_scores = _torch_reference(tiny_sam, embedding, coords, labels)
        assert max_abs_diff(low_res, tanh_low) <= LOW_RES_ATOL, name
        assert max_abs_diff(scores, exact_scores) <= SCORE_ATOL, name  # the IoU head has no upscaling GELU
        assert max_abs_diff(low_res, exact_low) > 0  # the approximation is really in the graph
        for token in range(4):
            ours, exact = low_res[0, token] > 0, exact_low[0, token] > 0
            assert (ours & exact).sum() / max(1, (ours | exact).sum()) >= 0.99, (name, token)
    with pytest.raises(ValueError, match="gelu must be one of"):
        export_cached_decoder(tiny_sam, tmp_path, gelu="erf")

"""Check an export against the torch model it came from: ONNX Runtime vs `SamPredictor` on one image."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from segany.geometry import scale_coords
from segany.io.image_convert import as_rgb_uint8
from segany.modeling.sam import Sam
from segany.onnx.contract import ExportMetadata
from segany.onnx.runtime import LOW_RES_SIDE_FACTOR, OnnxPredictor
from segany.predictor import SamPredictor


def synthetic_image(height: int = 600, width: int = 800, seed: int = 0) -> np.ndarray:
    """A deterministic H x W x 3 uint8 test picture: colour gradients, a disc and a bar, mild noise."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    image = np.stack([xs / width * 200, ys / height * 200, (xs + ys) / (width + height) * 120], axis=-1)
    disc = (xs - width * 0.4) ** 2 + (ys - height * 0.5) ** 2 < (min(height, width) * 0.2) ** 2
    image[disc] = (230, 60, 40)
    image[int(height * 0.15) : int(height * 0.3), int(width * 0.6) : int(width * 0.9)] = (30, 40, 220)
    image += rng.normal(0.0, 4.0, image.shape)
    result: np.ndarray = np.clip(image, 0, 255).astype(np.uint8)
    return result


def _load_image(image: np.ndarray | str | Path | None) -> np.ndarray:
    if image is None:
        return synthetic_image()
    if isinstance(image, (str, Path)):
        with Image.open(image) as opened:
            return as_rgb_uint8(opened)
    return as_rgb_uint8(image)


def verification_prompts(height: int, width: int) -> list[dict[str, Any]]:
    """Point (3 masks), box (1 mask), box + negative point (1 mask) and two points (1 mask), in pixels."""
    centre = np.array([[width * 0.4, height * 0.5]])
    box = np.array([width * 0.2, height * 0.25, width * 0.65, height * 0.75])
    return [
        {"point_coords": centre, "point_labels": np.array([1]), "multimask_output": True},
        {"box": box, "multimask_output": False},
        {
            "box": box,
            "point_coords": np.array([[width * 0.3, height * 0.3]]),
            "point_labels": np.array([0]),
            "multimask_output": False,
        },
        {
            "point_coords": np.array([[width * 0.4, height * 0.5], [width * 0.75, height * 0.2]]),
            "point_labels": np.array([1, 0]),
            "multimask_output": False,
        },
    ]


def _agreement(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(a == b))


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


def verify_export(
    out_dir: str | Path, sam: Sam, image: np.ndarray | str | Path | None = None, quantized: bool = False
) -> dict[str, float]:
    """Max differences between ONNX Runtime and torch on `image` (a photo path, an array, or None: synthetic).

    Keys: encoder_max_abs_diff, decoder_* (ORT decoder fed the torch embedding), end_to_end_* (ORT encoder
    and decoder), official_decoder_* (`decoder.onnx` fed as the official notebook does) and, with
    `quantized`, int8_* (int8 models vs the fp32 ORT models: mask IoU).
    """
    rgb = _load_image(image)
    height, width = rgb.shape[:2]
    torch_predictor = SamPredictor(sam)
    torch_predictor.set_image(rgb)
    torch_embedding = torch_predictor.get_image_embedding().cpu().numpy()
    onnx_predictor = OnnxPredictor(out_dir)
    onnx_predictor.set_image(rgb)
    onnx_embedding = onnx_predictor.get_image_embedding()
    report = {
        "encoder_max_abs_diff": float(np.abs(onnx_embedding - torch_embedding).max()),
        "encoder_max_abs_value": float(np.abs(torch_embedding).max()),
    }
    prompts = verification_prompts(height, width)
    onnx_results = [onnx_predictor.predict(**prompt) for prompt in prompts]
    reference = [torch_predictor.predict(**prompt) for prompt in prompts]
    report.update(_compare("end_to_end", onnx_results, reference))

    onnx_predictor.set_image_embedding(torch_embedding, (height, width))
    decoder_results = [onnx_predictor.predict(**prompt) for prompt in prompts]
    report.update(_compare("decoder", decoder_results, reference))
    report.update(_check_official_decoder(out_dir, torch_predictor, prompts[0]))

    if quantized:
        int8_predictor = OnnxPredictor(out_dir, quantized="int8")
        int8_predictor.set_image(rgb)
        int8_results = [int8_predictor.predict(**prompt) for prompt in prompts]
        ious = [_iou(q[0][0], f[0][0]) for q, f in zip(int8_results, onnx_results)]
        report["int8_mask_iou_min"] = min(ious)
        report["int8_mask_iou_mean"] = float(np.mean(ious))
        report["int8_encoder_max_abs_diff"] = float(
            np.abs(int8_predictor.get_image_embedding() - onnx_embedding).max()
        )
    return report


Prediction = tuple[np.ndarray, np.ndarray, np.ndarray]


def _compare(prefix: str, results: list[Prediction], reference: list[Prediction]) -> dict[str, float]:
    low_res = max(float(np.abs(o[2] - r[2]).max()) for o, r in zip(results, reference))
    scores = max(float(np.abs(o[1] - r[1]).max()) for o, r in zip(results, reference))
    agreement = min(_agreement(o[0], r[0]) for o, r in zip(results, reference))
    return {
        f"{prefix}_low_res_max_abs_diff": low_res,
        f"{prefix}_iou_pred_max_abs_diff": scores,
        f"{prefix}_mask_agreement_min": agreement,
    }


def _check_official_decoder(
    out_dir: str | Path, torch_predictor: SamPredictor, prompt: dict[str, Any]
) -> dict[str, float]:
    """Feed `decoder.onnx` exactly as the official notebook does and compare with torch's logits."""
    import onnxruntime as ort

    metadata = ExportMetadata.load(out_dir)
    session = ort.InferenceSession(
        str(Path(out_dir) / metadata.files["decoder"]), providers=["CPUExecutionProvider"]
    )
    original = torch_predictor.original_size
    coords = np.concatenate([prompt["point_coords"], np.zeros((1, 2))])[None]
    labels = np.concatenate([prompt["point_labels"], [-1]])[None].astype(np.float32)
    embedding = torch_predictor.get_image_embedding().cpu().numpy()  # 1 x C x h x w
    low_res_hw = tuple(LOW_RES_SIDE_FACTOR * side for side in embedding.shape[-2:])  # 256 x 256 for SAM
    feeds = {
        "image_embeddings": embedding,
        "point_coords": scale_coords(coords, original, metadata.image_size).astype(np.float32),
        "point_labels": labels,
        "mask_input": np.zeros((1, 1, *low_res_hw), dtype=np.float32),
        "has_mask_input": np.zeros(1, dtype=np.float32),
        "orig_im_size": np.asarray(original, dtype=np.float32),
    }
    masks, _, low_res = session.run(None, feeds)
    with torch.inference_mode():
        coords_t = torch.from_numpy(feeds["point_coords"][:, :-1])
        labels_t = torch.from_numpy(feeds["point_labels"][:, :-1]).long()
        ref_masks, ref_scores, ref_low = torch_predictor.predict_torch(
            coords_t, labels_t, multimask_output=True, return_logits=True
        )
        ref_single, ref_single_scores, ref_single_low = torch_predictor.predict_torch(
            coords_t, labels_t, multimask_output=False, return_logits=True
        )
    ref_masks_np = torch.cat([ref_single, ref_masks], dim=1).numpy()
    ref_scores_np = torch.cat([ref_single_scores, ref_scores], dim=1).numpy()
    ref_low_np = torch.cat([ref_single_low, ref_low], dim=1).numpy()
    if metadata.return_single_mask:  # one point plus its padding point: best of the 3 multimask outputs
        best = 1 + int(np.argmax(ref_scores_np[0, 1:]))
        ref_masks_np, ref_low_np = ref_masks_np[:, best : best + 1], ref_low_np[:, best : best + 1]
    return {
        "official_decoder_masks_max_abs_diff": float(np.abs(masks - ref_masks_np).max()),
        "official_decoder_low_res_max_abs_diff": float(np.abs(low_res - ref_low_np).max()),
        "official_decoder_mask_agreement": _agreement(masks > 0, ref_masks_np > 0),
    }

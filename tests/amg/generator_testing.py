"""Shared helpers of the everything-mode generator tests: twin models (oracle / ours) and record comparisons.

Imported by ``test_generator*.py`` as ``generator_testing`` (pytest puts this folder on sys.path).

Two decoders are used:
- the real SAM mask decoder, random weights (a tiny oracle). With random weights every mask is
  scattered over the whole image, so box NMS keeps one mask and crops keep none: good for per-candidate parity
  (IoU / stability / RLE) with NMS disabled, not for the rest of the pipeline;
- ``BlobDecoder``, a parameter-free stand-in installed in BOTH models: it turns the prompt encoder's point
  token and the image embedding into 3 nested, image-textured blobs around the point. Both generators then see
  the same decoder (up to the ~1e-6 differences of the encoders), so crops, edge filtering, NMS and small-region
  clean-up are exercised with tens of realistic, local masks in a few seconds.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from pycocotools import mask as coco_mask
from segment_anything.build_sam import _build_sam as oracle_build_sam

from segany.registry import SamConfig, ViTEncoderConfig, build_sam

TINY_ENCODER = ViTEncoderConfig(embed_dim=64, depth=2, num_heads=2, global_attn_indexes=(1,))

# Parity contract with the official generator.
MIN_MASK_IOU = 0.999
SCORE_ATOL = 1e-4


class BlobDecoder(torch.nn.Module):
    """Mask decoder stand-in: nested blobs around the point prompt, textured by the image embedding.

    The point token of the prompt encoder is PE(point) + a type embedding; its dot product with the dense image
    PE peaks at the point (random Fourier features), which gives blobs of growing size at decreasing levels.
    Predicted IoU = 0.7 + 2 x the soft area of the mask (so default thresholds keep the larger blobs). Same call signature and outputs as SAM's MaskDecoder.
    """

    levels = (0.55, 0.35, 0.2, 0.1)  # token 0 (single-mask output), then the 3 multimask outputs

    def forward(
        self,
        image_embeddings: torch.Tensor,
        image_pe: torch.Tensor,
        sparse_prompt_embeddings: torch.Tensor,
        dense_prompt_embeddings: torch.Tensor,
        multimask_output: bool,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        point = sparse_prompt_embeddings[:, 0]  # B x C
        channels = point.shape[-1]
        similarity = torch.einsum("bc,chw->bhw", point, image_pe[0]) / (channels / 2)  # B x h x w, peak ~1
        texture = image_embeddings[0, 0]  # h x w
        levels = torch.tensor(self.levels, dtype=similarity.dtype)
        logits = 300.0 * (similarity[:, None] - levels[None, :, None, None] + 0.05 * texture)
        logits = F.interpolate(
            logits, scale_factor=4, mode="bilinear", align_corners=False
        )  # B x 4 x 4h x 4w
        iou = 0.7 + 2 * torch.sigmoid(logits).mean(dim=(-1, -2))
        chosen = slice(1, None) if multimask_output else slice(0, 1)
        return logits[:, chosen], iou[:, chosen]


def perturb_(model: torch.nn.Module, seed: int, scale: float) -> None:
    """Add seeded Gaussian noise to EVERY parameter (the official init zeroes pos_embed and rel_pos)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn(param.shape, generator=generator) * scale)


def tiny_twins(seed: int = 0, noise: float = 0.05, blob_decoder: bool = False) -> tuple[Any, Any]:
    """(oracle, ours): the tiny SAM (2-block 64-d encoder, official prompt encoder / decoder, 1024 input) with
    identical perturbed random weights; ours loads the oracle's state dict with strict=True. With
    ``blob_decoder`` both mask decoders are then replaced by BlobDecoder."""
    torch.manual_seed(seed)
    oracle = oracle_build_sam(
        encoder_embed_dim=TINY_ENCODER.embed_dim,
        encoder_depth=TINY_ENCODER.depth,
        encoder_num_heads=TINY_ENCODER.num_heads,
        encoder_global_attn_indexes=list(TINY_ENCODER.global_attn_indexes),
        checkpoint=None,
    )
    perturb_(oracle, seed + 1, noise)
    ours = build_sam(SamConfig(TINY_ENCODER))
    ours.load_state_dict(oracle.state_dict(), strict=True)
    if blob_decoder:
        oracle.mask_decoder = BlobDecoder()
        ours.mask_decoder = BlobDecoder()
    return oracle.eval(), ours.eval()


def as_binary(segmentation: Any) -> np.ndarray:
    """H x W bool mask from any official output form (array, uncompressed RLE, COCO RLE)."""
    if isinstance(segmentation, np.ndarray):
        return segmentation.astype(bool)
    height, width = segmentation["size"]
    counts = segmentation["counts"]
    if isinstance(counts, list):
        encoded = coco_mask.frPyObjects({"size": [height, width], "counts": counts}, height, width)
    else:
        encoded = {"size": [height, width], "counts": counts.encode() if isinstance(counts, str) else counts}
    return coco_mask.decode(encoded).astype(bool)


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.count_nonzero(a | b)
    return 1.0 if union == 0 else np.count_nonzero(a & b) / union


def compare_records(ours: list[dict], reference: list[dict]) -> dict[str, float]:
    """Assert the parity contract record by record (same order); returns the worst differences seen."""
    assert len(ours) == len(reference), f"{len(ours)} masks vs the oracle's {len(reference)}"
    worst = {"mask_iou": 1.0, "predicted_iou": 0.0, "stability_score": 0.0, "pixels": 0}
    for index, (mine, ref) in enumerate(zip(ours, reference)):
        assert set(mine) == set(ref), f"record keys {sorted(mine)} vs {sorted(ref)}"
        for key in ("area", "bbox", "point_coords", "crop_box"):
            assert mine[key] == ref[key], f"mask {index}: {key} {mine[key]} vs oracle {ref[key]}"
        for key in ("predicted_iou", "stability_score"):
            diff = abs(mine[key] - ref[key])
            assert diff <= SCORE_ATOL, f"mask {index}: {key} {mine[key]} vs oracle {ref[key]}"
            worst[key] = max(worst[key], diff)
        a, b = as_binary(mine["segmentation"]), as_binary(ref["segmentation"])
        iou = mask_iou(a, b)
        assert iou >= MIN_MASK_IOU, f"mask {index}: IoU {iou} with the oracle's mask"
        worst["mask_iou"] = min(worst["mask_iou"], iou)
        worst["pixels"] = max(worst["pixels"], int(np.count_nonzero(a != b)))
    return worst

"""Shared helpers for the model / predictor / checkpoint tests: oracle-twin models and output comparisons.

Imported by the test modules as ``core_testing`` (pytest puts this folder on sys.path). The oracle is the
official ``segment-anything`` 1.0 package; it is only ever called, never copied.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from segment_anything import SamPredictor as OraclePredictor
from segment_anything.build_sam import _build_sam as oracle_build_sam

from segany.predictor import SamPredictor
from segany.registry import SamConfig, ViTEncoderConfig, build_sam

FIXTURES_DIR = Path(__file__).resolve().parents[1] / "fixtures"
PHOTOS = ("chelsea.jpg", "astronaut.jpg", "dog.jpg", "rocket_portrait.jpg")

# A reduced encoder (2 blocks, one of them global) with the official prompt encoder / decoder: the 1024 input and
# the 64 x 64 embedding grid stay official, so every pre/post-processing path is exercised at its real size.
REDUCED_ENCODER = ViTEncoderConfig(embed_dim=96, depth=2, num_heads=3, global_attn_indexes=(1,))

# Tolerances of the parity contract with the official segment-anything 1.0.
EMBED_RTOL = 1e-4  # max |ours - ref| <= 1e-4 * max(1, max |ref|)
IOU_ATOL = 1e-5
MASK_MARGIN = 1e-3  # binary masks must agree wherever |ref logit| exceeds this


@cache
def _photo(name: str) -> np.ndarray:
    image = np.asarray(Image.open(FIXTURES_DIR / name).convert("RGB"))
    image.setflags(write=False)
    return image


def load_photo(name: str) -> np.ndarray:
    """H x W x 3 uint8 RGB fixture photo (a fresh writable copy)."""
    return _photo(name).copy()


def perturb_(model: torch.nn.Module, seed: int, scale: float = 0.05) -> None:
    """Add Gaussian noise to EVERY parameter (the reference zero-initialises pos_embed and rel_pos_*)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn(param.shape, generator=generator) * scale)


def oracle_model(encoder: ViTEncoderConfig, seed: int = 0) -> torch.nn.Module:
    """The official SAM with the given encoder, randomly initialised then perturbed, in eval mode."""
    torch.manual_seed(seed)
    model = oracle_build_sam(
        encoder_embed_dim=encoder.embed_dim,
        encoder_depth=encoder.depth,
        encoder_num_heads=encoder.num_heads,
        encoder_global_attn_indexes=list(encoder.global_attn_indexes),
        checkpoint=None,
    )
    perturb_(model, seed + 1)
    return model.eval()


def twin_models(encoder: ViTEncoderConfig, seed: int = 0) -> tuple[torch.nn.Module, torch.nn.Module]:
    """(oracle, ours) holding identical weights; ours loads the oracle's state dict with strict=True."""
    reference = oracle_model(encoder, seed)
    ours = build_sam(SamConfig(encoder))
    ours.load_state_dict(reference.state_dict(), strict=True)
    return reference, ours.eval()


@dataclass
class EncodedPair:
    """Oracle and segany predictors with the same photo set (do not call set_image on them: shared)."""

    name: str
    image: np.ndarray
    oracle: OraclePredictor
    ours: SamPredictor

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    @property
    def width(self) -> int:
        return int(self.image.shape[1])


def max_abs(a: np.ndarray | torch.Tensor) -> float:
    return float(np.abs(np.asarray(a, dtype=np.float64)).max()) if np.size(a) else 0.0


def max_diff(a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor) -> float:
    a = np.asarray(a.detach().cpu() if isinstance(a, torch.Tensor) else a, dtype=np.float64)
    b = np.asarray(b.detach().cpu() if isinstance(b, torch.Tensor) else b, dtype=np.float64)
    assert a.shape == b.shape, f"shape mismatch {a.shape} vs {b.shape}"
    return float(np.abs(a - b).max()) if a.size else 0.0


def assert_scaled_close(ours: np.ndarray | torch.Tensor, ref: np.ndarray | torch.Tensor, what: str) -> float:
    """max |ours - ref| <= EMBED_RTOL * max(1, max |ref|); returns the max difference."""
    ours_np = np.asarray(ours.detach().cpu() if isinstance(ours, torch.Tensor) else ours)
    ref_np = np.asarray(ref.detach().cpu() if isinstance(ref, torch.Tensor) else ref)
    diff = max_diff(ours_np, ref_np)
    bound = EMBED_RTOL * max(1.0, max_abs(ref_np))
    assert diff <= bound, f"{what}: max abs diff {diff:.3g} > {bound:.3g}"
    return diff


def assert_masks_agree(ours_masks: np.ndarray, ref_logits: np.ndarray, what: str) -> None:
    """Binary masks equal the reference's (logits > 0) wherever the reference logit is not within the margin."""
    ours_masks = np.asarray(ours_masks)
    ref_logits = np.asarray(ref_logits)
    assert ours_masks.dtype == np.bool_, f"{what}: masks dtype {ours_masks.dtype}, expected bool"
    assert ours_masks.shape == ref_logits.shape, (
        f"{what}: masks shape {ours_masks.shape} vs {ref_logits.shape}"
    )
    confident = np.abs(ref_logits) > MASK_MARGIN
    wrong = (ours_masks != (ref_logits > 0.0)) & confident
    assert not wrong.any(), f"{what}: {int(wrong.sum())} confident pixels differ from the reference mask"
    # The comparison must not be vacuous.
    assert confident.mean() > 0.5, (
        f"{what}: only {confident.mean():.2%} of the reference logits are confident"
    )


def assert_prediction_matches(
    ours: Sequence[np.ndarray], ref_with_logits: Sequence[np.ndarray], what: str
) -> dict[str, float]:
    """Compare (masks, scores, low-res logits) from segany with the oracle's return_logits=True output."""
    masks, scores, low_res = (np.asarray(x) for x in ours)
    ref_logits, ref_scores, ref_low_res = (np.asarray(x) for x in ref_with_logits)
    assert scores.shape == ref_scores.shape, f"{what}: scores shape {scores.shape} vs {ref_scores.shape}"
    iou_diff = max_diff(scores, ref_scores)
    assert iou_diff <= IOU_ATOL, f"{what}: IoU predictions differ by {iou_diff:.3g}"
    low_res_diff = assert_scaled_close(low_res, ref_low_res, f"{what} low-res logits")
    assert_masks_agree(masks, ref_logits, what)
    return {"iou": iou_diff, "low_res": low_res_diff}


def image_prompts(height: int, width: int) -> dict[str, np.ndarray]:
    """Point / box prompts placed relative to the image size (non-integer pixel positions on purpose)."""
    return {
        "positive": np.array([[0.52 * width, 0.47 * height]]),
        "negative": np.array([[0.18 * width + 0.3, 0.22 * height + 0.7]]),
        "box": np.array([0.21 * width, 0.17 * height, 0.83 * width + 0.5, 0.79 * height]),
    }

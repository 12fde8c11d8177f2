"""Helpers shared by the ONNX tests (imported as `onnx_testing`; pytest puts this folder on sys.path)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from PIL import Image

import segany
from segany.modeling.sam import Sam

FIXTURES_DIR = Path(__file__).resolve().parents[1] / "fixtures"
PHOTO = "dog.jpg"  # 800 x 534 landscape
PORTRAIT = "rocket_portrait.jpg"  # 280 x 427 portrait
PERTURB_SCALE = 0.05
SEED = 0


def load_photo(name: str = PHOTO) -> np.ndarray:
    """H x W x 3 uint8 RGB fixture photo."""
    with Image.open(FIXTURES_DIR / name) as image:
        return np.asarray(image.convert("RGB"))


def session_options() -> ort.SessionOptions:
    """One intra-op thread: the test machines share two cores between jobs, and spinning threads thrash."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return options


def perturbed_tiny_sam(seed: int = SEED, scale: float = PERTURB_SCALE) -> Sam:
    sam = segany.sam_model_registry["vit_tiny"]()
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in sam.parameters():
            param.add_(torch.randn(param.shape, generator=generator) * scale)
    return sam.eval()


def mask_agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Fraction of pixels where two boolean masks agree."""
    assert a.shape == b.shape, f"shape mismatch {a.shape} vs {b.shape}"
    return float(np.mean(a == b))


def max_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, f"shape mismatch {a.shape} vs {b.shape}"
    return float(np.abs(a - b).max()) if a.size else 0.0


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)

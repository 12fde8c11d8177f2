"""The hover answer: one positive point -> the best of SAM's 3 candidates, as compact binary RLE.

Hover is the app's hot path (one request per mouse move), so it does only what its drawing needs: the
low-rank decoder on the image's cached decoder terms, then the upscaling of the best candidate alone (not of
all 3), run-length encoded to uint32 counts by numpy (4 bytes per run, no JSON, no pydantic). The result is
the mask `SamPredictor.predict` gives as `masks[argmax(scores)]` for the same point.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from segany.formats import rle_counts
from segany.modeling.mask_upsampling import upscale_masks_binary
from segany.predictor import SamPredictor


@dataclass(frozen=True)
class HoverMask:
    size: tuple[int, int]  # (H, W) of the original image
    counts: np.ndarray  # uint32 run lengths, column-major, background first (uncompressed COCO RLE)
    score: float  # the chosen candidate's predicted IoU
    index: int  # which of the 3 candidates
    timings_ms: dict[str, float] = field(default_factory=dict)  # stage -> milliseconds (Server-Timing)


def check_hover_point(x: float, y: float, width: int, height: int) -> str | None:
    """None if (x, y) may be prompted, else the name of the coordinate that lies too far out.

    As the predictor's own check: points slightly outside the image are fine, more than one image size
    outside is a unit or axis mix-up.
    """
    if not -width <= x <= 2 * width:
        return "x"
    if not -height <= y <= 2 * height:
        return "y"
    return None


@torch.inference_mode()
def hover_mask(predictor: SamPredictor, x: float, y: float) -> HoverMask:
    """The best-scoring multimask candidate for one positive point at original pixel (x, y)."""
    started = time.perf_counter()
    original_size = predictor.original_size
    # 1 x 1 x 2 point in the model input frame, label 1 (foreground).
    coords = predictor.transform.apply_coords(np.array([[[x, y]]], dtype=np.float64), original_size)
    coords_t = torch.as_tensor(coords, dtype=torch.float32, device=predictor.device)
    labels_t = torch.ones((1, 1), dtype=torch.int64, device=predictor.device)
    logits, scores = predictor.predict_low_res_torch(coords_t, labels_t, multimask_output=True)
    # logits: 1 x 3 x L x L, scores: 1 x 3
    best = int(torch.argmax(scores[0]))
    decoded = time.perf_counter()
    model = predictor.model
    mask = upscale_masks_binary(
        logits[:, best : best + 1],
        model.image_size,
        predictor.input_size,
        original_size,
        model.mask_threshold,
    )[0, 0]  # H x W bool
    upscaled = time.perf_counter()
    counts = rle_counts(mask)
    encoded = time.perf_counter()
    return HoverMask(
        size=(int(original_size[0]), int(original_size[1])),
        counts=counts,
        score=float(scores[0, best]),
        index=best,
        timings_ms={
            "decode": (decoded - started) * 1000,
            "upscale": (upscaled - decoded) * 1000,
            "rle": (encoded - upscaled) * 1000,
        },
    )

"""The benchmarks' on-disk embedding cache: reused for the same weights, re-encoded for new weights under the
same model name (a retrained default keeps its name), checked against a fresh `set_image` of each model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from segany.predictor import SamPredictor
from segany.registry import build_sam, resolve_config
from segany.video.encoding import CachedEncoder


def _model(seed: int):  # type: ignore[no-untyped-def]
    torch.manual_seed(seed)
    return build_sam(resolve_config("vit_tiny")).eval()


def _fresh_embedding(sam, frame: np.ndarray) -> np.ndarray:  # type: ignore[no-untyped-def]
    predictor = SamPredictor(sam)
    predictor.set_image(frame)
    return predictor.get_image_embedding().numpy()


def test_same_weights_reuse_and_new_weights_reencode(tmp_path: Path) -> None:
    frame = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    first, second = _model(0), _model(1)  # same architecture and name, other weights

    cache = CachedEncoder(tmp_path, "segany_small_v2")
    predictor = SamPredictor(first)
    cache.set_frame(predictor, 0, frame)
    assert cache.encoded == 1 and cache.path(0).is_file()

    again = CachedEncoder(tmp_path, "segany_small_v2")
    predictor = SamPredictor(first)
    again.set_frame(predictor, 0, frame)
    assert again.encoded == 0
    np.testing.assert_allclose(
        predictor.get_image_embedding().numpy(), _fresh_embedding(first, frame), atol=1e-6
    )

    retrained = CachedEncoder(tmp_path, "segany_small_v2")
    predictor = SamPredictor(second)
    retrained.set_frame(predictor, 0, frame)
    assert retrained.encoded == 1  # the file held the first model's embedding: not reused
    np.testing.assert_allclose(
        predictor.get_image_embedding().numpy(), _fresh_embedding(second, frame), atol=1e-6
    )
    assert retrained.identity(predictor) != again.identity(SamPredictor(first))

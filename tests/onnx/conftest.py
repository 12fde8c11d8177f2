"""Fixtures of the ONNX tests: one perturbed tiny SAM, exported once per session (fp32 + int8).

The tiny registry model has a 2-block encoder but the full-size prompt encoder and mask decoder, so the
decoder graphs are the real ones. Every parameter is perturbed by seeded noise so outputs are non-trivial.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from onnx_testing import PHOTO, load_photo, perturbed_tiny_sam, session_options

from segany.modeling.sam import Sam
from segany.onnx.export import ExportResult, export_onnx
from segany.onnx.runtime import OnnxPredictor
from segany.predictor import SamPredictor


@pytest.fixture(scope="session")
def tiny_sam() -> Sam:
    return perturbed_tiny_sam()


@pytest.fixture(scope="session")
def export(tiny_sam: Sam, tmp_path_factory: pytest.TempPathFactory) -> ExportResult:
    out = tmp_path_factory.mktemp("onnx_export")
    return export_onnx(tiny_sam, out, quantize="int8", model_name="vit_tiny", verify=False)


@pytest.fixture(scope="session")
def export_dir(export: ExportResult) -> Path:
    return export.out_dir


@pytest.fixture(scope="session")
def photo() -> np.ndarray:
    return load_photo(PHOTO)


@pytest.fixture(scope="session")
def torch_predictor(tiny_sam: Sam, photo: np.ndarray) -> SamPredictor:
    """Torch reference with the photo set (shared: do not call set_image on it)."""
    predictor = SamPredictor(tiny_sam)
    predictor.set_image(photo)
    return predictor


@pytest.fixture(scope="session")
def onnx_end_to_end(export_dir: Path, photo: np.ndarray) -> OnnxPredictor:
    """ORT encoder + decoder with the photo set (shared: do not change its image)."""
    predictor = OnnxPredictor(export_dir, session_options=session_options())
    predictor.set_image(photo)
    return predictor


@pytest.fixture(scope="session")
def onnx_torch_embedding(export_dir: Path, torch_predictor: SamPredictor) -> OnnxPredictor:
    """ORT decoder fed torch's embedding of the photo: isolates the decoder (shared)."""
    predictor = OnnxPredictor(export_dir, session_options=session_options())
    embedding = torch_predictor.get_image_embedding().cpu().numpy()
    predictor.set_image_embedding(embedding, torch_predictor.original_size)
    return predictor


@pytest.fixture(autouse=True)
def _single_torch_thread() -> Iterator[None]:
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)

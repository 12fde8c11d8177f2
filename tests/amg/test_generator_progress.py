"""Generator extras used by the web app: progress reports, stopping from the callback, a reused embedding."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from generator_testing import tiny_twins

from segany.amg import SamAutomaticMaskGenerator
from segany.embedding_file import ImageEmbedding
from segany.predictor import SamPredictor

SETTINGS = {
    "points_per_side": 6,
    "points_per_batch": 8,
    "pred_iou_thresh": 0.0,
    "stability_score_thresh": 0.0,
}


@pytest.fixture(scope="module")
def blob_model() -> torch.nn.Module:
    return tiny_twins(blob_decoder=True)[1]


def test_progress_counts_every_decoder_batch(blob_model: torch.nn.Module, fixture_photos: dict) -> None:
    image = fixture_photos["chelsea.jpg"]
    reports: list[float] = []
    # One crop layer: the whole image (36 points) plus 4 crops (9 points each after the 2x downscale).
    generator = SamAutomaticMaskGenerator(
        blob_model, crop_n_layers=1, crop_n_points_downscale_factor=2, **SETTINGS
    )
    generator.generate(image, progress=reports.append)
    expected_batches = 5 + 4 * 2  # ceil(36 / 8) + 4 * ceil(9 / 8)
    assert reports == pytest.approx([(i + 1) / expected_batches for i in range(expected_batches)])


def test_an_exception_from_the_callback_stops_the_run(
    blob_model: torch.nn.Module, fixture_photos: dict
) -> None:
    class Stop(Exception):
        pass

    calls = []

    def stop_at_second(fraction: float) -> None:
        calls.append(fraction)
        if len(calls) == 2:
            raise Stop

    with pytest.raises(Stop):
        SamAutomaticMaskGenerator(blob_model, **SETTINGS).generate(
            fixture_photos["chelsea.jpg"], progress=stop_at_second
        )
    assert len(calls) == 2


def test_a_given_embedding_replaces_the_whole_image_encoding(
    blob_model: torch.nn.Module, fixture_photos: dict
) -> None:
    image = fixture_photos["astronaut.jpg"]
    predictor = SamPredictor(blob_model)
    predictor.set_image(image)
    embedding = ImageEmbedding(
        predictor.get_image_embedding().numpy(),
        predictor.original_size,
        predictor.input_size,
        blob_model.image_size,
    )
    generator = SamAutomaticMaskGenerator(blob_model, **SETTINGS)
    encoded = []
    original_set_image = generator.predictor.set_image
    generator.predictor.set_image = lambda *args, **kwargs: (
        encoded.append(1) or original_set_image(*args, **kwargs)
    )
    reused = generator.generate(image, embedding=embedding)
    assert encoded == []  # no crop but the whole image: the encoder never ran
    fresh = SamAutomaticMaskGenerator(blob_model, **SETTINGS).generate(image)
    assert len(reused) == len(fresh) > 0
    for a, b in zip(reused, fresh):
        np.testing.assert_array_equal(a["segmentation"], b["segmentation"])
    wrong = ImageEmbedding(embedding.embedding, (10, 10), (512, 512), blob_model.image_size)
    with pytest.raises(ValueError, match="10x10"):
        generator.generate(image, embedding=wrong)


def test_prepare_decoder_reports_the_bytes_held(blob_model: torch.nn.Module, fixture_photos: dict) -> None:
    from segany.cli.models import random_model

    sam, _ = random_model("vit_tiny")  # the real low-rank decoder
    predictor = SamPredictor(sam)
    predictor.set_image(fixture_photos["chelsea.jpg"])
    embedding_bytes = predictor.get_image_embedding().numel() * 4
    held = predictor.prepare_decoder()
    assert held > embedding_bytes  # the decoder's per-image work is counted too
    before = predictor.predict(np.array([[100, 100]]), np.array([1]))
    fresh = SamPredictor(sam)
    fresh.set_image(fixture_photos["chelsea.jpg"])
    after = fresh.predict(np.array([[100, 100]]), np.array([1]))
    np.testing.assert_array_equal(before[0], after[0])

"""The registered full-size models: vit_b numerically against the oracle; vit_l / vit_h checkpoint layout.

vit_l / vit_h are compared on the meta device (shapes and key names, no memory); building them for real
(~1.2 GB / 2.5 GB of weights per copy) is marked slow.
"""

from __future__ import annotations

import numpy as np
import pytest
import segment_anything
import torch
from core_testing import assert_prediction_matches, assert_scaled_close, image_prompts, load_photo, perturb_
from segment_anything import SamPredictor as OraclePredictor

from segany.checkpoint import load_state_dict_into
from segany.predictor import SamPredictor
from segany.registry import CONFIGS, resolve_config, sam_model_registry

OFFICIAL_KEY_COUNTS = {"vit_b": 314, "vit_l": 482, "vit_h": 594}


def test_vit_b_matches_oracle_on_a_photo() -> None:
    torch.manual_seed(0)
    reference = segment_anything.sam_model_registry["vit_b"]()
    perturb_(reference, seed=1)
    reference.eval()
    ours = sam_model_registry["vit_b"]()
    ours.load_state_dict(reference.state_dict(), strict=True)

    image = load_photo("dog.jpg")
    oracle, predictor = OraclePredictor(reference), SamPredictor(ours)
    oracle.set_image(image)
    predictor.set_image(image)
    assert_scaled_close(predictor.get_image_embedding(), oracle.get_image_embedding(), "vit_b embedding")

    point = image_prompts(*image.shape[:2])["positive"]
    ref = oracle.predict(point, np.array([1]), return_logits=True)
    got = predictor.predict(point, np.array([1]))
    assert_prediction_matches(got, ref, "vit_b positive point")


def _official_state_shapes(name: str) -> dict[str, torch.Size]:
    with torch.device("meta"):
        reference = segment_anything.sam_model_registry[name]()
    return {key: value.shape for key, value in reference.state_dict().items()}


@pytest.mark.parametrize("name", ["vit_b", "vit_l", "vit_h", "default"])
def test_registry_model_has_the_official_state_dict_layout(name: str) -> None:
    official = _official_state_shapes(name)
    with torch.device("meta"):
        ours = sam_model_registry[name]()
    mine = {key: value.shape for key, value in ours.state_dict().items()}
    assert sorted(mine) == sorted(official)
    assert {k: tuple(v) for k, v in mine.items()} == {k: tuple(v) for k, v in official.items()}
    canonical = "vit_h" if name == "default" else name
    assert len(official) == OFFICIAL_KEY_COUNTS[canonical]
    # Strict loading goes through segany's own loader (shape checks, resizing hooks) without complaint.
    state = {key: torch.empty(shape, device="meta") for key, shape in official.items()}
    load_state_dict_into(ours, state, strict=True)


@pytest.mark.parametrize("name", ["vit_b", "vit_l", "vit_h"])
def test_registry_numbers_match_the_official_builders(name: str) -> None:
    """Parameter counts on the meta device equal the oracle's (93.7M / 312.3M / 641.1M)."""
    with torch.device("meta"):
        reference = segment_anything.sam_model_registry[name]()
        ours = sam_model_registry[name]()
    count = sum(p.numel() for p in ours.parameters())
    assert count == sum(p.numel() for p in reference.parameters())
    expected_millions = {"vit_b": 93.7, "vit_l": 312.3, "vit_h": 641.1}[name]
    assert round(count / 1e6, 1) == expected_millions
    assert resolve_config(name) is CONFIGS[name]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["vit_l", "vit_h"])
def test_real_official_weights_layout_loads_strictly(name: str) -> None:
    """Materialised official models (random init) load into ours with strict=True and identical tensors."""
    torch.manual_seed(0)
    reference = segment_anything.sam_model_registry[name]()
    state = reference.state_dict()
    ours = sam_model_registry[name]()
    load_state_dict_into(ours, state, strict=True)
    for key, value in ours.state_dict().items():
        assert torch.equal(value, state[key]), key

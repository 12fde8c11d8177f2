"""The full method's checks and fusion, with SAM's answer fixed by hand: the forward-backward flow test, the
agreement threshold lowered by doubt, the boundary band, and the background points outside the box."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from segany.video.flow import inconsistent
from segany.video.mask_prompts import outside_points
from segany.video.objects import Candidate
from segany.video.refine import reprompt
from segany.video.settings import TrackerSettings

SIZE = (96, 128)  # H x W


def _square(x0: int, y0: int, side: int) -> np.ndarray:
    mask = np.zeros(SIZE, dtype=bool)
    mask[y0 : y0 + side, x0 : x0 + side] = True
    return mask


class FixedAnswer:
    """Stands in for SamPredictor: whatever the prompts, SAM answers `mask` with predicted IoU `score`."""

    def __init__(self, mask: np.ndarray, score: float = 0.9) -> None:
        self.mask, self.score = mask, score
        self.model = SimpleNamespace(
            mask_threshold=0.0, image_size=128, prompt_encoder=SimpleNamespace(mask_input_size=(32, 32))
        )
        self.calls: list[dict[str, Any]] = []

    def predict(self, *args: Any, **kwargs: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        self.calls.append(kwargs)
        logits = np.where(self.mask, 10.0, -10.0).astype(np.float32)[None]
        return logits, np.array([self.score]), np.zeros((1, 32, 32), dtype=np.float32)


def _carried(mask: np.ndarray, doubt: float = 0.0) -> Candidate:
    logits = np.zeros((32, 32), dtype=np.float32)
    return Candidate(mask, logits, 0.9, False, mask.astype(np.float32), "carried", doubt)


def test_consistent_translation_passes_and_a_wrong_forward_flow_fails() -> None:
    backward = np.zeros((*SIZE, 2), dtype=np.float32)
    backward[..., 0] = -3.0  # every pixel came from 3 px to its left
    forward = np.zeros_like(backward)
    forward[..., 0] = 3.0  # ...and goes 3 px to the right: the two cancel out
    assert not inconsistent(backward, forward).any()
    forward[40:60, 50:80, 0] = -3.0  # a patch whose forward flow points the other way (6 px off)
    flagged = inconsistent(backward, forward)
    # Current pixel x looks up the forward flow at x - 3: the patch shows up shifted 3 px to the right.
    expected = np.zeros(SIZE, dtype=bool)
    expected[40:60, 53:83] = True
    assert np.array_equal(flagged[:, 1:-1], expected[:, 1:-1])


def test_doubt_lowers_the_agreement_needed() -> None:
    carried = _square(20, 20, 40)
    answer = _square(36, 20, 40)  # IoU 24/56 = 0.43 with the carried square
    settings = TrackerSettings(min_agreement=0.85, doubt_level=0.3, doubtful_min_agreement=0.3)
    sure = reprompt(FixedAnswer(answer), _carried(carried, doubt=0.1), settings)  # type: ignore[arg-type]
    assert sure.source == "carried" and sure.uncertain and np.array_equal(sure.mask, carried)
    doubtful = reprompt(FixedAnswer(answer), _carried(carried, doubt=0.5), settings)  # type: ignore[arg-type]
    assert doubtful.source == "sam" and not doubtful.uncertain and np.array_equal(doubtful.mask, answer)
    unchecked = settings.with_options(flow_check=False)
    assert reprompt(FixedAnswer(answer), _carried(carried, doubt=0.5), unchecked).source == "carried"  # type: ignore[arg-type]


def test_band_fusion_moves_the_edge_by_at_most_the_band() -> None:
    carried = _square(20, 20, 40)  # area 1600: band 0.1 -> radius 4 px
    answer = _square(26, 20, 40) | _square(100, 70, 10)  # shifted 6 px right, plus a far blob
    settings = TrackerSettings(min_agreement=0.0, fusion="band", band=0.1)
    fused = reprompt(FixedAnswer(answer), _carried(carried), settings)  # type: ignore[arg-type]
    rows = fused.mask.any(axis=1)
    columns = np.flatnonzero(fused.mask[40])
    assert not fused.mask[70:80, 100:110].any()  # the far blob is beyond the band: never added
    # Left edge: SAM says x = 26, the carried mask holds up to 4 px inside its edge (x >= 24); right edge: SAM
    # says x = 65, only 4 px beyond the carried edge (x <= 63) can be added.
    assert columns[0] == 24 and columns[-1] == 63
    assert np.flatnonzero(rows)[[0, -1]].tolist() == [20, 59]
    assert fused.probability.shape == SIZE and fused.logits.shape == (32, 32)


def test_negative_points_sit_outside_the_box_and_inside_the_frame() -> None:
    points = outside_points(np.array([10.0, 20.0, 50.0, 60.0]), SIZE)
    assert points.tolist() == [[6.0, 40.0], [54.0, 40.0], [30.0, 16.0], [30.0, 64.0]]
    assert outside_points(np.array([0.0, 0.0, 128.0, 96.0]), SIZE).shape == (
        0,
        2,
    )  # all would leave the frame
    carried = _square(20, 20, 40)
    predictor = FixedAnswer(carried)
    reprompt(predictor, _carried(carried), TrackerSettings(negative_points=True, interior_points=1))  # type: ignore[arg-type]
    labels = predictor.calls[0]["point_labels"]
    assert labels.tolist() == [1, 0, 0, 0, 0]


@pytest.mark.parametrize("bad", [{"fusion": "blend"}, {"model_weight": 1.5}, {"band": -1.0}])
def test_bad_fusion_settings(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=next(iter(bad))):
        TrackerSettings(**bad)

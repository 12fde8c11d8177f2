"""IoU-head calibration from the protocol's scores: hand-computed errors with a scripted predictor."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from segany.data.sample import Sample
from segany.evaluation.calibration import calibration_rows, write_calibration
from segany.evaluation.protocol import evaluate_box_scored, evaluate_reader, simulate_clicks_scored


def _square() -> np.ndarray:
    gt = np.zeros((20, 30), bool)
    gt[5:15, 5:15] = True  # 100 px
    return gt


def _half_of_square() -> np.ndarray:
    m = np.zeros((20, 30), bool)
    m[5:15, 5:10] = True  # 50 px inside the square: IoU 0.5
    return m


class FixedPredictor:
    """First click: 3 masks (half the square, the square, nothing) scored 0.9 / 0.3 / 0.1; later clicks: the
    square scored 0.95; a box: the square plus 25 px below it (IoU 0.8) scored 0.7."""

    def set_image(self, image: np.ndarray) -> None:
        pass

    def predict(
        self,
        point_coords: np.ndarray | None = None,
        point_labels: np.ndarray | None = None,
        box: np.ndarray | None = None,
        mask_input: np.ndarray | None = None,
        multimask_output: bool = True,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if box is not None:
            grown = _square()
            grown[15, 5:15] = True
            grown[16, 5:15] = True
            grown[17, 5:10] = True  # 125 px containing the square: IoU 100 / 125 = 0.8
            masks, scores = [grown], [0.7]
        elif multimask_output:
            masks, scores = [_half_of_square(), _square(), np.zeros((20, 30), bool)], [0.9, 0.3, 0.1]
        else:
            masks, scores = [_square()], [0.95]
        return np.stack(masks), np.asarray(scores, np.float32), np.zeros((len(masks), 256, 256), np.float32)


def test_scored_protocol_keeps_the_chosen_masks_score() -> None:
    ious, scores, _ = simulate_clicks_scored(FixedPredictor(), _square(), max_clicks=3)
    # Click 1 picks the most confident mask (IoU 0.5, score 0.9); click 2 gets the square (1.0, 0.95),
    # which is perfect, so both are carried to click 3.
    assert ious == [0.5, 1.0, 1.0] and np.allclose(scores, [0.9, 0.95, 0.95])
    first, refined, score = evaluate_box_scored(FixedPredictor(), _square())
    assert (first, refined) == (0.8, 0.8) and math.isclose(score, 0.7, rel_tol=1e-6)


def test_calibration_rows_and_table(tmp_path: Path) -> None:
    sample = Sample(np.zeros((20, 30, 3), np.uint8), [_square()], {"id": "a", "image_path": "a"})
    reader = [sample]  # a list is a SampleReader: sized, indexable, iterable
    results = evaluate_reader(FixedPredictor(), reader, "fixed", "toy", max_clicks=1)
    results += evaluate_reader(FixedPredictor(), reader, "fixed", "toy2", max_clicks=1, boxes=False)
    rows = {(r.dataset, r.method): r for r in calibration_rows(results)}
    toy = rows[("toy", "fixed")]
    assert (toy.n_click, toy.n_box) == (1, 1)
    assert math.isclose(toy.click_error, 0.4, abs_tol=1e-6)  # |0.9 - 0.5|
    assert math.isclose(toy.box_error, 0.1, abs_tol=1e-6)  # |0.7 - 0.8|
    assert math.isclose(toy.all_error, 0.25, abs_tol=1e-6)
    assert math.isnan(rows[("toy2", "fixed")].box_error)
    everything = rows[("all", "fixed")]
    assert (everything.n_click, everything.n_box) == (2, 1)
    assert math.isclose(everything.all_error, (0.4 + 0.4 + 0.1) / 3, abs_tol=1e-6)
    text = write_calibration(results, tmp_path).read_text()
    assert "| toy | fixed | 1 | 40.0 | 1 | 10.0 | 25.0 |" in text

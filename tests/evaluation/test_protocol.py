"""The N-click and box protocols driven by scripted fake predictors with hand-computed answers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from segany.data import FolderReader
from segany.evaluation.protocol import evaluate_box, evaluate_reader, simulate_clicks

Prediction = tuple[np.ndarray, np.ndarray, np.ndarray]


class ScriptedPredictor:
    """Returns scripted (masks, scores) per call; the logits of mask k of call c are all 10 * c + k."""

    def __init__(self, script: Callable[[int, dict[str, Any]], tuple[list[np.ndarray], list[float]]]) -> None:
        self.script = script
        self.calls: list[dict[str, Any]] = []
        self.images = 0
        self.image_shape: tuple[int, ...] = (0, 0)

    def set_image(self, image: np.ndarray) -> None:
        self.images += 1
        self.image_shape = image.shape

    def predict(
        self,
        point_coords: np.ndarray | None = None,
        point_labels: np.ndarray | None = None,
        box: np.ndarray | None = None,
        mask_input: np.ndarray | None = None,
        multimask_output: bool = True,
    ) -> Prediction:
        call = {
            "point_coords": point_coords,
            "point_labels": point_labels,
            "box": box,
            "mask_input": mask_input,
            "multimask_output": multimask_output,
            "image_shape": self.image_shape,
        }
        masks, scores = self.script(len(self.calls), call)
        c = len(self.calls)
        self.calls.append(call)
        logits = np.stack([np.full((256, 256), 10.0 * c + k, np.float32) for k in range(len(masks))])
        return np.stack(masks), np.asarray(scores, np.float32), logits


def _square() -> np.ndarray:
    gt = np.zeros((20, 30), bool)
    gt[5:15, 5:15] = True  # 100 px, XYXY box [5, 5, 14, 14]
    return gt


def _left_half() -> np.ndarray:
    m = np.zeros((20, 30), bool)
    m[5:15, 5:10] = True  # 50 px inside the square: IoU 0.5
    return m


def _three_then_gt(gt: np.ndarray) -> Callable[[int, dict[str, Any]], tuple[list[np.ndarray], list[float]]]:
    def script(call: int, args: dict[str, Any]) -> tuple[list[np.ndarray], list[float]]:
        if call == 0:
            return [gt, _left_half(), np.zeros_like(gt)], [0.2, 0.9, 0.1]
        return [gt], [0.5]

    return script


def test_most_confident_sequence_and_mask_feedback() -> None:
    gt = _square()
    pred = ScriptedPredictor(_three_then_gt(gt))
    ious, clicks = simulate_clicks(pred, gt, max_clicks=3, selection="most_confident")
    assert ious == [0.5, 1.0, 1.0]  # perfect after click 2: carried to click 3 without a call
    assert len(pred.calls) == 2
    first, second = pred.calls
    # First click: deepest GT point (ties at x, y in {9, 10}: row-major first); multimask, no mask input.
    np.testing.assert_array_equal(first["point_coords"], [[9, 9]])
    assert first["multimask_output"] is True and first["mask_input"] is None
    # Second click: deepest point of the miss (columns 10-14): x = 12, y = 9 (tie rows 7-12), positive.
    np.testing.assert_array_equal(second["point_coords"], [[9, 9], [12, 9]])
    np.testing.assert_array_equal(second["point_labels"], [1, 1])
    assert second["multimask_output"] is False
    # The logits of call 0's chosen mask (mask 1) are fed back.
    assert second["mask_input"].shape == (1, 256, 256) and np.all(second["mask_input"] == 1.0)
    assert [tuple(c) for c in clicks] == [(9, 9, 1), (12, 9, 1)]


def test_oracle_picks_best_iou_and_mask_input_can_be_off() -> None:
    gt = _square()
    pred = ScriptedPredictor(_three_then_gt(gt))
    ious, _ = simulate_clicks(pred, gt, max_clicks=5, selection="oracle")
    assert ious == [1.0] * 5 and len(pred.calls) == 1
    pred = ScriptedPredictor(_three_then_gt(gt))
    simulate_clicks(pred, gt, max_clicks=2, selection="most_confident", use_mask_input=False)
    assert pred.calls[1]["mask_input"] is None


def test_box_prompt_and_refinement_pass() -> None:
    gt = _square()
    gt[5:10, 10:15] = False  # L shape of 75 px; its tight box is still [5, 5, 14, 14]
    box_fill = _square()

    def script(call: int, args: dict[str, Any]) -> tuple[list[np.ndarray], list[float]]:
        return ([box_fill] if args["mask_input"] is None else [gt]), [0.7]

    pred = ScriptedPredictor(script)
    assert evaluate_box(pred, gt) == (0.75, 1.0)
    np.testing.assert_array_equal(pred.calls[0]["box"], [5, 5, 14, 14])
    assert pred.calls[0]["point_coords"] is None and pred.calls[0]["multimask_output"] is False
    np.testing.assert_array_equal(pred.calls[1]["box"], [5, 5, 14, 14])
    assert np.all(pred.calls[1]["mask_input"] == 0.0)  # logits of call 0, mask 0
    assert evaluate_box(ScriptedPredictor(script), gt, refine=False) == (0.75, 0.75)


def test_bad_predictor_output_is_reported() -> None:
    gt = _square()
    pred = ScriptedPredictor(lambda c, a: ([np.zeros((10, 10), bool)], [1.0]))
    with pytest.raises(ValueError, match="masks of shape"):
        simulate_clicks(pred, gt, max_clicks=1)
    with pytest.raises(ValueError, match="selection"):
        simulate_clicks(pred, gt, selection="best")


def _disc_around_last_positive(call: int, args: dict[str, Any]) -> tuple[list[np.ndarray], list[float]]:
    """Box prompt: the filled box. Points: a 30 px disc around the last positive click."""
    h, w = args["image_shape"][:2]
    yy, xx = np.mgrid[:h, :w]
    if args["point_coords"] is None:
        x0, y0, x1, y1 = args["box"]
        return [(xx >= x0) & (xx <= x1) & (yy >= y0) & (yy <= y1)], [1.0]
    pos = args["point_coords"][args["point_labels"] == 1][-1]
    return [(xx - pos[0]) ** 2 + (yy - pos[1]) ** 2 <= 30**2], [1.0]


def test_evaluate_reader_on_fixture_horses(horse_reader: FolderReader) -> None:
    pred = ScriptedPredictor(_disc_around_last_positive)
    results = evaluate_reader(pred, horse_reader, "disc", "horses")
    assert pred.images == 2  # set_image once per image
    assert [(r.sample_id, r.dataset, r.method) for r in results] == [
        ("horse001", "horses", "disc"),
        ("horse002", "horses", "disc"),
    ]
    for r in results:
        assert set(r.click_ious) == {"most_confident", "oracle"}
        assert all(len(v) == 9 for v in r.click_ious.values())
        assert r.click_ious["most_confident"] == r.click_ious["oracle"]  # one mask per call
        assert 0.0 < r.click_ious["most_confident"][0] < 1.0
        assert r.box_iou is not None and 0.2 < r.box_iou < 1.0


def test_object_subsampling_is_seeded(camvid_reader: FolderReader) -> None:
    def run(seed: int) -> list[int]:
        pred = ScriptedPredictor(_disc_around_last_positive)
        res = evaluate_reader(
            pred,
            camvid_reader,
            "disc",
            "camvid",
            max_clicks=1,
            selections=("most_confident",),
            boxes=False,
            max_objects_per_image=3,
            seed=seed,
        )
        assert len(pred.calls) == len(res) == 3 and all(r.box_iou is None for r in res)
        return [r.object_index for r in res]

    assert run(0) == run(0)
    assert len(camvid_reader[0].masks) > 3 and {tuple(run(s)) for s in range(4)} != {tuple(run(0))}

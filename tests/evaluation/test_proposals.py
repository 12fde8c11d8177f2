"""Mask AR@k on synthetic proposals with known answers."""

from __future__ import annotations

import numpy as np
import pycocotools.mask as mask_utils
import pytest

from segany.evaluation.proposals import (
    IOU_THRESHOLDS,
    ProposalRecall,
    average_recall,
    evaluate_proposals,
    greedy_matches,
    mask_iou_matrix,
    write_proposal_tables,
)


def _rect(x0: int, y0: int, x1: int, y1: int, shape: tuple[int, int] = (40, 60)) -> np.ndarray:
    m = np.zeros(shape, bool)
    m[y0:y1, x0:x1] = True
    return m


def test_thresholds_are_coco() -> None:
    assert IOU_THRESHOLDS == (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)


def test_perfect_and_empty_proposals() -> None:
    gts = [_rect(0, 0, 10, 10), _rect(20, 20, 40, 30)]
    assert average_recall(gts[::-1], gts) == 1.0
    assert average_recall([], gts) == 0.0


def test_partial_iou_counts_only_up_to_its_threshold() -> None:
    gt = _rect(0, 0, 20, 10)  # 200 px
    half = _rect(0, 0, 14, 10)  # 140 px inside the GT: IoU 0.7 -> matched at 0.50 .. 0.70 (5 of 10)
    assert mask_iou_matrix([half], [gt])[0, 0] == pytest.approx(0.7)
    assert average_recall([half], [gt]) == pytest.approx(0.5)


def test_one_to_one_matching_and_k_cut() -> None:
    gt_a, gt_b = _rect(0, 0, 10, 10), _rect(30, 0, 40, 10)
    # Two copies of gt_a: the second cannot match again; gt_b's proposal comes third.
    preds = [gt_a, gt_a.copy(), gt_b]
    meter = ProposalRecall(max_proposals=(1, 2, 3))
    meter.add(preds, [gt_a, gt_b])
    assert meter.result() == {1: 0.5, 2: 0.5, 3: 1.0}
    np.testing.assert_allclose(meter.recalls()[2], np.ones(10))


def test_greedy_order_follows_scores() -> None:
    # Proposal 0 (best score) takes GT 0 (IoU 0.9) although proposal 1 fits it better; proposal 1 is left
    # with GT 1 at 0.6. At 0.95 proposal 0 no longer qualifies and proposal 1 takes GT 0.
    ious = np.array([[0.9, 0.0], [0.95, 0.6]])
    assert [greedy_matches(ious, t) for t in (0.5, 0.6, 0.65, 0.9, 0.95)] == [2, 2, 1, 1, 1]
    assert greedy_matches(ious[::-1], 0.9) == 1 and greedy_matches(np.array([[0.95, 0.9]]), 0.5) == 1


def test_accumulates_over_images_and_accepts_rle() -> None:
    meter = ProposalRecall(max_proposals=(100,))
    gt = _rect(0, 0, 10, 10)
    rle = mask_utils.encode(np.asfortranarray(gt.astype(np.uint8)))
    meter.add([rle], [gt])  # 1 of 1 matched everywhere
    meter.add([], [gt, _rect(20, 0, 30, 10), _rect(40, 0, 50, 10)])  # 0 of 3
    assert meter.result()[100] == pytest.approx(0.25)
    assert meter.num_images == 2 and meter.num_gt == 4


def test_errors() -> None:
    with pytest.raises(ValueError, match="max_proposals"):
        ProposalRecall(max_proposals=(0,))
    with pytest.raises(ValueError, match="one H x W"):
        mask_iou_matrix([_rect(0, 0, 5, 5)], [_rect(0, 0, 5, 5, shape=(10, 10))])
    with pytest.raises(TypeError, match="pred_masks"):
        mask_iou_matrix([[1, 2]], [_rect(0, 0, 5, 5)])


def test_evaluate_proposals_ranks_by_predicted_iou_and_skips_images_without_gt(tmp_path) -> None:
    gt_a, gt_b = _rect(0, 0, 10, 10), _rect(30, 0, 40, 10)
    empty_image = np.zeros((40, 60, 3), np.uint8)
    samples = [(empty_image, [gt_a, gt_b], {}), (empty_image, [], {})]
    # Listed worst first: only the predicted_iou ranking puts gt_b's exact copy inside the top 1.
    records = [
        {"segmentation": _rect(0, 0, 5, 5), "predicted_iou": 0.1},
        {"segmentation": mask_utils.encode(np.asfortranarray(gt_b.astype(np.uint8))), "predicted_iou": 0.9},
        {"segmentation": gt_a, "predicted_iou": 0.5},
    ]
    calls = []

    def generate(image: np.ndarray) -> list[dict]:
        calls.append(image.shape)
        return records

    result = evaluate_proposals(generate, samples, "m", "toy", max_proposals=(1, 2))
    assert calls == [(40, 60, 3)]  # the image without GT is not run
    assert (result.n_images, result.n_gt, result.mean_proposals) == (1, 2, 3.0)
    assert result.recall == {1: 0.5, 2: 1.0}
    path = write_proposal_tables([result], tmp_path)
    assert "| toy | m | 1 | 2 | 3 | 50.0 | 100.0 |" in path.read_text()
    assert (tmp_path / "proposals.csv").read_text().splitlines()[1] == "toy,m,1,2,3.00,0.500000,1.000000"

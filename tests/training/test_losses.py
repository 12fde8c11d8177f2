"""Losses against hand-computed values and independent numpy formulas; the min-loss output selection."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from segany.training.losses import (
    LossWeights,
    dice_loss,
    mask_iou,
    sam_mask_loss,
    select_min_loss,
    sigmoid_focal_loss,
)


def np_focal(logits: np.ndarray, targets: np.ndarray, alpha: float = 0.25, gamma: float = 2.0) -> float:
    p = 1.0 / (1.0 + np.exp(-logits))
    pos = -alpha * (1 - p) ** gamma * np.log(p)
    neg = -(1 - alpha) * p**gamma * np.log(1 - p)
    return float(np.where(targets == 1, pos, neg).mean())


def np_dice(logits: np.ndarray, targets: np.ndarray) -> float:
    p = 1.0 / (1.0 + np.exp(-logits))
    return float(1 - (2 * (p * targets).sum() + 1) / (p.sum() + targets.sum() + 1))


def test_focal_loss_by_hand():
    # One foreground pixel with logit 0 (p = 1/2), one background pixel with logit 0:
    # fg: -0.25 * 0.5^2 * log(0.5) = 0.0625 ln 2; bg: -0.75 * 0.5^2 * log(0.5) = 0.1875 ln 2; mean = 0.125 ln 2.
    logits = torch.zeros(1, 1, 2)
    targets = torch.tensor([[[1.0, 0.0]]])
    assert sigmoid_focal_loss(logits, targets).item() == pytest.approx(0.125 * math.log(2), rel=1e-6)


def test_focal_and_dice_match_numpy_formulas():
    rng = np.random.default_rng(0)
    logits = rng.normal(scale=3.0, size=(3, 5, 7))
    targets = (rng.random((3, 5, 7)) > 0.6).astype(np.float64)
    focal = sigmoid_focal_loss(torch.tensor(logits), torch.tensor(targets))
    dice = dice_loss(torch.tensor(logits), torch.tensor(targets))
    for k in range(3):
        assert focal[k].item() == pytest.approx(np_focal(logits[k], targets[k]), rel=1e-5)
        assert dice[k].item() == pytest.approx(np_dice(logits[k], targets[k]), rel=1e-5)


def test_dice_by_hand():
    # p = sigmoid(0) = 1/2 on 4 pixels, target 1 on 2 of them: 1 - (2 * 1 + 1) / (2 + 2 + 1) = 0.4.
    logits = torch.zeros(1, 2, 2)
    targets = torch.tensor([[[1.0, 1.0], [0.0, 0.0]]])
    assert dice_loss(logits, targets).item() == pytest.approx(0.4)


def test_mask_iou_of_thresholded_logits():
    logits = torch.tensor([[[1.0, 1.0], [-1.0, 2.0]], [[-1.0, -1.0], [-1.0, -1.0]]])
    targets = torch.tensor([[[1.0, 0.0], [1.0, 1.0]], [[0.0, 0.0], [0.0, 0.0]]])
    assert mask_iou(logits, targets).tolist() == pytest.approx([2 / 4, 1.0])  # both empty -> 1


def test_min_loss_selection_backpropagates_only_the_best_mask():
    target = torch.zeros(2, 4, 4)
    target[:, :2] = 1.0
    good = torch.where(target > 0, 8.0, -8.0)
    logits = torch.stack([torch.zeros(2, 4, 4), good, -good], dim=1).requires_grad_(True)  # best = output 1
    iou_pred = torch.full((2, 3), 0.5, requires_grad=True)
    result = sam_mask_loss(logits, iou_pred, target)
    assert result.selected.tolist() == [1, 1]
    result.total.sum().backward()
    assert logits.grad[:, 1].abs().sum() > 0
    assert torch.equal(logits.grad[:, 0], torch.zeros_like(logits.grad[:, 0]))
    assert torch.equal(logits.grad[:, 2], torch.zeros_like(logits.grad[:, 2]))
    assert (iou_pred.grad != 0).all()  # the IoU head is trained on every output


def test_total_loss_is_20_focal_plus_dice_plus_iou_mse():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(1, 3, 6, 6))
    target = (rng.random((1, 6, 6)) > 0.5).astype(np.float64)
    iou_pred = np.array([[0.2, 0.7, 0.4]])
    result = sam_mask_loss(torch.tensor(logits), torch.tensor(iou_pred), torch.tensor(target))
    mask_losses = [
        20 * np_focal(logits[0, m], target[0]) + np_dice(logits[0, m], target[0]) for m in range(3)
    ]
    best = int(np.argmin(mask_losses))
    actual = []
    for m in range(3):
        pred, gt = logits[0, m] > 0, target[0] > 0.5
        actual.append((pred & gt).sum() / (pred | gt).sum())
    mse = float(np.mean((iou_pred[0] - np.array(actual)) ** 2))
    assert result.selected.item() == best
    assert result.total.item() == pytest.approx(mask_losses[best] + mse, rel=1e-5)
    assert result.iou.item() == pytest.approx(actual[best])
    weighted = sam_mask_loss(
        torch.tensor(logits),
        torch.tensor(iou_pred),
        torch.tensor(target),
        LossWeights(focal=1.0, dice=0.0, iou=0.0),
    )
    assert weighted.total.item() == pytest.approx(
        min(np_focal(logits[0, m], target[0]) for m in range(3)), rel=1e-5
    )


def test_select_min_loss_picks_the_first_minimum():
    losses = torch.tensor([[3.0, 1.0, 2.0], [0.5, 0.5, 4.0]])
    assert select_min_loss(losses).tolist() == [1, 0]


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="N x M x h x w"):
        sam_mask_loss(torch.zeros(2, 3, 4, 4), torch.zeros(2, 3), torch.zeros(2, 5, 5))

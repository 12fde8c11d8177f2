"""SAM's training losses: focal + dice on mask logits (20 : 1), MSE of the IoU head against the actual IoU
of the thresholded prediction (weight 1), and the min-loss choice among multimask outputs.

Shapes: logits ... x h x w (e.g. N x M x h x w, M mask outputs per object), targets broadcastable to
them with values in [0, 1] (a low-res target may be fractional: the foreground share of each cell).
Per-mask losses reduce over the last two axes only, so selection and weighting stay with the caller.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

FOCAL_ALPHA = 0.25
FOCAL_GAMMA = 2.0
FOCAL_WEIGHT = 20.0
DICE_WEIGHT = 1.0
IOU_WEIGHT = 1.0
DICE_SMOOTH = 1.0


def sigmoid_focal_loss(
    logits: torch.Tensor, targets: torch.Tensor, alpha: float = FOCAL_ALPHA, gamma: float = FOCAL_GAMMA
) -> torch.Tensor:
    """Focal loss (Lin et al.) per mask, the mean over pixels: -a_t (1 - p_t)^gamma log(p_t).

    p_t = p for foreground targets and 1 - p for background, a_t = alpha and 1 - alpha likewise
    (alpha < 0 disables the weighting). Fractional targets interpolate linearly.
    """
    logits, targets = logits.float(), targets.float()
    prob = torch.sigmoid(logits)
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p_t = prob * targets + (1 - prob) * (1 - targets)
    loss = ce * (1 - p_t) ** gamma
    if alpha >= 0:
        loss = loss * (alpha * targets + (1 - alpha) * (1 - targets))
    return loss.mean(dim=(-2, -1))


def dice_loss(logits: torch.Tensor, targets: torch.Tensor, smooth: float = DICE_SMOOTH) -> torch.Tensor:
    """Soft dice loss per mask: 1 - (2 sum(p t) + smooth) / (sum(p) + sum(t) + smooth), p = sigmoid."""
    prob = torch.sigmoid(logits.float())
    targets = targets.float()
    numerator = 2 * (prob * targets).sum(dim=(-2, -1)) + smooth
    denominator = prob.sum(dim=(-2, -1)) + targets.sum(dim=(-2, -1)) + smooth
    return 1 - numerator / denominator


@torch.no_grad()
def mask_iou(logits: torch.Tensor, targets: torch.Tensor, threshold: float = 0.0) -> torch.Tensor:
    """IoU of (logits > threshold) with (targets >= 0.5) per mask; 1.0 when both are empty. No gradient."""
    pred = logits > threshold
    gt = targets >= 0.5
    intersection = (pred & gt).sum(dim=(-2, -1)).float()
    union = (pred | gt).sum(dim=(-2, -1)).float()
    return torch.where(union > 0, intersection / union.clamp_min(1), torch.ones_like(union))


@dataclass
class LossWeights:
    focal: float = FOCAL_WEIGHT
    dice: float = DICE_WEIGHT
    iou: float = IOU_WEIGHT
    focal_alpha: float = FOCAL_ALPHA
    focal_gamma: float = FOCAL_GAMMA


@dataclass
class MaskLoss:
    """Losses of N objects with M outputs each (the per-object values are those of the selected output).

    total N: weighted mask loss of the selected output + iou weight x IoU-head MSE (over all M outputs).
    selected N: index of the lowest-mask-loss output. iou N: actual IoU of the selected output.
    mask_losses N x M: weighted focal + dice of every output, the selection criterion.
    """

    total: torch.Tensor
    focal: torch.Tensor
    dice: torch.Tensor
    iou_mse: torch.Tensor
    iou: torch.Tensor
    selected: torch.Tensor
    mask_losses: torch.Tensor
    actual_ious: torch.Tensor


def select_min_loss(mask_losses: torch.Tensor) -> torch.Tensor:
    """N x M per-output losses -> N indices of the lowest (first on ties)."""
    return mask_losses.detach().argmin(dim=1)


def sam_mask_loss(
    logits: torch.Tensor,
    iou_predictions: torch.Tensor,
    targets: torch.Tensor,
    weights: LossWeights | None = None,
) -> MaskLoss:
    """Loss of N objects with M candidate masks each.

    Args:
        logits: N x M x h x w mask logits; iou_predictions: N x M; targets: N x h x w in [0, 1].
    Only the lowest-loss output's focal + dice is kept per object (for M = 1 that is the only one). The IoU
    head is supervised on every output against that output's actual IoU, so the scores used to rank the
    three masks at inference are all trained.
    """
    expected_targets = (logits.shape[0], *logits.shape[2:]) if logits.ndim == 4 else None
    if (
        logits.ndim != 4
        or iou_predictions.shape != logits.shape[:2]
        or tuple(targets.shape) != expected_targets
    ):
        raise ValueError(
            "expected logits N x M x h x w, iou_predictions N x M and targets N x h x w; got "
            f"{tuple(logits.shape)}, {tuple(iou_predictions.shape)}, {tuple(targets.shape)}"
        )
    w = weights or LossWeights()
    target = targets[:, None].expand_as(logits)
    focal = sigmoid_focal_loss(logits, target, w.focal_alpha, w.focal_gamma)  # N x M
    dice = dice_loss(logits, target)  # N x M
    mask_losses = w.focal * focal + w.dice * dice
    selected = select_min_loss(mask_losses)
    rows = torch.arange(logits.shape[0], device=logits.device)
    actual = mask_iou(logits.detach(), target)  # N x M
    iou_mse = ((iou_predictions.float() - actual) ** 2).mean(dim=1)
    total = mask_losses[rows, selected] + w.iou * iou_mse
    return MaskLoss(
        total=total,
        focal=focal[rows, selected],
        dice=dice[rows, selected],
        iou_mse=iou_mse,
        iou=actual[rows, selected],
        selected=selected,
        mask_losses=mask_losses,
        actual_ious=actual,
    )

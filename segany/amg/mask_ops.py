"""Whole-mask measurements: pixel areas and pairwise IoU of binary masks."""

from __future__ import annotations

import torch

from segany.amg.validation import check_bool_tensor

# float32 sums of 0/1 products stay exact below 2**24 pixels per mask.
_FLOAT32_EXACT_PIXELS = 2**24


def mask_area(masks: torch.Tensor) -> torch.Tensor:
    """Set pixels per mask: ... x H x W bool -> ... int64."""
    check_bool_tensor(masks, "masks", min_dims=2)
    return masks.sum(dim=(-2, -1), dtype=torch.int64)


def mask_iou(masks_a: torch.Tensor, masks_b: torch.Tensor) -> torch.Tensor:
    """Pairwise IoU of N x H x W and M x H x W bool masks -> N x M float32.

    Intersections are a matrix product of the flattened masks (exact counts). Two empty masks have IoU 0.
    """
    check_bool_tensor(masks_a, "masks_a", min_dims=3, max_dims=3)
    check_bool_tensor(masks_b, "masks_b", min_dims=3, max_dims=3)
    if masks_a.shape[1:] != masks_b.shape[1:]:
        raise ValueError(
            f"masks_a and masks_b must share H x W, got {tuple(masks_a.shape)} and {tuple(masks_b.shape)}"
        )
    n_pixels = masks_a.shape[1] * masks_a.shape[2]
    dtype = torch.float32 if n_pixels < _FLOAT32_EXACT_PIXELS else torch.float64
    flat_a = masks_a.flatten(1).to(dtype)  # N x HW
    flat_b = masks_b.flatten(1).to(dtype)  # M x HW
    inter = flat_a @ flat_b.T  # N x M
    union = flat_a.sum(dim=1)[:, None] + flat_b.sum(dim=1)[None, :] - inter
    iou = torch.where(union > 0, inter / union.clamp(min=1), torch.zeros_like(inter))
    return iou.to(torch.float32)

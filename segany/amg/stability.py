"""Stability score of predicted masks: how little the binary mask moves when the logit threshold moves."""

from __future__ import annotations

import torch

# Largest row length whose per-row pixel count fits an int16 partial sum.
_INT16_MAX = 32767


def _count_above(logits: torch.Tensor, threshold: float) -> torch.Tensor:
    """Pixels with logit > threshold per mask: ... x H x W -> ... int32, with no float or int64 mask copy."""
    above = logits > threshold  # ... x H x W bool
    row_dtype = torch.int16 if logits.shape[-1] <= _INT16_MAX else torch.int32
    return above.sum(dim=-1, dtype=row_dtype).sum(dim=-1, dtype=torch.int32)


def calculate_stability_score(
    mask_logits: torch.Tensor, mask_threshold: float, threshold_offset: float
) -> torch.Tensor:
    """IoU between the masks ``logits > mask_threshold + offset`` and ``logits > mask_threshold - offset``.

    The first mask lies inside the second, so the IoU is a ratio of pixel counts. A mask empty at the lower
    threshold gives NaN (0 / 0), as in the official implementation; NaN fails any ``>=`` filter.

    Args:
        mask_logits: ... x H x W float logits (B x H x W in the generator).
        mask_threshold: logit threshold that binarises the masks (0.0 in SAM).
        threshold_offset: offset >= 0 applied both ways (1.0 in SAM).

    Returns:
        ... float32 stability scores in [0, 1] (or NaN).
    """
    if not isinstance(mask_logits, torch.Tensor) or mask_logits.dim() < 2:
        got = (
            tuple(mask_logits.shape) if isinstance(mask_logits, torch.Tensor) else type(mask_logits).__name__
        )
        raise ValueError(f"mask_logits must be a torch.Tensor of shape ... x H x W, got {got}")
    if not mask_logits.is_floating_point():
        raise TypeError(f"mask_logits must be floating point logits, got dtype {mask_logits.dtype}")
    if not threshold_offset >= 0:
        raise ValueError(f"threshold_offset must be >= 0, got {threshold_offset!r}")
    intersections = _count_above(mask_logits, mask_threshold + threshold_offset)
    unions = _count_above(mask_logits, mask_threshold - threshold_offset)
    return intersections / unions

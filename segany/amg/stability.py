"""Stability score of predicted masks: how little the binary mask moves when the logit threshold moves.

The one definition, in two forms: `calculate_stability_score` for a batch of torch logits (the official name)
and `stability_score_of_map` for one numpy map, as everything mode's streaming full-resolution stage measures
each candidate.
"""

from __future__ import annotations

import numpy as np
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


def stability_score_of_map(
    logits: np.ndarray, mask_threshold: float, threshold_offset: float, scratch: np.ndarray
) -> np.float32:
    """`calculate_stability_score` of one H x W float32 logit map, counting pixels through ``scratch``.

    Args:
        scratch: an H x W bool buffer, overwritten (so a caller measuring many maps allocates it once).

    Returns:
        float32 score in [0, 1], NaN when the mask is empty at the lower threshold (as the official).
    """
    np.greater(logits, np.float32(mask_threshold + threshold_offset), out=scratch)
    n_upper = np.count_nonzero(scratch)
    np.greater(logits, np.float32(mask_threshold - threshold_offset), out=scratch)
    n_lower = np.count_nonzero(scratch)
    with np.errstate(invalid="ignore"):
        score: np.float32 = np.float32(n_upper) / np.float32(n_lower)
    return score

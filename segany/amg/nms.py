"""Greedy non-maximum suppression of XYXY boxes, per category, in plain torch (no torchvision).

Contract of ``torchvision.ops.batched_nms``: boxes of different categories never suppress each other; a box is
suppressed by a higher-scoring kept box of its category when their IoU is strictly greater than the threshold;
the kept indices come back sorted by descending score. Equal scores keep their input order (stable sort).
"""

from __future__ import annotations

import numpy as np
import torch

# Rows of the pairwise IoU matrix computed at once; bounds the float temporaries to _ROW_CHUNK x N.
_ROW_CHUNK = 1024


def box_iou(boxes_a: torch.Tensor, boxes_b: torch.Tensor) -> torch.Tensor:
    """Pairwise IoU of N x 4 and M x 4 XYXY boxes -> N x M, in the boxes' floating dtype.

    IoU = inter / (area_a + area_b - inter), evaluated in that order (as torchvision does); two zero-area
    boxes give NaN (0 / 0), which never exceeds a threshold.
    """
    a = boxes_a.unbind(dim=1)  # x0, y0, x1, y1; each N
    b = boxes_b.unbind(dim=1)  # each M
    # One N x M temporary per step, updated in place, to keep memory traffic low for large N x M.
    inter_w = torch.minimum(a[2][:, None], b[2][None, :]).sub_(torch.maximum(a[0][:, None], b[0][None, :]))
    inter_h = torch.minimum(a[3][:, None], b[3][None, :]).sub_(torch.maximum(a[1][:, None], b[1][None, :]))
    inter = inter_w.clamp_(min=0).mul_(inter_h.clamp_(min=0))
    area_a = (a[2] - a[0]) * (a[3] - a[1])
    area_b = (b[2] - b[0]) * (b[3] - b[1])
    union = (area_a[:, None] + area_b[None, :]).sub_(inter)
    return inter.div_(union)


def _check_inputs(boxes: object, scores: object, idxs: object, iou_threshold: object) -> None:
    if not isinstance(boxes, torch.Tensor) or boxes.dim() != 2 or boxes.shape[1] != 4:
        shape = tuple(boxes.shape) if isinstance(boxes, torch.Tensor) else type(boxes).__name__
        raise ValueError(f"boxes must be an N x 4 torch.Tensor (XYXY), got {shape}")
    n = boxes.shape[0]
    for name, value in (("scores", scores), ("idxs", idxs)):
        if not isinstance(value, torch.Tensor) or tuple(value.shape) != (n,):
            shape = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
            raise ValueError(f"{name} must be a torch.Tensor of shape ({n},) to match boxes, got {shape}")
    if isinstance(iou_threshold, bool) or not isinstance(iou_threshold, int | float):
        raise TypeError(f"iou_threshold must be a float, got {type(iou_threshold).__name__}")


def batched_nms(
    boxes: torch.Tensor, scores: torch.Tensor, idxs: torch.Tensor, iou_threshold: float
) -> torch.Tensor:
    """Greedy per-category NMS.

    Args:
        boxes: N x 4 XYXY boxes; IoUs are computed in float32 / float64 as given (other dtypes in float64).
        scores: N scores; higher wins.
        idxs: N integer category ids; only boxes of the same category suppress each other.
        iou_threshold: suppress a box whose IoU with a kept, higher-scoring box is > this value.

    Returns:
        K int64 indices into ``boxes`` of the kept boxes, sorted by descending score, on the boxes' device.
    """
    _check_inputs(boxes, scores, idxs, iou_threshold)
    n = boxes.shape[0]
    if n == 0:
        return torch.empty(0, dtype=torch.int64, device=boxes.device)
    order = torch.sort(scores, descending=True, stable=True).indices  # N
    ranked = boxes[order] if boxes.dtype in (torch.float32, torch.float64) else boxes[order].double()
    ranked_idxs = idxs[order]
    threshold = _threshold_in_dtype(float(iou_threshold), ranked.dtype)
    # overlaps[i, j]: box of rank i would suppress box of rank j (same category, later rank, IoU > threshold).
    # Only the upper triangle is needed: a chunk of rows [start, stop) is compared with columns [start, n).
    overlaps = torch.zeros(n, n, dtype=torch.bool, device=boxes.device)
    for start in range(0, n, _ROW_CHUNK):
        stop = min(start + _ROW_CHUNK, n)
        chunk = box_iou(ranked[start:stop], ranked[start:]) > threshold  # (stop-start) x (n-start)
        chunk &= ranked_idxs[start:stop, None] == ranked_idxs[None, start:]
        overlaps[start:stop, start:] = chunk.triu_(diagonal=1)
    keep_ranks = _greedy_keep(overlaps.cpu().numpy())
    return order[torch.from_numpy(keep_ranks).to(boxes.device)]


def _threshold_in_dtype(threshold: float, dtype: torch.dtype) -> torch.Tensor:
    """Largest value of ``dtype`` <= ``threshold``.

    For IoUs ``x`` of that dtype, ``x > result`` iff ``x > threshold`` compared in double (torchvision's
    rule), so the N x N IoU matrix never needs upcasting.
    """
    exact = torch.tensor(threshold, dtype=torch.float64)
    rounded = exact.to(dtype)
    if rounded.double() > exact:
        rounded = torch.nextafter(rounded, torch.tensor(-torch.inf, dtype=dtype))
    return rounded


def _greedy_keep(overlaps: np.ndarray) -> np.ndarray:
    """Ranks kept by greedy suppression over an upper-triangular N x N bool matrix (rank = score order)."""
    n = overlaps.shape[0]
    suppressed = np.zeros(n, dtype=bool)
    # Only rows of boxes that suppress something matter; process them in rank order.
    for rank in np.flatnonzero(overlaps.any(axis=1)):
        if not suppressed[rank]:
            suppressed |= overlaps[rank]
    return np.flatnonzero(~suppressed).astype(np.int64)

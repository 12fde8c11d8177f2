"""Helpers of the official `segment_anything.utils.amg`, kept under their names for code written against it.

Everything mode itself does not use them (it keeps masks as RLE and measures them in
`segany.amg.full_res`); they follow the official contracts. Box formats: XYXY is ``(x0, y0, x1, y1)``, XYWH is
``(x0, y0, width, height)``; boxes of masks use SAM's convention (``x1, y1`` the last set column / row).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from segany.amg.validation import check_bool_tensor, check_last_dim, check_positive_int, check_xyxy_box


def batched_mask_to_box(masks: torch.Tensor) -> torch.Tensor:
    """XYXY boxes (inclusive ``x1, y1``) around masks; an empty mask gets ``[0, 0, 0, 0]``.

    Args:
        masks: ... x H x W bool tensor (at least 2 dimensions).

    Returns:
        ... x 4 int64 tensor of XYXY boxes in the mask's pixel frame, on the masks' device.
    """
    check_bool_tensor(masks, "masks", min_dims=2)
    h, w = masks.shape[-2:]
    lead = masks.shape[:-2]
    if masks.numel() == 0:
        return torch.zeros(*lead, 4, dtype=torch.int64, device=masks.device)
    rows_hit = masks.any(dim=-1)  # ... x H
    cols_hit = masks.any(dim=-2)  # ... x W
    row_ids = torch.arange(h, device=masks.device)
    col_ids = torch.arange(w, device=masks.device)
    top = torch.where(rows_hit, row_ids, h).amin(dim=-1)
    bottom = torch.where(rows_hit, row_ids, -1).amax(dim=-1)
    left = torch.where(cols_hit, col_ids, w).amin(dim=-1)
    right = torch.where(cols_hit, col_ids, -1).amax(dim=-1)
    boxes = torch.stack([left, top, right, bottom], dim=-1)  # ... x 4, XYXY
    empty = ~rows_hit.any(dim=-1)
    return boxes.masked_fill(empty[..., None], 0)


def box_xyxy_to_xywh(boxes: torch.Tensor) -> torch.Tensor:
    """Convert ... x 4 XYXY boxes to XYWH ``(x0, y0, x1 - x0, y1 - y0)``; returns a new tensor."""
    check_last_dim(boxes, "boxes", 4, "XYXY")
    return torch.cat([boxes[..., :2], boxes[..., 2:] - boxes[..., :2]], dim=-1)


def box_xywh_to_xyxy(boxes: torch.Tensor) -> torch.Tensor:
    """Convert ... x 4 XYWH boxes to XYXY ``(x0, y0, x0 + w, y0 + h)``; returns a new tensor."""
    check_last_dim(boxes, "boxes", 4, "XYWH")
    return torch.cat([boxes[..., :2], boxes[..., :2] + boxes[..., 2:]], dim=-1)


def uncrop_points(points: torch.Tensor, crop_box: Sequence[int]) -> torch.Tensor:
    """Move ... x 2 ``(x, y)`` points from the frame of ``crop_box`` (XYXY in the image) to the image."""
    check_last_dim(points, "points", 2, "(x, y)")
    x0, y0, _, _ = check_xyxy_box(crop_box, "crop_box")
    return points + torch.tensor([x0, y0], device=points.device)


def uncrop_masks(masks: torch.Tensor, crop_box: Sequence[int], orig_h: int, orig_w: int) -> torch.Tensor:
    """Zero-pad masks of the crop ``crop_box`` back to the image frame.

    Args:
        masks: ... x h x w masks of the crop, h = y1 - y0, w = x1 - x0.
        crop_box: the crop, XYXY in the image frame.
        orig_h: image height; orig_w: image width.

    Returns:
        ... x orig_h x orig_w masks of the same dtype; ``masks`` itself when the crop is the whole image.
    """
    if not isinstance(masks, torch.Tensor) or masks.dim() < 2:
        raise TypeError(f"masks must be a torch.Tensor of shape ... x h x w, got {type(masks).__name__}")
    x0, y0, x1, y1 = check_xyxy_box(crop_box, "crop_box")
    orig_h = check_positive_int(orig_h, "orig_h", minimum=0)
    orig_w = check_positive_int(orig_w, "orig_w", minimum=0)
    if x0 < 0 or y0 < 0 or x1 > orig_w or y1 > orig_h:
        raise ValueError(
            f"crop_box (XYXY) must lie inside the {orig_w} x {orig_h} (W x H) image, got {crop_box!r}"
        )
    if tuple(masks.shape[-2:]) != (y1 - y0, x1 - x0):
        raise ValueError(
            f"masks must be ... x {y1 - y0} x {x1 - x0} (the size of crop_box {crop_box!r}), "
            f"got shape {tuple(masks.shape)}"
        )
    if (x0, y0, x1, y1) == (0, 0, orig_w, orig_h):
        return masks
    out = masks.new_zeros(*masks.shape[:-2], orig_h, orig_w)
    out[..., y0:y1, x0:x1] = masks
    return out


__all__ = [
    "batched_mask_to_box",
    "box_xywh_to_xyxy",
    "box_xyxy_to_xywh",
    "uncrop_masks",
    "uncrop_points",
]

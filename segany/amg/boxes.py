"""Crop bookkeeping of everything mode: moving boxes from a crop to the image and the crop-edge filter.

Box formats: XYXY is ``(x0, y0, x1, y1)``; XYWH is ``(x0, y0, width, height)``. Boxes computed from masks use
the official SAM convention: ``x1, y1`` are the column / row of the last set pixel (inclusive), so a one-pixel
mask at column 3, row 5 has XYXY box ``(3, 5, 3, 5)`` and XYWH box ``(3, 5, 0, 0)``. Crop boxes are XYXY with
exclusive ``x1, y1`` (pixel slices ``[y0:y1, x0:x1]``), as made by
:func:`segany.amg.grids.generate_crop_boxes`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from segany.amg.validation import check_last_dim, check_xyxy_box


def uncrop_boxes_xyxy(boxes: torch.Tensor, crop_box: Sequence[int]) -> torch.Tensor:
    """Move ... x 4 XYXY boxes from the frame of ``crop_box`` (XYXY in the image) to the image frame."""
    check_last_dim(boxes, "boxes", 4, "XYXY")
    x0, y0, _, _ = check_xyxy_box(crop_box, "crop_box")
    return boxes + torch.tensor([x0, y0, x0, y0], device=boxes.device)


def is_box_near_crop_edge(
    boxes: torch.Tensor, crop_box: Sequence[int], orig_box: Sequence[int], atol: float = 20.0
) -> torch.Tensor:
    """Which boxes touch an inner edge of their crop (likely cut-off objects).

    A box is flagged when any of its XYXY coordinates, moved to the image frame, is within ``atol`` pixels of
    the matching ``crop_box`` edge but not within ``atol`` of the matching ``orig_box`` (image) edge.

    Args:
        boxes: N x 4 XYXY boxes in the frame of ``crop_box``.
        crop_box: the crop, XYXY in the image frame.
        orig_box: the whole image, XYXY ``(0, 0, W, H)``.
        atol: distance in pixels, >= 0.

    Returns:
        N bool tensor, True for boxes to drop.
    """
    check_last_dim(boxes, "boxes", 4, "XYXY")
    if boxes.dim() != 2:
        raise ValueError(f"boxes must be N x 4 (XYXY), got shape {tuple(boxes.shape)}")
    if not atol >= 0:
        raise ValueError(f"atol must be a distance in pixels >= 0, got {atol!r}")
    crop = torch.tensor(check_xyxy_box(crop_box, "crop_box"), dtype=torch.float32, device=boxes.device)
    image = torch.tensor(check_xyxy_box(orig_box, "orig_box"), dtype=torch.float32, device=boxes.device)
    in_image = uncrop_boxes_xyxy(boxes, crop_box).float()  # N x 4, XYXY in the image frame
    near_crop = (in_image - crop).abs() <= atol
    near_image = (in_image - image).abs() <= atol
    return (near_crop & ~near_image).any(dim=1)

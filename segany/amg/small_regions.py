"""Small-region clean-up of everything-mode masks: fill small holes, drop small islands (8-connectivity),
then NMS again. `remove_small_regions` works on one binary mask (the official helper's name and contract);
`clean_small_regions` applies it to every mask of an image.
"""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np
import torch

from segany.amg.block_rle import mask_to_rle_counts
from segany.amg.mask_data import MaskData
from segany.amg.nms import batched_nms
from segany.amg.rle import rle_to_mask
from segany.amg.validation import check_bool_array

_MODES = ("holes", "islands")


def remove_small_regions(
    mask: np.ndarray, area_thresh: float, mode: Literal["holes", "islands"]
) -> tuple[np.ndarray, bool]:
    """Fill holes, or remove islands, smaller than ``area_thresh`` pixels.

    Regions are 8-connected components: of the background (``mode="holes"``) or of the foreground
    (``mode="islands"``). With ``"islands"``, if every island is small the largest one is kept.

    Args:
        mask: H x W bool array.
        area_thresh: regions with fewer pixels than this are changed; >= 0.
        mode: ``"holes"`` fills small background components (including ones touching the border);
            ``"islands"`` deletes small foreground components.

    Returns:
        ``(new_mask, changed)``: an H x W bool array and whether anything changed. When nothing changes the
        input ``mask`` object itself is returned.
    """
    check_bool_array(mask, "mask")
    if mode not in _MODES:
        raise ValueError(f"mode must be one of {_MODES}, got {mode!r}")
    if isinstance(area_thresh, bool) or not isinstance(area_thresh, int | float | np.integer | np.floating):
        raise TypeError(f"area_thresh must be a number of pixels, got {type(area_thresh).__name__}")
    if not area_thresh >= 0:
        raise ValueError(f"area_thresh must be a number of pixels >= 0, got {area_thresh}")
    if mask.size == 0:
        return mask, False

    fill_holes = mode == "holes"
    regions_of = ~mask if fill_holes else mask  # pixels whose components are examined
    _, labels, stats, _ = cv2.connectedComponentsWithStats(regions_of.astype(np.uint8), connectivity=8)
    sizes = stats[1:, cv2.CC_STAT_AREA]  # label 0 is everything outside ``regions_of``
    small = sizes < area_thresh  # per label 1..count-1
    if not small.any():
        return mask, False

    if fill_holes:
        keep = np.concatenate(([True], small))  # label 0 is the foreground; small holes join it
    else:
        keep = np.concatenate(([False], ~small))
        if not keep.any():
            keep[1 + int(np.argmax(sizes))] = True  # every island is small: keep the largest
    return keep[labels], True


def clean_small_regions(data: MaskData, min_area: float, nms_thresh: float) -> MaskData:
    """Fill holes, then remove islands, smaller than ``min_area`` pixels in every mask; re-run box NMS.

    The official semantics: NMS scores are 1 for masks the clean-up left unchanged and 0 for changed ones
    (so untouched masks win ties), boxes are recomputed from the cleaned masks, and the kept masks are listed
    by descending score (stable: equal scores keep their order). Masks are decoded one at a time; a changed
    mask is re-encoded at once, so no more than one decoded mask is alive.

    Args:
        data: masks of one image (image frame).
        min_area: holes / islands with fewer pixels are changed.
        nms_thresh: box IoU above which the lower-scoring mask is dropped.

    Returns:
        A new MaskData (rows reordered and filtered by the NMS), or ``data`` itself when it is empty.
    """
    if len(data) == 0:
        return data
    height, width = data.image_size
    rles = list(data.rles)
    boxes = data.boxes.copy()
    unchanged = np.ones(len(data), dtype=np.float32)
    for index, counts in enumerate(data.rles):
        mask = rle_to_mask({"size": [height, width], "counts": counts})
        mask, filled = remove_small_regions(mask, min_area, mode="holes")
        mask, removed = remove_small_regions(mask, min_area, mode="islands")
        if filled or removed:
            unchanged[index] = 0.0
            rles[index], box = mask_to_rle_counts(mask)
            boxes[index] = (0, 0, 0, 0) if box is None else box
    keep = batched_nms(
        torch.from_numpy(boxes).float(),
        torch.from_numpy(unchanged),
        torch.zeros(len(data), dtype=torch.int64),
        iou_threshold=nms_thresh,
    ).numpy()
    cleaned = MaskData(
        image_size=data.image_size,
        rles=rles,
        boxes=boxes,
        iou_preds=data.iou_preds,
        stability=data.stability,
        points=data.points,
        crop_boxes=data.crop_boxes,
    )
    return cleaned.select(keep)

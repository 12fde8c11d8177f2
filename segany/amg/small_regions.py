"""Small-region clean-up of everything-mode masks: fill small holes, drop small islands, then NMS again."""

from __future__ import annotations

import numpy as np
import torch

from segany.amg.block_rle import mask_to_rle_counts
from segany.amg.mask_data import MaskData
from segany.amg.nms import batched_nms
from segany.amg.postprocess import remove_small_regions
from segany.amg.rle import rle_to_mask


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

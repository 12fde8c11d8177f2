"""Pure building blocks of SAM's everything mode (automatic mask generation).

Point grids and crop boxes (:mod:`.grids`), mask boxes and crop bookkeeping (:mod:`.boxes`), box NMS
(:mod:`.nms`), the stability score (:mod:`.stability`), RLE encodings (:mod:`.rle`), small-region clean-up
(:mod:`.postprocess`) and mask areas / IoU (:mod:`.mask_ops`). The generator only sequences these.
"""

from segany.amg.boxes import (
    batched_mask_to_box,
    box_xywh_to_xyxy,
    box_xyxy_to_xywh,
    is_box_near_crop_edge,
    uncrop_boxes_xyxy,
    uncrop_masks,
    uncrop_points,
)
from segany.amg.grids import build_all_layer_point_grids, build_point_grid, generate_crop_boxes
from segany.amg.mask_ops import mask_area, mask_iou
from segany.amg.nms import batched_nms, box_iou
from segany.amg.postprocess import remove_small_regions
from segany.amg.rle import area_from_rle, coco_encode_rle, coco_rle_to_mask, masks_to_rle, rle_to_mask
from segany.amg.stability import calculate_stability_score

__all__ = [
    "area_from_rle",
    "batched_mask_to_box",
    "batched_nms",
    "box_iou",
    "box_xywh_to_xyxy",
    "box_xyxy_to_xywh",
    "build_all_layer_point_grids",
    "build_point_grid",
    "calculate_stability_score",
    "coco_encode_rle",
    "coco_rle_to_mask",
    "generate_crop_boxes",
    "is_box_near_crop_edge",
    "mask_area",
    "mask_iou",
    "masks_to_rle",
    "remove_small_regions",
    "rle_to_mask",
    "uncrop_boxes_xyxy",
    "uncrop_masks",
    "uncrop_points",
]

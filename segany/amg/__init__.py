"""Pure building blocks of SAM's everything mode (automatic mask generation).

Point grids and crop boxes (:mod:`.grids`), crop bookkeeping (:mod:`.boxes`), box NMS (:mod:`.nms`), the
stability score (:mod:`.stability`), RLE encodings (:mod:`.rle`), small-region clean-up (:mod:`.small_regions`)
and mask areas / IoU (:mod:`.mask_ops`); the official helpers the pipeline does not use keep their names in
:mod:`.official_api`. The generator (:mod:`.generator`) only
sequences these, with a streaming full-resolution stage (:mod:`.full_res`) and masks kept as RLE
(:mod:`.mask_data`); named settings live in :mod:`.presets`.
"""

from segany.amg.boxes import is_box_near_crop_edge, uncrop_boxes_xyxy
from segany.amg.generator import SamAutomaticMaskGenerator, auto_points_per_batch
from segany.amg.grids import build_all_layer_point_grids, build_point_grid, generate_crop_boxes
from segany.amg.mask_data import MaskData
from segany.amg.mask_ops import mask_area, mask_iou
from segany.amg.nms import batched_nms, box_iou
from segany.amg.official_api import (
    batched_mask_to_box,
    box_xywh_to_xyxy,
    box_xyxy_to_xywh,
    uncrop_masks,
    uncrop_points,
)
from segany.amg.presets import PRESETS, get_preset
from segany.amg.rle import area_from_rle, coco_encode_rle, coco_rle_to_mask, masks_to_rle, rle_to_mask
from segany.amg.small_regions import remove_small_regions
from segany.amg.stability import calculate_stability_score

__all__ = [
    "PRESETS",
    "MaskData",
    "SamAutomaticMaskGenerator",
    "area_from_rle",
    "auto_points_per_batch",
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
    "get_preset",
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

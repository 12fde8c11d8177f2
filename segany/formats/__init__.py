"""Output formats for automatic-mask-generator records: SA-1B json, COCO json, PNG + CSV folders, YOLO-seg.

Use ``write_records`` / ``write_dataset`` / ``read_records`` with ``fmt`` in ``FORMATS``; the per-format
modules (``sa1b``, ``coco``, ``png_csv``, ``yolo``) and the helpers (``masks_codec``, ``polygons``,
``records``) are public too. ``mask_table``: masks as Parquet rows (one row per mask); ``auto_run``: reading
the results index of a `segany auto` run (``read_auto_index``, ``iter_auto_results``).
"""

from segany.formats.auto_run import iter_results as iter_auto_results
from segany.formats.auto_run import read_index as read_auto_index
from segany.formats.coco import read_coco, write_coco
from segany.formats.dispatch import (
    COCO_FILE_NAME,
    FORMATS,
    dataset_output_path,
    read_records,
    write_dataset,
    write_records,
)
from segany.formats.files import FormatError
from segany.formats.mask_table import MASK_TABLE_COLUMNS, read_mask_table, write_mask_table
from segany.formats.masks_codec import (
    OUTPUT_MODES,
    MaskFormatError,
    convert_segmentation,
    mask_to_coco_rle,
    mask_to_uncompressed_rle,
    rle_counts,
    segmentation_to_coco_rle,
    segmentation_to_mask,
)
from segany.formats.png_csv import CSV_HEADER, read_png_csv, write_png_csv
from segany.formats.polygons import mask_to_polygons, merge_polygons, polygons_to_mask
from segany.formats.records import ImageInfo, mask_bbox_xywh
from segany.formats.sa1b import read_sa1b, write_sa1b
from segany.formats.yolo import read_yolo, write_yolo

__all__ = [
    "COCO_FILE_NAME",
    "CSV_HEADER",
    "FORMATS",
    "MASK_TABLE_COLUMNS",
    "OUTPUT_MODES",
    "FormatError",
    "ImageInfo",
    "MaskFormatError",
    "convert_segmentation",
    "dataset_output_path",
    "iter_auto_results",
    "mask_bbox_xywh",
    "mask_to_coco_rle",
    "mask_to_polygons",
    "mask_to_uncompressed_rle",
    "merge_polygons",
    "polygons_to_mask",
    "read_auto_index",
    "read_coco",
    "read_mask_table",
    "read_png_csv",
    "read_records",
    "read_sa1b",
    "read_yolo",
    "rle_counts",
    "segmentation_to_coco_rle",
    "segmentation_to_mask",
    "write_coco",
    "write_dataset",
    "write_mask_table",
    "write_png_csv",
    "write_records",
    "write_sa1b",
    "write_yolo",
]

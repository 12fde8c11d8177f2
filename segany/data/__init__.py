"""Segmentation data: readers yielding (image, object masks, meta), source mixing, shared splits."""

from segany.data.coco import CocoReader, decode_segmentation
from segany.data.folder import FolderReader, pair_files
from segany.data.masks import binary_to_masks, instance_to_masks, labels_to_masks, semantic_to_masks
from segany.data.mixing import SourceSpec, mix_sources, weighted_indices
from segany.data.sa1b import SA1BReader
from segany.data.sample import Sample, SampleReader, load_rgb

__all__ = [
    "CocoReader",
    "FolderReader",
    "SA1BReader",
    "Sample",
    "SampleReader",
    "SourceSpec",
    "binary_to_masks",
    "decode_segmentation",
    "instance_to_masks",
    "labels_to_masks",
    "load_rgb",
    "mix_sources",
    "pair_files",
    "semantic_to_masks",
    "weighted_indices",
]

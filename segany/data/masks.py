"""Turn label images (binary, instance-id, semantic-class) into lists of H x W bool object masks."""

from __future__ import annotations

from collections.abc import Iterable

import cv2
import numpy as np

MASK_TYPES = ("binary", "instance", "semantic")


def _check_label_image(labels: np.ndarray, name: str) -> np.ndarray:
    if not isinstance(labels, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(labels).__name__}")
    if labels.ndim != 2:
        raise ValueError(f"{name} must be an H x W single-channel label image, got shape {labels.shape}")
    if not (np.issubdtype(labels.dtype, np.integer) or labels.dtype == bool):
        raise TypeError(f"{name} must hold integer labels, got dtype {labels.dtype}")
    return labels


def binary_to_masks(labels: np.ndarray, threshold: int = 128, min_area: int = 0) -> list[np.ndarray]:
    """One object from a binary mask image: pixels >= threshold (0/255 files) are foreground.

    labels: H x W integer or bool array. Returns [H x W bool] or [] when the foreground has
    fewer than max(min_area, 1) pixels.
    """
    labels = _check_label_image(labels, "labels")
    mask = labels if labels.dtype == bool else labels >= threshold
    return [mask.copy()] if int(mask.sum()) >= max(min_area, 1) else []


def instance_to_masks(
    labels: np.ndarray, ignore_labels: Iterable[int] = (), min_area: int = 0
) -> tuple[list[np.ndarray], list[int]]:
    """One object per distinct non-zero id of an instance-id image (0 = background).

    labels: H x W integer array. Returns (masks sorted by id, their ids); ids listed in ignore_labels and
    instances smaller than max(min_area, 1) pixels are dropped.
    """
    labels = _check_label_image(labels, "labels")
    ignore = {int(v) for v in ignore_labels} | {0}
    ids, counts = np.unique(labels, return_counts=True)
    masks: list[np.ndarray] = []
    kept: list[int] = []
    for value, count in zip(ids.tolist(), counts.tolist()):
        if value in ignore or count < max(min_area, 1):
            continue
        masks.append(labels == value)
        kept.append(int(value))
    return masks, kept


def semantic_to_masks(
    labels: np.ndarray,
    ignore_labels: Iterable[int] = (),
    min_area: int = 0,
    connectivity: int = 8,
) -> tuple[list[np.ndarray], list[int]]:
    """Split each class of a semantic label image into connected components, one object each.

    labels: H x W integer class-index array. Every class present (background classes included; list the
    void label in ignore_labels) is split into `connectivity`-connected components (4 or 8); components
    smaller than max(min_area, 1) pixels are dropped. Returns (masks, class id of each mask), ordered by
    class id, then by the component's first pixel in row-major order.
    """
    labels = _check_label_image(labels, "labels")
    if connectivity not in (4, 8):
        raise ValueError(f"connectivity must be 4 or 8, got {connectivity}")
    ignore = {int(v) for v in ignore_labels}
    masks: list[np.ndarray] = []
    classes: list[int] = []
    for value in np.unique(labels).tolist():
        if value in ignore:
            continue
        class_mask = (labels == value).astype(np.uint8)
        count, comp, stats, _ = cv2.connectedComponentsWithStats(class_mask, connectivity=connectivity)
        for k in range(1, count):  # label 0 is everything outside this class
            if stats[k, cv2.CC_STAT_AREA] >= max(min_area, 1):
                masks.append(comp == k)
                classes.append(int(value))
    return masks, classes


def labels_to_masks(
    labels: np.ndarray,
    mask_type: str,
    ignore_labels: Iterable[int] = (),
    min_area: int = 0,
    binary_threshold: int = 128,
    connectivity: int = 8,
) -> tuple[list[np.ndarray], list[int]]:
    """Dispatch on mask_type ("binary" | "instance" | "semantic"); returns (masks, label of each mask).

    For "binary" the label of the single object is 1.
    """
    if mask_type == "binary":
        masks = binary_to_masks(labels, threshold=binary_threshold, min_area=min_area)
        return masks, [1] * len(masks)
    if mask_type == "instance":
        return instance_to_masks(labels, ignore_labels=ignore_labels, min_area=min_area)
    if mask_type == "semantic":
        return semantic_to_masks(
            labels, ignore_labels=ignore_labels, min_area=min_area, connectivity=connectivity
        )
    raise ValueError(f"mask_type must be one of {MASK_TYPES}, got {mask_type!r}")

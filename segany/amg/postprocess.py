"""Clean-up of a binary mask: remove small disconnected islands or fill small holes (8-connectivity)."""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np

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

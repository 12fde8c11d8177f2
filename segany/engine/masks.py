"""Masks as the engine stores them: COCO compressed RLE plus area and XYWH box, from any segmentation form."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from pycocotools import mask as coco_mask

from segany.engine.errors import Invalid
from segany.formats import MaskFormatError, segmentation_to_coco_rle


@dataclass(frozen=True)
class StoredMask:
    counts: str  # COCO compressed RLE (column-major)
    height: int
    width: int
    area: int
    bbox_xywh: list[int]

    def coco_rle(self) -> dict[str, Any]:
        return {"size": [self.height, self.width], "counts": self.counts}

    def decode(self) -> np.ndarray:
        """H x W bool."""
        return np.asarray(coco_mask.decode(_encoded(self.coco_rle())), dtype=bool)


def stored_mask(segmentation: Any, height: int, width: int, field: str = "segmentation") -> StoredMask:
    """Validate a mask (H x W bool array, uncompressed or compressed COCO RLE) for an image of H x W.

    Raises:
        Invalid: not a mask, or a size other than the image's (H, W).
    """
    try:
        rle = segmentation_to_coco_rle(segmentation, where=field)
    except (MaskFormatError, TypeError, ValueError) as exc:
        raise Invalid(str(exc), field) from None
    size = [int(value) for value in rle["size"]]
    if size != [height, width]:
        raise Invalid(
            f"{field}: mask size must be the image's [H, W] = [{height}, {width}], got {size}", field
        )
    encoded = _encoded(rle)
    area = int(coco_mask.area(encoded))
    x, y, w, h = (float(value) for value in coco_mask.toBbox(encoded))
    counts = rle["counts"].decode() if isinstance(rle["counts"], bytes) else str(rle["counts"])
    return StoredMask(counts, height, width, area, [int(x), int(y), int(w), int(h)])


def _encoded(rle: dict[str, Any]) -> dict[str, Any]:
    counts = rle["counts"]
    return {"size": list(rle["size"]), "counts": counts.encode() if isinstance(counts, str) else counts}

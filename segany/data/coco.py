"""COCO segmentation decoding and a reader for COCO instances json files."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pycocotools.mask as mask_utils

from segany.data.sample import Sample, check_index, load_rgb


def decode_segmentation(segmentation: Any, height: int, width: int) -> np.ndarray:
    """H x W bool mask from a COCO segmentation: a list of polygons ([x0, y0, x1, y1, ...] in pixels),
    an uncompressed RLE ({"size": [H, W], "counts": [int, ...]}) or a compressed RLE (counts str/bytes)."""
    if isinstance(segmentation, list):
        if not segmentation:
            return np.zeros((height, width), dtype=bool)
        rle = mask_utils.merge(mask_utils.frPyObjects(segmentation, height, width))
    elif isinstance(segmentation, dict) and "counts" in segmentation and "size" in segmentation:
        if isinstance(segmentation["counts"], list):
            rle = mask_utils.frPyObjects(segmentation, height, width)
        else:
            rle = dict(segmentation)
            if isinstance(rle["counts"], str):
                rle["counts"] = rle["counts"].encode("ascii")
        if list(rle["size"]) != [height, width]:
            raise ValueError(f"RLE size {rle['size']} (H, W) differs from the image's {[height, width]}")
    else:
        raise TypeError(
            "segmentation must be a list of polygons or an RLE dict with 'size' and 'counts', "
            f"got {type(segmentation).__name__}"
        )
    mask: np.ndarray = mask_utils.decode(rle).astype(bool)
    return mask


def read_json(path: Path, what: str) -> Any:
    """Parsed json of path; FileNotFoundError naming `what` when it is missing."""
    if not path.is_file():
        raise FileNotFoundError(f"{what} must be an existing json file, got {str(path)!r}")
    with open(path, encoding="utf-8") as f:
        return json.load(f)


class CocoReader:
    """COCO instances json (polygons and RLE) -> Sample(image HxWx3 uint8 RGB, [HxW bool], meta).

    Crowd annotations (iscrowd=1) are skipped unless include_crowd; category_ids restricts classes;
    decoded masks below min_area pixels (and empty ones) are dropped. Images are read in the json's
    order; with skip_empty, images left without any mask are skipped. meta: id (image id as str),
    image_id, file_name, image_path, annotation_ids, category_ids.
    """

    def __init__(
        self,
        annotation_file: str | Path,
        image_dir: str | Path,
        include_crowd: bool = False,
        category_ids: Iterable[int] | None = None,
        min_area: int = 0,
        skip_empty: bool = True,
    ) -> None:
        data = read_json(Path(annotation_file), "annotation_file")
        if not isinstance(data, dict) or "images" not in data or "annotations" not in data:
            raise ValueError(f"annotation_file {annotation_file} must hold 'images' and 'annotations' lists")
        self.image_dir = Path(image_dir)
        self.min_area = int(min_area)
        wanted = None if category_ids is None else {int(c) for c in category_ids}
        by_image: dict[int, list[dict[str, Any]]] = {}
        for ann in data["annotations"]:
            if ann.get("iscrowd", 0) and not include_crowd:
                continue
            if wanted is not None and int(ann.get("category_id", -1)) not in wanted:
                continue
            by_image.setdefault(int(ann["image_id"]), []).append(ann)
        self.images = [info for info in data["images"] if not skip_empty or by_image.get(int(info["id"]))]
        self.annotations = by_image

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> Sample:
        info = self.images[check_index(index, len(self.images), "CocoReader")]
        path = self.image_dir / info["file_name"]
        image = load_rgb(path)
        h, w = image.shape[:2]
        masks, ann_ids, cat_ids = [], [], []
        for ann in self.annotations.get(int(info["id"]), []):
            mask = decode_segmentation(ann["segmentation"], h, w)
            if int(mask.sum()) >= max(self.min_area, 1):
                masks.append(mask)
                ann_ids.append(ann.get("id"))
                cat_ids.append(ann.get("category_id"))
        meta = {
            "id": str(info["id"]),
            "image_id": info["id"],
            "file_name": info["file_name"],
            "image_path": str(path),
            "annotation_ids": ann_ids,
            "category_ids": cat_ids,
        }
        return Sample(image, masks, meta)

    def __iter__(self) -> Iterator[Sample]:
        for i in range(len(self)):
            yield self[i]

"""Reader for SA-1B per-image json files (COCO RLE masks)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from segany.data.coco import decode_segmentation, read_json
from segany.data.sample import Sample, check_index, load_rgb


class SA1BReader:
    """SA-1B per-image json files ({"image": {...}, "annotations": [{segmentation: COCO RLE, ...}]}).

    json_dir holds one json per image (read in sorted file order); the image is looked up as
    image_dir / image.file_name (image_dir defaults to json_dir, as in the SA-1B tar files). meta: id
    (json stem), image_id, image_path, annotation_ids, predicted_ious, stability_scores,
    point_coords (list of [[x, y]] per mask, pixels).
    """

    def __init__(self, json_dir: str | Path, image_dir: str | Path | None = None, min_area: int = 0) -> None:
        self.json_dir = Path(json_dir)
        if not self.json_dir.is_dir():
            raise FileNotFoundError(f"json_dir must be an existing directory, got {str(json_dir)!r}")
        self.image_dir = self.json_dir if image_dir is None else Path(image_dir)
        self.min_area = int(min_area)
        self.json_paths = sorted(self.json_dir.glob("*.json"))

    def __len__(self) -> int:
        return len(self.json_paths)

    def __getitem__(self, index: int) -> Sample:
        json_path = self.json_paths[check_index(index, len(self.json_paths), "SA1BReader")]
        data = read_json(json_path, "SA-1B json")
        if not isinstance(data, dict) or "image" not in data or "annotations" not in data:
            raise ValueError(f"SA-1B json {json_path} must hold 'image' and 'annotations'")
        info = data["image"]
        path = self.image_dir / info["file_name"]
        image = load_rgb(path)
        h, w = image.shape[:2]
        masks: list[np.ndarray] = []
        kept: list[dict[str, Any]] = []
        for ann in data["annotations"]:
            mask = decode_segmentation(ann["segmentation"], h, w)
            if int(mask.sum()) >= max(self.min_area, 1):
                masks.append(mask)
                kept.append(ann)
        meta = {
            "id": json_path.stem,
            "image_id": info.get("image_id"),
            "image_path": str(path),
            "annotation_ids": [a.get("id") for a in kept],
            "predicted_ious": [a.get("predicted_iou") for a in kept],
            "stability_scores": [a.get("stability_score") for a in kept],
            "point_coords": [a.get("point_coords") for a in kept],
        }
        return Sample(image, masks, meta)

    def __iter__(self) -> Iterator[Sample]:
        for i in range(len(self)):
            yield self[i]

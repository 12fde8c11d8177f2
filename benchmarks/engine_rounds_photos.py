"""Photos and human masks for `engine_rounds.py`: the held-out and train photos its simulated annotators click.

The datasets are people photos segany_small never trained on (human_seg, CCP); each photo brings its largest
human masks (`per_image`, at least `min_area` pixels). Photos alternate between the datasets so that every
count of photos or masks draws from both.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

# (dataset, held-out split, train split); segany_small never trained on these two datasets.
DATASETS = (("human_seg", "test", "train"), ("ccp", "test", "train"))


@dataclass
class Photo:
    name: str
    pixels: np.ndarray  # H x W x 3 uint8
    masks: list[np.ndarray]  # human masks, H x W bool


def objects(masks: list[np.ndarray], per_image: int, min_area: int) -> list[np.ndarray]:
    """The `per_image` largest human masks of at least `min_area` pixels."""
    big = [np.asarray(m, dtype=bool) for m in masks if int(np.count_nonzero(m)) >= min_area]
    big.sort(key=lambda m: -int(np.count_nonzero(m)))
    return big[:per_image]


def photos(dataset: str, split: str, start: int, per_image: int, min_area: int) -> Iterator[Photo]:
    from segany.data.shared_splits import split_reader

    reader = split_reader(dataset, split)
    for index in range(start, len(reader)):
        pixels, masks, meta = reader[index]
        kept = objects(masks, per_image, min_area)
        if kept:
            yield Photo(f"{dataset}_{meta.get('stem', index)}.png", np.asarray(pixels), kept)


def take_photos(
    split_column: int,
    count_photos: int | None,
    count_masks: int | None,
    start: int,
    per_image: int,
    min_area: int,
) -> list[Photo]:
    """Photos alternating between the datasets until `count_photos` photos or `count_masks` masks."""
    streams = [photos(d[0], d[split_column], start, per_image, min_area) for d in DATASETS]
    chosen: list[Photo] = []
    while streams:
        for stream in list(streams):
            photo = next(stream, None)
            if photo is None:
                streams.remove(stream)
                continue
            chosen.append(photo)
            total = sum(len(p.masks) for p in chosen)
            if (count_photos is not None and len(chosen) >= count_photos) or (
                count_masks is not None and total >= count_masks
            ):
                return chosen
    return chosen


def png(pixels: np.ndarray) -> bytes:
    import io

    from PIL import Image as PILImage

    buffer = io.BytesIO()
    PILImage.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()

"""Readers for label images that hold more than one object per pixel: region partitions drawn by several
annotators (BSDS500) and part labels whose union is a whole (clothing parsing, CCP).

- `AnnotatorPartitionReader`: one sample per (image, annotator partition); every region id of the partition
  is one object. With several annotators per image, coarse partitions give wholes and fine ones give parts,
  the kind of ambiguity SAM's three masks are for.
- `PartsAndWholeReader`: a semantic label image whose non-background classes are parts of one whole; each
  class is split into connected components (the parts) and the union of all of them is one more object
  (the whole, e.g. a person made of garments, skin and hair).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from segany.data.masks import instance_to_masks, semantic_to_masks
from segany.data.sample import Sample, check_index, check_mask_shape, load_rgb


def _read_labels(path: Path) -> np.ndarray:
    """A single-channel label PNG (8- or 16-bit) as an H x W integer array."""
    with Image.open(path) as img:
        if img.mode not in ("L", "P", "I", "I;16", "I;16B", "I;16L", "1"):
            raise ValueError(f"label image {path} must be a single-channel PNG, got mode {img.mode}")
        return np.asarray(img).astype(np.int32)


def _check_min_area(min_area: int) -> int:
    if not isinstance(min_area, (int, np.integer)) or isinstance(min_area, bool) or min_area < 0:
        raise ValueError(f"min_area must be a non-negative int (pixels), got {min_area!r}")
    return int(min_area)


class AnnotatorPartitionReader:
    """Samples (image, every region of one partition as a mask, meta) over (image, partition file) pairs.

    items: (stem, image path, partition PNG paths); each partition PNG holds region ids > 0 (0 = unlabelled)
    at the image's size. Sample i is the i-th (image, partition) pair in that order, so an image with k
    partitions gives k samples. Regions below min_area pixels are dropped. meta: id ("<stem>_<k>"), stem,
    image_path, mask_path, annotator (k, the partition's index among the image's), labels (region ids).
    """

    def __init__(self, items: Sequence[tuple[str, Path, Sequence[Path]]], min_area: int = 0) -> None:
        self.min_area = _check_min_area(min_area)
        self.pairs: list[tuple[str, int, Path, Path]] = []
        for stem, image_path, partitions in items:
            if not partitions:
                raise ValueError(f"image {stem!r} must have at least one partition file, got none")
            for k, partition in enumerate(partitions):
                self.pairs.append((stem, k, Path(image_path), Path(partition)))

    @property
    def stems(self) -> list[str]:
        """Image stems in reading order, each once (an image gives as many samples as it has partitions)."""
        return list(dict.fromkeys(stem for stem, _, _, _ in self.pairs))

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> Sample:
        stem, k, image_path, mask_path = self.pairs[
            check_index(index, len(self.pairs), "AnnotatorPartitionReader")
        ]
        image = load_rgb(image_path)
        labels = _read_labels(mask_path)
        check_mask_shape(labels, image, mask_path)
        masks, ids = instance_to_masks(labels, min_area=self.min_area)
        meta = {
            "id": f"{stem}_{k}",
            "stem": stem,
            "image_path": str(image_path),
            "mask_path": str(mask_path),
            "annotator": k,
            "labels": ids,
        }
        return Sample(image, masks, meta)

    def __iter__(self) -> Iterator[Sample]:
        for i in range(len(self)):
            yield self[i]


class PartsAndWholeReader:
    """Samples (image, [whole, part, part, ...], meta) from semantic part labels (0 = background).

    pairs: (stem, image path, label PNG path). Every class other than background and ignore_labels is split
    into connected components of >= min_area pixels (the parts, ordered as `semantic_to_masks` orders
    them); the whole is the union of all labelled pixels (classes > 0 not ignored), kept first when it has
    >= min_area pixels. meta: id (= stem), stem, image_path, mask_path, labels (0 for the whole, else the
    part's class).
    """

    def __init__(
        self,
        pairs: Sequence[tuple[str, Path, Path]],
        min_area: int = 0,
        ignore_labels: Iterable[int] = (),
        background: int = 0,
    ) -> None:
        self.min_area = _check_min_area(min_area)
        self.background = int(background)
        self.ignore_labels = tuple(int(v) for v in ignore_labels)
        self.pairs = [(stem, Path(img), Path(msk)) for stem, img, msk in pairs]

    @property
    def stems(self) -> list[str]:
        """File stems in reading order."""
        return [stem for stem, _, _ in self.pairs]

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> Sample:
        stem, image_path, mask_path = self.pairs[check_index(index, len(self.pairs), "PartsAndWholeReader")]
        image = load_rgb(image_path)
        labels = _read_labels(mask_path)
        check_mask_shape(labels, image, mask_path)
        skip = (self.background, *self.ignore_labels)
        parts, classes = semantic_to_masks(labels, ignore_labels=skip, min_area=self.min_area)
        whole = ~np.isin(labels, skip)
        masks: list[np.ndarray] = []
        ids: list[int] = []
        if int(whole.sum()) >= max(self.min_area, 1):
            masks.append(whole)
            ids.append(self.background)
        masks.extend(parts)
        ids.extend(classes)
        meta = {
            "id": stem,
            "stem": stem,
            "image_path": str(image_path),
            "mask_path": str(mask_path),
            "labels": ids,
        }
        return Sample(image, masks, meta)

    def __iter__(self) -> Iterator[Sample]:
        for i in range(len(self)):
            yield self[i]

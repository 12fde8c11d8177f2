"""Reader for a folder of images plus a folder of label PNGs sharing each image's file stem."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from segany.data.masks import MASK_TYPES, labels_to_masks
from segany.data.sample import Sample, check_index, check_mask_shape, load_rgb

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")


def _index_by_stem(directory: Path, extensions: Sequence[str]) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in sorted(directory.iterdir()):
        if path.is_file() and path.suffix.lower() in extensions:
            found.setdefault(path.stem, path)
    return found


def pair_files(
    image_dir: str | Path,
    mask_dir: str | Path,
    stems: Iterable[str] | None = None,
    mask_ext: str = ".png",
) -> list[tuple[str, Path, Path]]:
    """(stem, image path, mask path) for each stem, sorted by stem when stems is None.

    With stems=None every image that has a mask is used; with explicit stems a missing image or mask
    raises FileNotFoundError.
    """
    image_dir, mask_dir = Path(image_dir), Path(mask_dir)
    for name, directory in (("image_dir", image_dir), ("mask_dir", mask_dir)):
        if not directory.is_dir():
            raise FileNotFoundError(f"{name} must be an existing directory, got {str(directory)!r}")
    images = _index_by_stem(image_dir, IMAGE_EXTENSIONS)
    masks = _index_by_stem(mask_dir, (mask_ext.lower(),))
    if stems is None:
        return [(s, images[s], masks[s]) for s in sorted(images) if s in masks]
    pairs = []
    for stem in stems:
        if stem not in images:
            raise FileNotFoundError(f"no image with stem {stem!r} in {str(image_dir)!r}")
        if stem not in masks:
            raise FileNotFoundError(f"no {mask_ext} mask with stem {stem!r} in {str(mask_dir)!r}")
        pairs.append((stem, images[stem], masks[stem]))
    return pairs


class FolderReader:
    """Images and same-stem label PNGs; yields Sample(image HxWx3 uint8 RGB, [HxW bool], meta).

    mask_type:
      "binary":   one object, pixels >= binary_threshold (0/255 files).
      "instance": one object per non-zero id (0 = background).
      "semantic": each class split into connected components (see segany.data.masks.semantic_to_masks);
                  put the void label in ignore_labels.
    Objects below min_area pixels are dropped. meta: id (= stem), stem, image_path, mask_path, labels
    (class or instance id of each mask; 1 for binary).
    """

    def __init__(
        self,
        image_dir: str | Path,
        mask_dir: str | Path,
        mask_type: str = "binary",
        stems: Iterable[str] | None = None,
        min_area: int = 0,
        ignore_labels: Iterable[int] = (),
        binary_threshold: int = 128,
        connectivity: int = 8,
        mask_ext: str = ".png",
    ) -> None:
        if mask_type not in MASK_TYPES:
            raise ValueError(f"mask_type must be one of {MASK_TYPES}, got {mask_type!r}")
        if not isinstance(min_area, (int, np.integer)) or min_area < 0:
            raise ValueError(f"min_area must be a non-negative int (pixels), got {min_area!r}")
        self.mask_type = mask_type
        self.min_area = int(min_area)
        self.ignore_labels = tuple(int(v) for v in ignore_labels)
        self.binary_threshold = binary_threshold
        self.connectivity = connectivity
        self.pairs = pair_files(image_dir, mask_dir, stems=stems, mask_ext=mask_ext)

    @property
    def stems(self) -> list[str]:
        """File stems in reading order."""
        return [stem for stem, _, _ in self.pairs]

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> Sample:
        stem, image_path, mask_path = self.pairs[check_index(index, len(self.pairs), "FolderReader")]
        image = load_rgb(image_path)
        with Image.open(mask_path) as img:
            if img.mode in ("RGB", "RGBA") and self.mask_type != "binary":
                raise ValueError(
                    f"{self.mask_type} mask {mask_path} must be a single-channel label PNG, got mode {img.mode}"
                )
            labels = np.asarray(img.convert("L") if img.mode in ("RGB", "RGBA", "LA") else img)
        check_mask_shape(labels, image, mask_path)
        masks, label_ids = labels_to_masks(
            labels,
            self.mask_type,
            ignore_labels=self.ignore_labels,
            min_area=self.min_area,
            binary_threshold=self.binary_threshold,
            connectivity=self.connectivity,
        )
        meta = {
            "id": stem,
            "stem": stem,
            "image_path": str(image_path),
            "mask_path": str(mask_path),
            "labels": label_ids,
        }
        return Sample(image, masks, meta)

    def __iter__(self) -> Iterator[Sample]:
        for i in range(len(self)):
            yield self[i]

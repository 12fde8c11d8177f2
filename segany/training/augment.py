"""Turning a `Sample` into a training sample in the S x S model-input frame, with the small-data
augmentations: large-scale jitter, horizontal flip, colour jitter.

Every random choice comes from the `numpy.random.Generator` passed in, so a sample is a pure function of
(sample, settings, seed): the trainer seeds one generator per stream position, which makes prefetching
threads and exact resume straightforward.

Geometry (applied identically to the image and its masks): resize so the longest side is S (as at
inference), times a jitter scale drawn uniformly from scale_range; crop a random S x S window where the
result is larger; keep the content at the top-left of the S x S frame (the model pads bottom/right, as
in `Sam.preprocess`); flip horizontally with probability hflip_prob. The image is resized with PIL
bilinear (the inference filter), masks with OpenCV (area when shrinking, bilinear when growing) and
re-thresholded at 1/2. Colour jitter multiplies brightness, contrast and saturation by factors drawn from
[1 - c, 1 + c], in that order.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch
from PIL import Image

from segany.data.sample import Sample


@dataclass(frozen=True)
class AugmentSettings:
    scale_range: tuple[float, float] | None = (0.1, 2.0)  # None: no large-scale jitter
    hflip_prob: float = 0.5
    color_jitter: float = 0.2  # 0: off

    @classmethod
    def none(cls) -> AugmentSettings:
        return cls(scale_range=None, hflip_prob=0.0, color_jitter=0.0)


@dataclass(frozen=True)
class MaskSelection:
    max_masks: int = 8  # masks kept per image (drawn at random without replacement)
    max_fraction: float = 0.9  # masks covering more of the original image are dropped
    min_pixels: int = 1  # masks smaller than this in the input frame (after augmentation) are dropped


@dataclass
class TrainSample:
    """image: 3 x h x w uint8 RGB tensor (h, w <= S), the content at the top-left of the S x S frame;
    masks: M x S x S bool; image_path and flipped identify the encoder input for the embedding cache
    (cacheable only without jitter)."""

    image: torch.Tensor
    masks: torch.Tensor
    image_path: str | None
    flipped: bool
    cacheable: bool


def select_masks(
    masks: list[np.ndarray], selection: MaskSelection, rng: np.random.Generator
) -> list[np.ndarray]:
    """Drop masks covering > max_fraction of the image (or nothing), then keep at most max_masks at random."""
    kept = [m for m in masks if 0 < np.count_nonzero(m) <= selection.max_fraction * m.size]
    if len(kept) > selection.max_masks:
        chosen = np.sort(rng.choice(len(kept), size=selection.max_masks, replace=False))
        kept = [kept[i] for i in chosen]
    return kept


def _resize_mask(mask: np.ndarray, height: int, width: int) -> np.ndarray:
    if mask.shape == (height, width):
        return mask
    shrink = height * width < mask.shape[0] * mask.shape[1]
    interpolation = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    resized = cv2.resize(mask.astype(np.uint8) * 255, (width, height), interpolation=interpolation)
    return resized >= 128


def color_jitter(image: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    """H x W x 3 uint8 -> uint8 with brightness, contrast, saturation factors in [1 - s, 1 + s]."""
    factors = rng.uniform(1.0 - strength, 1.0 + strength, size=3)
    if strength <= 0:
        return image
    x = image.astype(np.float32) * factors[0]
    grey = x @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    x = (x - grey.mean()) * factors[1] + grey.mean()
    grey = (x @ np.array([0.299, 0.587, 0.114], dtype=np.float32))[..., None]
    x = (x - grey) * factors[2] + grey
    result: np.ndarray = np.clip(x + 0.5, 0, 255).astype(np.uint8)
    return result


def prepare_sample(
    sample: Sample,
    image_size: int,
    augment: AugmentSettings,
    selection: MaskSelection,
    rng: np.random.Generator,
) -> TrainSample | None:
    """A `TrainSample` in the S x S frame (S = image_size), or None when no usable mask remains."""
    image, masks, meta = sample
    masks = select_masks(list(masks), selection, rng)
    if not masks:
        return None
    height, width = image.shape[:2]
    base = image_size / max(height, width)
    # Draws are made whether or not each augmentation is on, so the stream does not depend on the settings.
    scale_draw, crop_draw, flip_draw = rng.random(), rng.random(2), rng.random()
    scale = 1.0
    if augment.scale_range is not None:
        low, high = augment.scale_range
        scale = low + (high - low) * scale_draw
    new_h = max(1, int(height * base * scale + 0.5))
    new_w = max(1, int(width * base * scale + 0.5))
    resized = (
        image
        if (new_h, new_w) == (height, width)
        else np.asarray(Image.fromarray(image).resize((new_w, new_h), Image.Resampling.BILINEAR))
    )
    top = int(crop_draw[0] * (new_h - image_size + 1)) if new_h > image_size else 0
    left = int(crop_draw[1] * (new_w - image_size + 1)) if new_w > image_size else 0
    crop_h, crop_w = min(new_h, image_size), min(new_w, image_size)
    content = resized[top : top + crop_h, left : left + crop_w]
    flipped = flip_draw < augment.hflip_prob
    if flipped:
        content = content[:, ::-1]
    content = color_jitter(np.ascontiguousarray(content), augment.color_jitter, rng)

    frame = np.zeros((len(masks), image_size, image_size), dtype=bool)
    for k, mask in enumerate(masks):
        piece = _resize_mask(mask, new_h, new_w)[top : top + crop_h, left : left + crop_w]
        frame[k, :crop_h, :crop_w] = piece[:, ::-1] if flipped else piece
    keep = frame.reshape(len(masks), -1).sum(axis=1) >= max(selection.min_pixels, 1)
    if not keep.any():
        return None
    path = meta.get("image_path") if isinstance(meta, dict) else None
    return TrainSample(
        image=torch.from_numpy(np.array(content)).permute(2, 0, 1).contiguous(),
        masks=torch.from_numpy(frame[keep]),
        image_path=str(path) if path else None,
        flipped=bool(flipped),
        cacheable=augment.scale_range is None and augment.color_jitter == 0,
    )

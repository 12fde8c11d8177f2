"""Pictures of results: an overlay (translucent coloured masks, outlines, prompts) and an RGBA cut-out.

Images are H x W x 3 uint8 RGB arrays, masks H x W bool arrays, points (x, y, label) and boxes XYXY in
pixels of the image.
"""

from __future__ import annotations

import colorsys
from collections.abc import Sequence

import cv2
import numpy as np
from PIL import Image

POSITIVE_COLOR = (0, 200, 0)  # foreground points (label 1)
NEGATIVE_COLOR = (220, 0, 0)  # background points (label 0)
MASK_ALPHA = 0.5
# The first colours are the SAM notebooks' blue and a few well separated ones; later ones are spread in hue.
_BASE_PALETTE = (
    (30, 144, 255),
    (255, 140, 0),
    (148, 0, 211),
    (0, 206, 209),
    (255, 20, 147),
    (154, 205, 50),
    (255, 215, 0),
    (0, 100, 255),
)


def palette(count: int) -> list[tuple[int, int, int]]:
    """`count` distinct RGB colours (the first ones fixed, the rest spread by the golden ratio in hue)."""
    colors = list(_BASE_PALETTE[:count])
    hue = 0.11
    while len(colors) < count:
        hue = (hue + 0.618033988749895) % 1.0
        red, green, blue = colorsys.hsv_to_rgb(hue, 0.75, 0.95)
        colors.append((int(red * 255), int(green * 255), int(blue * 255)))
    return colors


def draw_overlay(
    image: np.ndarray,
    masks: Sequence[np.ndarray],
    points: Sequence[Sequence[float]] = (),
    boxes: Sequence[Sequence[float]] = (),
    alpha: float = MASK_ALPHA,
) -> Image.Image:
    """The image with each mask tinted in its own colour and outlined, then the prompts drawn on top.

    Args:
        masks: H x W bool; larger masks are painted first so small ones stay visible.
        points: (x, y, label) pixels; label 1 green, 0 red.
        boxes: XYXY pixels; box i takes mask i's colour (white when there are more boxes than masks).
    """
    canvas = np.array(image, dtype=np.uint8, copy=True)
    height, width = canvas.shape[:2]
    thickness = max(1, round(min(height, width) / 300))
    colors = palette(len(masks))
    order = sorted(range(len(masks)), key=lambda i: -int(np.count_nonzero(masks[i])))
    for index in order:
        mask = np.asarray(masks[index], dtype=bool)
        tint = np.array(colors[index], dtype=np.float32)
        tinted = canvas[mask].astype(np.float32) * (1.0 - alpha) + tint * alpha
        canvas[mask] = np.clip(tinted + 0.5, 0, 255).astype(np.uint8)
        contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(canvas, contours, -1, colors[index], thickness)
    for index, box in enumerate(boxes):
        x0, y0, x1, y1 = (round(float(v)) for v in box)
        edge = colors[index] if index < len(colors) else (255, 255, 255)
        cv2.rectangle(canvas, (x0, y0), (x1, y1), edge, thickness + 1)
    radius = max(3, round(min(height, width) / 80))
    for x, y, label in points:
        center = (round(float(x)), round(float(y)))
        fill = POSITIVE_COLOR if int(label) == 1 else NEGATIVE_COLOR
        cv2.circle(canvas, center, radius, fill, -1, lineType=cv2.LINE_AA)
        cv2.circle(canvas, center, radius, (255, 255, 255), max(1, radius // 4), lineType=cv2.LINE_AA)
    return Image.fromarray(canvas)


def cutout(image: np.ndarray, mask: np.ndarray) -> Image.Image:
    """RGBA image: the pixels, with alpha 255 inside the mask and 0 outside."""
    alpha = np.asarray(mask, dtype=bool).astype(np.uint8) * np.uint8(255)
    return Image.fromarray(np.dstack([np.asarray(image, dtype=np.uint8), alpha]))


def mask_png(mask: np.ndarray) -> Image.Image:
    """8-bit grayscale PNG content: 255 inside the mask, 0 outside."""
    return Image.fromarray(np.asarray(mask, dtype=bool).astype(np.uint8) * np.uint8(255))

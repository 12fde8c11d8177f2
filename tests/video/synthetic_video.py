"""A synthetic video with exact ground truth: a textured square gliding over a textured background.

Both textures are smooth random noise (seeded) around a base colour, so optical flow has structure to lock on
to; with flat colours (spread 0, e.g. red on green) a segmenter sees a plain high-contrast object. The square moves by
`speed` pixels per frame along a gentle diagonal; its mask on frame t is known exactly.
"""

from __future__ import annotations

import cv2
import numpy as np

from segany.video.frames import FrameSource


def smooth_texture(
    height: int, width: int, seed: int, color: tuple[int, int, int], spread: int
) -> np.ndarray:
    """H x W x 3 uint8: `color` plus smooth random noise (blobs of ~6 px) within +-spread per channel."""
    rng = np.random.default_rng(seed)
    noise = rng.random((height, width, 3)).astype(np.float32)
    blurred = cv2.GaussianBlur(noise, (0, 0), 3.0)
    blurred = (blurred - blurred.min()) / (blurred.max() - blurred.min() + 1e-6)
    return np.clip(np.asarray(color) + (2 * blurred - 1) * spread, 0, 255).astype(np.uint8)


class GlidingSquare(FrameSource):
    """Frames drawn on demand (nothing stored per frame), so it can be arbitrarily long."""

    def __init__(
        self,
        frames: int,
        height: int = 192,
        width: int = 256,
        side: int = 64,
        speed: float = 2.0,
        spread: int = 55,
        colors: tuple[tuple[int, int, int], tuple[int, int, int]] = ((55, 55, 55), (210, 210, 210)),
    ) -> None:
        """spread: texture strength (0 = flat colours); colors: (background, square) base colours."""
        self.count, self.side, self.speed = frames, side, speed
        self._size = (height, width)
        self.name = "gliding-square"
        self.background = smooth_texture(height, width, 0, colors[0], spread)
        self.texture = smooth_texture(side, side, 1, colors[1], spread)
        self.frames_drawn = 0

    def __len__(self) -> int:
        return self.count

    def corner(self, index: int) -> tuple[int, int]:
        """(x, y) of the square's top-left corner on frame `index`: it bounces inside the frame."""
        height, width = self._size
        span_x, span_y = width - self.side - 8, height - self.side - 8
        x = round(self.speed * index) % (2 * span_x)
        y = round(0.5 * self.speed * index) % (2 * span_y)
        return 4 + (x if x < span_x else 2 * span_x - x), 4 + (y if y < span_y else 2 * span_y - y)

    def mask(self, index: int) -> np.ndarray:
        mask = np.zeros(self._size, dtype=bool)
        x, y = self.corner(index)
        mask[y : y + self.side, x : x + self.side] = True
        return mask

    def read(self, index: int) -> np.ndarray:
        index = self.check_index(index)
        frame = self.background.copy()
        x, y = self.corner(index)
        frame[y : y + self.side, x : x + self.side] = self.texture
        self.frames_drawn += 1
        return frame

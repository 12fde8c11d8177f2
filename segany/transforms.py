"""Resizing an image so its longest side matches the model input, and mapping prompts into that frame."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image


def resized_shape(height: int, width: int, long_side: int) -> tuple[int, int]:
    """(h, w) after scaling the longest side to `long_side`, rounding half up (the official rule)."""
    scale = long_side / max(height, width)
    return int(height * scale + 0.5), int(width * scale + 0.5)


class ResizeLongestSide:
    """Resize images and (x, y) prompts from the original frame to the model's input frame."""

    def __init__(self, target_length: int) -> None:
        self.target_length = target_length

    def apply_image(self, image: np.ndarray) -> np.ndarray:
        """HWC uint8 -> h x w x C uint8, PIL bilinear (the filter the official models were used with)."""
        height, width = resized_shape(image.shape[0], image.shape[1], self.target_length)
        if (height, width) == image.shape[:2]:
            return image
        return np.asarray(Image.fromarray(image).resize((width, height), Image.BILINEAR))

    def apply_coords(self, coords: np.ndarray, original_size: tuple[int, int]) -> np.ndarray:
        """... x 2 (x, y) pixels in the original image -> the same points in the resized frame (float)."""
        old_h, old_w = original_size
        new_h, new_w = resized_shape(old_h, old_w, self.target_length)
        coords = np.array(coords, dtype=np.float64, copy=True)
        coords[..., 0] *= new_w / old_w
        coords[..., 1] *= new_h / old_h
        return coords

    def apply_boxes(self, boxes: np.ndarray, original_size: tuple[int, int]) -> np.ndarray:
        """... x 4 XYXY boxes, original frame -> resized frame."""
        corners = self.apply_coords(np.asarray(boxes).reshape(-1, 2, 2), original_size)
        return corners.reshape(-1, 4)

    def apply_coords_torch(self, coords: torch.Tensor, original_size: tuple[int, int]) -> torch.Tensor:
        old_h, old_w = original_size
        new_h, new_w = resized_shape(old_h, old_w, self.target_length)
        scale = coords.new_tensor([new_w / old_w, new_h / old_h], dtype=torch.float32)
        return coords.to(torch.float32) * scale

    def apply_boxes_torch(self, boxes: torch.Tensor, original_size: tuple[int, int]) -> torch.Tensor:
        return self.apply_coords_torch(boxes.reshape(-1, 2, 2), original_size).reshape(-1, 4)

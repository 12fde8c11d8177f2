"""ResizeLongestSide, the official API's transform: images and prompts from the original to the input frame.

The geometry itself lives in `segany.geometry` (torch-free, shared with the ONNX runtime); this class keeps
the official names and adds the torch variants for batched prompts.
"""

from __future__ import annotations

import numpy as np
import torch

from segany.geometry import resize_longest_side, resized_shape, scale_boxes, scale_coords


class ResizeLongestSide:
    """Resize images and (x, y) prompts from the original frame to the model's input frame."""

    def __init__(self, target_length: int) -> None:
        self.target_length = target_length

    def apply_image(self, image: np.ndarray) -> np.ndarray:
        """HWC uint8 -> h x w x C uint8, PIL bilinear (the filter the official models were used with)."""
        return resize_longest_side(image, self.target_length)

    def apply_coords(self, coords: np.ndarray, original_size: tuple[int, int]) -> np.ndarray:
        """... x 2 (x, y) pixels in the original image -> the same points in the resized frame (float64)."""
        return scale_coords(coords, original_size, self.target_length)

    def apply_boxes(self, boxes: np.ndarray, original_size: tuple[int, int]) -> np.ndarray:
        """... x 4 XYXY boxes, original frame -> N x 4 XYXY boxes in the resized frame."""
        return scale_boxes(boxes, original_size, self.target_length)

    def apply_coords_torch(self, coords: torch.Tensor, original_size: tuple[int, int]) -> torch.Tensor:
        """... x 2 (x, y) float tensor, original frame -> resized frame (float32)."""
        old_h, old_w = original_size
        new_h, new_w = resized_shape(old_h, old_w, self.target_length)
        scale = coords.new_tensor([new_w / old_w, new_h / old_h], dtype=torch.float32)
        return coords.to(torch.float32) * scale

    def apply_boxes_torch(self, boxes: torch.Tensor, original_size: tuple[int, int]) -> torch.Tensor:
        """... x 4 XYXY tensor, original frame -> N x 4 XYXY in the resized frame (float32)."""
        return self.apply_coords_torch(boxes.reshape(-1, 2, 2), original_size).reshape(-1, 4)

"""Low-res mask logits -> logits or binary masks at the original image size.

SAM's decoder predicts 256 x 256 logits in the padded S x S input frame. They are upsampled bilinearly
(align_corners=False) to S x S, cropped to the resized image (`input_size`) and resized bilinearly to the
original image. On CPU the same two resizes run through OpenCV, whose bilinear kernel uses the same
half-pixel convention and edge clamping as torch, several times faster than `F.interpolate`; the
thresholded variant writes straight into a bool array so the full-size float logits never pile up.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

# The CPU path runs the torch-free OpenCV kernels of segany.geometry (shared with the ONNX runtime).
from segany.geometry import upscale_logits, upscale_masks


def _torch_upscale(
    low_res: torch.Tensor, image_size: int, input_size: tuple[int, int], original_size: tuple[int, int]
) -> torch.Tensor:
    masks = F.interpolate(low_res, (image_size, image_size), mode="bilinear", align_corners=False)
    masks = masks[..., : input_size[0], : input_size[1]]
    return F.interpolate(masks, original_size, mode="bilinear", align_corners=False)


def _uses_cv2(low_res: torch.Tensor) -> bool:
    return low_res.device.type == "cpu" and low_res.dtype == torch.float32 and not low_res.requires_grad


def upscale_mask_logits(
    low_res: torch.Tensor,
    image_size: int,
    input_size: tuple[int, int],
    original_size: tuple[int, int],
    exact: bool = False,
) -> torch.Tensor:
    """B x M x h x w logits -> B x M x H x W logits (differentiable unless on the CPU fast path).

    With `exact`, always use torch's kernel: bit-identical to the official post-processing given the same
    low-res logits (the OpenCV path differs by ~1e-5 of the logit scale, flipping only near-zero pixels).
    """
    input_size = (int(input_size[0]), int(input_size[1]))
    original_size = (int(original_size[0]), int(original_size[1]))
    if exact or not _uses_cv2(low_res):
        return _torch_upscale(low_res, image_size, input_size, original_size)
    batch, count = low_res.shape[:2]
    source = low_res.detach().reshape(batch * count, *low_res.shape[-2:]).numpy()
    out = upscale_logits(source, image_size, input_size, original_size, use_cv2=True)
    return torch.from_numpy(out).reshape(batch, count, *original_size)


def upscale_masks_binary(
    low_res: torch.Tensor,
    image_size: int,
    input_size: tuple[int, int],
    original_size: tuple[int, int],
    threshold: float = 0.0,
) -> np.ndarray:
    """B x M x h x w logits -> B x M x H x W bool numpy masks (logit > threshold)."""
    input_size = (int(input_size[0]), int(input_size[1]))
    original_size = (int(original_size[0]), int(original_size[1]))
    if not _uses_cv2(low_res):
        upscaled = _torch_upscale(low_res.detach(), image_size, input_size, original_size)
        return (upscaled > threshold).cpu().numpy()
    batch, count = low_res.shape[:2]
    source = low_res.detach().reshape(batch * count, *low_res.shape[-2:]).numpy()
    out = upscale_masks(source, image_size, input_size, original_size, threshold)
    return out.reshape(batch, count, *original_size)

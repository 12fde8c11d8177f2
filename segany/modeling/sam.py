"""The SAM model: image encoder + prompt encoder + mask decoder, with input/output processing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from segany.modeling.mask_decoder import MaskDecoder
from segany.modeling.mask_upsampling import upscale_mask_logits
from segany.modeling.prompt_encoder import PromptEncoder

PIXEL_MEAN = (123.675, 116.28, 103.53)
PIXEL_STD = (58.395, 57.12, 57.375)


class Sam(nn.Module):
    mask_threshold: float = 0.0
    image_format: str = "RGB"
    pixel_mean: torch.Tensor  # 3 x 1 x 1 buffer
    pixel_std: torch.Tensor  # 3 x 1 x 1 buffer

    def __init__(
        self,
        image_encoder: nn.Module,
        prompt_encoder: PromptEncoder,
        mask_decoder: MaskDecoder,
        pixel_mean: Sequence[float] = PIXEL_MEAN,
        pixel_std: Sequence[float] = PIXEL_STD,
    ) -> None:
        super().__init__()
        self.image_encoder = image_encoder
        self.prompt_encoder = prompt_encoder
        self.mask_decoder = mask_decoder
        # Not in checkpoints: fixed ImageNet statistics in 0..255 units.
        self.register_buffer("pixel_mean", torch.tensor(pixel_mean).view(-1, 1, 1), persistent=False)
        self.register_buffer("pixel_std", torch.tensor(pixel_std).view(-1, 1, 1), persistent=False)

    @property
    def device(self) -> torch.device:
        return self.pixel_mean.device

    @property
    def image_size(self) -> int:
        """Side of the square model input (1024 for the official models)."""
        return int(self.prompt_encoder.input_image_size[0])

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        """(B x) 3 x h x w RGB in 0..255, longest side already resized -> normalised, zero-padded to S x S."""
        x = (x - self.pixel_mean) / self.pixel_std
        height, width = x.shape[-2:]
        return F.pad(x, (0, self.image_size - width, 0, self.image_size - height))

    def postprocess_masks(
        self,
        masks: torch.Tensor,
        input_size: tuple[int, ...],
        original_size: tuple[int, ...],
    ) -> torch.Tensor:
        """B x M x 256 x 256 low-res logits -> B x M x H x W logits at the original image size.

        Equal (to float rounding) to upsampling to the S x S input frame, cropping the padding away
        (`input_size` = resized image size) and resizing to `original_size`, all bilinear.
        """
        input_hw = (int(input_size[0]), int(input_size[1]))
        original_hw = (int(original_size[0]), int(original_size[1]))
        return upscale_mask_logits(masks, self.image_size, input_hw, original_hw)

    def forward(
        self, batched_input: list[dict[str, Any]], multimask_output: bool
    ) -> list[dict[str, torch.Tensor]]:
        """Official end-to-end API: a list of per-image dicts in, a list of per-image results out.

        Each input dict holds `image` (3 x h x w, already resized so that the longest side is S),
        `original_size` (H, W) and optionally `point_coords` (B x N x 2), `point_labels` (B x N),
        `boxes` (B x 4), `mask_inputs` (B x 1 x 256 x 256), all in the S x S input frame.
        """
        images = torch.stack([self.preprocess(item["image"]) for item in batched_input])
        embeddings = self.image_encoder(images)
        results = []
        for item, embedding in zip(batched_input, embeddings):
            points = None
            if "point_coords" in item:
                points = (item["point_coords"], item["point_labels"])
            sparse, dense = self.prompt_encoder(points, item.get("boxes"), item.get("mask_inputs"))
            low_res, iou_predictions = self.mask_decoder(
                embedding.unsqueeze(0), self.prompt_encoder.get_dense_pe(), sparse, dense, multimask_output
            )
            masks = self.postprocess_masks(
                low_res, tuple(item["image"].shape[-2:]), tuple(item["original_size"])
            )
            results.append(
                {
                    "masks": masks > self.mask_threshold,
                    "iou_predictions": iou_predictions,
                    "low_res_logits": low_res,
                }
            )
        return results

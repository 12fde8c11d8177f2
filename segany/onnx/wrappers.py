"""Export-only torch modules: SAM's parts arranged into the graphs described in `segany.onnx.contract`.

They hold no weights of their own: each wraps a built `Sam` and calls its public modules, so whatever a
checkpoint loads into the model is what gets exported.
"""

from __future__ import annotations

from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from segany.modeling.decoder_lowrank import build_image_cache, predict_masks_lowrank
from segany.modeling.sam import Sam


class ImageEncoderGraph(nn.Module):
    """h x w x 3 float RGB (0..255, longest side = S) -> 1 x 256 x S/16 x S/16 image embedding.

    Channel-first layout, normalisation and the zero padding to S x S all happen inside the graph.
    """

    def __init__(self, sam: Sam) -> None:
        super().__init__()
        self.sam = sam

    def forward(self, input_image: torch.Tensor) -> torch.Tensor:
        image = input_image.permute(2, 0, 1).unsqueeze(0)  # 1 x 3 x h x w
        size = self.sam.image_size
        # The padded size is always S x S; saying so with a constant reshape gives every later node a static
        # shape (the pad amounts themselves depend on the input).
        padded = self.sam.preprocess(image).reshape(1, 3, size, size)
        result: torch.Tensor = self.sam.image_encoder(padded)
        return result


class PromptDecoderGraph(nn.Module):
    """The official SAM decoder contract (see `segany.onnx.contract`) built from our prompt encoder and decoder.

    Args:
        sam: the model whose prompt encoder and mask decoder are exported.
        return_single_mask: output one mask: the best of tokens 1..3 by predicted IoU when the prompt has at
            most 2 sparse tokens (a point plus its padding point, or a box alone), else token 0.
        upscale: add `orig_im_size` as an input and output `masks` at the original size; without it the graph
            outputs only `iou_predictions` and `low_res_masks`.
    """

    dense_pe: torch.Tensor  # 1 x C x h x w buffer

    def __init__(self, sam: Sam, return_single_mask: bool = False, upscale: bool = True) -> None:
        super().__init__()
        self.prompt_encoder = sam.prompt_encoder
        self.mask_decoder = sam.mask_decoder
        self.image_size = sam.image_size
        self.return_single_mask = return_single_mask
        self.upscale = upscale
        # Prompt-independent: computed once here rather than on every decoder call.
        self.register_buffer("dense_pe", sam.prompt_encoder.get_dense_pe().detach().clone(), persistent=False)

    def forward(
        self,
        image_embeddings: torch.Tensor,  # 1 x C x h x w
        point_coords: torch.Tensor,  # 1 x N x 2, (x, y) in the S x S input frame
        point_labels: torch.Tensor,  # 1 x N float: -1 pad, 0 neg, 1 pos, 2 / 3 box corners
        mask_input: torch.Tensor,  # 1 x 1 x 4h x 4w logits
        has_mask_input: torch.Tensor,  # (1,) 0.0 or 1.0
        orig_im_size: torch.Tensor | None = None,  # (2,) float (H, W)
    ) -> tuple[torch.Tensor, ...]:
        # The caller already appended the padding point or the box corners, so no padding is added here.
        sparse = self.prompt_encoder.embed_points(point_coords, point_labels, pad=False)
        dense = self._dense_embedding(mask_input, has_mask_input)
        low_res, iou = self.mask_decoder.predict_masks(image_embeddings, self.dense_pe, sparse, dense)
        if self.return_single_mask:
            low_res, iou = self._select_single(low_res, iou, point_labels)
        if not self.upscale:
            return iou, low_res
        if orig_im_size is None:
            raise ValueError("orig_im_size is required when the decoder upscales the masks")
        return self._upscale(low_res, orig_im_size), iou, low_res

    def _dense_embedding(self, mask_input: torch.Tensor, has_mask_input: torch.Tensor) -> torch.Tensor:
        """Blend of the mask embedding and `no_mask_embed`, switched by `has_mask_input` (1 x C x h x w)."""
        from_mask = self.prompt_encoder.embed_masks(mask_input)
        no_mask = self.prompt_encoder.no_mask_embed.weight.reshape(1, -1, 1, 1)
        switch = has_mask_input.reshape(-1, 1, 1, 1)
        return switch * from_mask + (1.0 - switch) * no_mask

    @staticmethod
    def _select_single(
        low_res: torch.Tensor, iou: torch.Tensor, point_labels: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """1 x 4 x h x w, 1 x 4 -> the single mask the official export returns (1 x 1 x h x w, 1 x 1)."""
        # Counted with tensor ops so the number of sparse tokens stays dynamic in the exported graph.
        token_count = torch.ones_like(point_labels[0]).sum()
        best_of_three = iou[0, 1:].argmax() + 1
        index = torch.where(token_count <= 2, best_of_three, torch.zeros_like(best_of_three)).reshape(1)
        return low_res.index_select(1, index), iou.index_select(1, index)

    def _upscale(self, low_res: torch.Tensor, orig_im_size: torch.Tensor) -> torch.Tensor:
        """Low-res logits -> S x S -> crop to the resized image -> original size (bilinear throughout)."""
        size = self.image_size
        full = F.interpolate(low_res, (size, size), mode="bilinear", align_corners=False)
        # Resized size by the rule of the preprocessing, int(x * scale + 0.5), in double precision.
        original = orig_im_size.to(torch.float64)
        scale = size / original.max()
        resized = torch.floor(original * scale + 0.5).to(torch.int64)
        cropped = full[..., : resized[0], : resized[1]]
        target = orig_im_size.to(torch.int64)
        # Traced: the size stays a graph value (the tensors), which F.interpolate accepts while tracing.
        size_hw = cast("tuple[int, int]", (target[0], target[1]))
        return F.interpolate(cropped, size=size_hw, mode="bilinear", align_corners=False)


class DecoderPrepGraph(nn.Module):
    """`decoder_prep.onnx`: image_embeddings 1 x C x h x w -> the image-dependent tensors of the low-rank decoder.

    Run once per image; its outputs are fed, unchanged and by name, to `LowRankDecoderGraph` for every prompt
    (see `segany.modeling.decoder_lowrank`).
    """

    dense_pe: torch.Tensor  # 1 x C x h x w buffer
    no_mask: torch.Tensor  # C buffer

    def __init__(self, sam: Sam) -> None:
        super().__init__()
        self.mask_decoder = sam.mask_decoder
        self.register_buffer("dense_pe", sam.prompt_encoder.get_dense_pe().detach().clone(), persistent=False)
        no_mask = sam.prompt_encoder.no_mask_embed.weight[0].detach().clone()
        self.register_buffer("no_mask", no_mask, persistent=False)

    def forward(self, image_embeddings: torch.Tensor) -> tuple[torch.Tensor, ...]:
        cache = build_image_cache(self.mask_decoder, image_embeddings, self.dense_pe, self.no_mask)
        return tuple(cache.image_tensors())


class LowRankDecoderGraph(nn.Module):
    """`decoder_lowrank.onnx`: one prompt without mask input + the `DecoderPrepGraph` outputs -> low-res masks.

    Inputs: point_coords 1 x N x 2 and point_labels 1 x N as in the official contract (pad point or box corners
    already appended), then the image tensors. Outputs: iou_predictions 1 x 4, low_res_masks 1 x 4 x 4h x 4w
    (token 0, then the 3 multimask tokens), equal to `decoder_lowres.onnx` with has_mask_input = 0.
    """

    def __init__(self, sam: Sam) -> None:
        super().__init__()
        self.prompt_encoder = sam.prompt_encoder
        self.mask_decoder = sam.mask_decoder
        embedding = torch.zeros(1, sam.prompt_encoder.embed_dim, *sam.prompt_encoder.image_embedding_size)
        # The weight-dependent part of a cache; the image-dependent part comes in as graph inputs.
        self.template = build_image_cache(
            sam.mask_decoder,
            embedding,
            sam.prompt_encoder.get_dense_pe().detach(),
            sam.prompt_encoder.no_mask_embed.weight[0].detach(),
        )

    def forward(
        self, point_coords: torch.Tensor, point_labels: torch.Tensor, *image_tensors: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        sparse = self.prompt_encoder.embed_points(point_coords, point_labels, pad=False)
        cache = self.template.with_image_tensors(image_tensors)
        low_res, iou = predict_masks_lowrank(self.mask_decoder, cache, sparse)
        return iou, low_res

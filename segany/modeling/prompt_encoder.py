"""Prompt encoder: points and boxes -> sparse tokens, a low-res mask -> a dense embedding."""

from __future__ import annotations

import math

import torch
from torch import nn

from segany.modeling.common import LayerNorm2d

# Point labels understood by the encoder (the ONNX decoder contract uses 2/3 for box corners too).
LABEL_PAD = -1
LABEL_NEGATIVE = 0
LABEL_POSITIVE = 1
LABEL_BOX_TOP_LEFT = 2
LABEL_BOX_BOTTOM_RIGHT = 3


class PositionEmbeddingRandom(nn.Module):
    """Random Fourier features of normalised (x, y) coordinates."""

    positional_encoding_gaussian_matrix: torch.Tensor  # 2 x num_pos_feats buffer

    def __init__(self, num_pos_feats: int = 64, scale: float | None = None) -> None:
        super().__init__()
        scale = 1.0 if scale is None or scale <= 0.0 else scale
        # Stored in checkpoints: the frequencies are part of the trained model.
        self.register_buffer("positional_encoding_gaussian_matrix", scale * torch.randn((2, num_pos_feats)))

    def _encode(self, coords: torch.Tensor) -> torch.Tensor:
        """(..., 2) coordinates in [0, 1] -> (..., 2 * num_pos_feats) features [sin | cos]."""
        projected = (2.0 * coords - 1.0) @ self.positional_encoding_gaussian_matrix
        projected = 2.0 * math.pi * projected
        return torch.cat([torch.sin(projected), torch.cos(projected)], dim=-1)

    def forward(self, size: tuple[int, int]) -> torch.Tensor:
        """Encoding of every cell centre of an H x W grid -> C x H x W."""
        height, width = size
        matrix = self.positional_encoding_gaussian_matrix
        ys = (torch.arange(height, device=matrix.device, dtype=matrix.dtype) + 0.5) / height
        xs = (torch.arange(width, device=matrix.device, dtype=matrix.dtype) + 0.5) / width
        grid = torch.stack([xs[None, :].expand(height, width), ys[:, None].expand(height, width)], dim=-1)
        return self._encode(grid).permute(2, 0, 1)

    def forward_with_coords(self, coords: torch.Tensor, image_size: tuple[int, int]) -> torch.Tensor:
        """(..., 2) pixel coordinates (x, y) in an image of size (H, W) -> (..., C)."""
        height, width = image_size
        coords = coords.to(self.positional_encoding_gaussian_matrix.dtype)  # float64 points are accepted too
        return self._encode(coords * coords.new_tensor([1.0 / width, 1.0 / height]))


class PromptEncoder(nn.Module):
    def __init__(
        self,
        embed_dim: int,
        image_embedding_size: tuple[int, int],
        input_image_size: tuple[int, int],
        mask_in_chans: int,
        activation: type[nn.Module] = nn.GELU,
    ) -> None:
        """
        Args:
            embed_dim: prompt token width (256 for SAM).
            image_embedding_size: (H, W) of the image embedding (64 x 64 for a 1024 input).
            input_image_size: (H, W) of the padded model input (1024 x 1024).
            mask_in_chans: hidden channels of the mask-downscaling convolutions.
        """
        super().__init__()
        self.embed_dim = embed_dim
        self.input_image_size = input_image_size
        self.image_embedding_size = image_embedding_size
        self.pe_layer = PositionEmbeddingRandom(embed_dim // 2)
        # 0 negative point, 1 positive point, 2 box top-left, 3 box bottom-right.
        self.num_point_embeddings = 4
        self.point_embeddings = nn.ModuleList(nn.Embedding(1, embed_dim) for _ in range(4))
        self.not_a_point_embed = nn.Embedding(1, embed_dim)
        self.mask_input_size = (4 * image_embedding_size[0], 4 * image_embedding_size[1])
        self.mask_downscaling = nn.Sequential(
            nn.Conv2d(1, mask_in_chans // 4, kernel_size=2, stride=2),
            LayerNorm2d(mask_in_chans // 4),
            activation(),
            nn.Conv2d(mask_in_chans // 4, mask_in_chans, kernel_size=2, stride=2),
            LayerNorm2d(mask_in_chans),
            activation(),
            nn.Conv2d(mask_in_chans, embed_dim, kernel_size=1),
        )
        self.no_mask_embed = nn.Embedding(1, embed_dim)

    def point_embedding(self, label: int) -> torch.Tensor:
        """1 x C learnt embedding of a point label: 0 negative, 1 positive, 2 / 3 box top-left / bottom-right."""
        embedding = self.point_embeddings[label]
        assert isinstance(embedding, nn.Embedding)  # built so in __init__
        return embedding.weight

    def get_dense_pe(self) -> torch.Tensor:
        """Positional encoding of the image embedding grid: 1 x C x H x W."""
        pe: torch.Tensor = self.pe_layer(self.image_embedding_size)
        return pe.unsqueeze(0)

    def embed_points(self, points: torch.Tensor, labels: torch.Tensor, pad: bool) -> torch.Tensor:
        """B x N x 2 (x, y) in the input frame, B x N labels -> B x N(+1) x C tokens.

        Labels: -1 padding, 0 negative, 1 positive, 2 / 3 box corners. With `pad`, a padding point is appended
        (the decoder was trained with one whenever no box follows the points).
        """
        points = points + 0.5  # move to the pixel centre
        if pad:
            points = torch.cat([points, points.new_zeros(points.shape[0], 1, 2)], dim=1)
            labels = torch.cat([labels, labels.new_full((labels.shape[0], 1), LABEL_PAD)], dim=1)
        embedding = self.pe_layer.forward_with_coords(points, self.input_image_size)
        labels = labels[..., None]
        is_pad = labels == LABEL_PAD
        embedding = torch.where(is_pad, self.not_a_point_embed.weight, embedding)
        for label in range(self.num_point_embeddings):
            embedding = embedding + (labels == label).to(embedding.dtype) * self.point_embedding(label)
        return embedding

    def embed_boxes(self, boxes: torch.Tensor) -> torch.Tensor:
        """B x 4 boxes XYXY in the input frame -> B x 2 x C corner tokens."""
        corners = (boxes + 0.5).reshape(-1, 2, 2)
        embedding = self.pe_layer.forward_with_coords(corners, self.input_image_size)
        top_left = embedding[:, 0, :] + self.point_embedding(LABEL_BOX_TOP_LEFT)
        bottom_right = embedding[:, 1, :] + self.point_embedding(LABEL_BOX_BOTTOM_RIGHT)
        return torch.stack([top_left, bottom_right], dim=1)

    def embed_masks(self, masks: torch.Tensor) -> torch.Tensor:
        """B x 1 x 4H x 4W mask logits -> B x C x H x W."""
        out: torch.Tensor = self.mask_downscaling(masks)
        return out

    def forward(
        self,
        points: tuple[torch.Tensor, torch.Tensor] | None,
        boxes: torch.Tensor | None,
        masks: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Embed any combination of prompts.

        Returns:
            sparse: B x N x C point/box tokens (N may be 0); dense: B x C x H x W mask embedding.
        """
        batch = self._batch_size(points, boxes, masks)
        reference = self.no_mask_embed.weight
        tokens = [reference.new_empty((batch, 0, self.embed_dim))]
        if points is not None:
            coords, labels = points
            tokens.append(self.embed_points(coords, labels, pad=boxes is None))
        if boxes is not None:
            tokens.append(self.embed_boxes(boxes))
        sparse = torch.cat(tokens, dim=1)
        if masks is not None:
            dense = self.embed_masks(masks)
        else:
            height, width = self.image_embedding_size
            dense = reference.reshape(1, -1, 1, 1).expand(batch, -1, height, width)
        return sparse, dense

    @staticmethod
    def _batch_size(
        points: tuple[torch.Tensor, torch.Tensor] | None,
        boxes: torch.Tensor | None,
        masks: torch.Tensor | None,
    ) -> int:
        if points is not None:
            return points[0].shape[0]
        if boxes is not None:
            return boxes.shape[0]
        if masks is not None:
            return masks.shape[0]
        return 1

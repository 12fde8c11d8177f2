"""Point grids (prompts) and crop boxes of SAM's everything mode.

Point grids are in normalised ``[0, 1] x [0, 1]`` image coordinates, rows of ``(x, y)``, x varying fastest.
Crop boxes are XYXY ``(x0, y0, x1, y1)`` in image pixels, exclusive ``x1, y1`` (slice ``[y0:y1, x0:x1]``).
"""

from __future__ import annotations

import numpy as np

from segany.amg.validation import check_positive_int


def build_point_grid(n_per_side: int) -> np.ndarray:
    """Evenly spaced n x n grid (n = ``n_per_side``): cell centres ``linspace(1/2n, 1 - 1/2n, n)`` per side.

    Returns:
        (n_per_side ** 2) x 2 float64 array of ``(x, y)`` in ``[0, 1]`` normalised coordinates, x fastest.
    """
    n = check_positive_int(n_per_side, "n_per_side")
    half_cell = 1 / (2 * n)
    side = np.linspace(half_cell, 1 - half_cell, n)
    xs, ys = np.meshgrid(side, side, indexing="xy")  # n x n each; xs varies along columns
    return np.stack([xs, ys], axis=-1).reshape(-1, 2)


def build_all_layer_point_grids(n_per_side: int, n_layers: int, scale_per_layer: int) -> list[np.ndarray]:
    """Point grids for crop layers 0..n_layers; layer i has ``n_per_side // scale_per_layer**i`` per side.

    Returns:
        ``n_layers + 1`` arrays, each (n_i ** 2) x 2 float64 ``(x, y)`` in ``[0, 1]`` normalised coordinates.
    """
    n = check_positive_int(n_per_side, "n_per_side")
    layers = check_positive_int(n_layers, "n_layers", minimum=0)
    scale = check_positive_int(scale_per_layer, "scale_per_layer")
    deepest = n // scale**layers
    if deepest < 1:
        raise ValueError(
            f"n_per_side={n} with scale_per_layer={scale} leaves no points at crop layer {layers} "
            f"({n} // {scale}**{layers} = 0); lower n_layers or scale_per_layer"
        )
    return [build_point_grid(n // scale**i) for i in range(layers + 1)]


def _crop_length(image_len: int, n_crops: int, overlap: int) -> int:
    """Side of each of ``n_crops`` equal crops covering ``image_len`` px, neighbours sharing ``overlap``."""
    return -(-(image_len + overlap * (n_crops - 1)) // n_crops)  # ceil division on integers


def generate_crop_boxes(
    im_size: tuple[int, int], n_layers: int, overlap_ratio: float
) -> tuple[list[list[int]], list[int]]:
    """Crop boxes of every crop layer.

    Layer 0 is the whole image. Layer i >= 1 has ``2 ** i`` crops per side overlapping by
    ``int(overlap_ratio * short_side * 2 / 2 ** i)`` pixels; each crop is
    ``ceil((side + overlap * (2 ** i - 1)) / 2 ** i)`` long, clipped to the image. Within a layer the crops
    are listed column by column (x0 outer, y0 inner). The boxes equal the official ``generate_crop_boxes``,
    including its degenerate output on tiny images (short side below ~50 px with 3 layers): some deep-layer
    crops are then empty or inverted (``x0 >= x1`` or ``y0 >= y1``); callers should skip those.

    Args:
        im_size: image ``(H, W)`` in pixels.
        n_layers: number of crop layers after layer 0, >= 0.
        overlap_ratio: overlap as a fraction of the short image side, in ``[0, 1)``.

    Returns:
        ``(crop_boxes, layer_idxs)``: XYXY boxes ``[x0, y0, x1, y1]`` in image pixels (exclusive x1, y1) and
        the crop layer of each box.
    """
    if not isinstance(im_size, tuple | list) or len(im_size) != 2:
        raise ValueError(f"im_size must be (H, W) in pixels, got {im_size!r}")
    im_h = check_positive_int(im_size[0], "im_size[0] (H)")
    im_w = check_positive_int(im_size[1], "im_size[1] (W)")
    layers = check_positive_int(n_layers, "n_layers", minimum=0)
    if isinstance(overlap_ratio, bool) or not isinstance(overlap_ratio, int | float):
        raise TypeError(f"overlap_ratio must be a float in [0, 1), got {type(overlap_ratio).__name__}")
    if not 0 <= overlap_ratio < 1:
        raise ValueError(f"overlap_ratio must be a fraction of the short side in [0, 1), got {overlap_ratio}")
    short_side = min(im_h, im_w)

    crop_boxes: list[list[int]] = [[0, 0, im_w, im_h]]
    layer_idxs: list[int] = [0]
    for layer in range(1, layers + 1):
        n_crops = 2**layer
        overlap = int(overlap_ratio * short_side * 2 / n_crops)
        crop_w = _crop_length(im_w, n_crops, overlap)
        crop_h = _crop_length(im_h, n_crops, overlap)
        x0s = [(crop_w - overlap) * i for i in range(n_crops)]
        y0s = [(crop_h - overlap) * i for i in range(n_crops)]
        for x0 in x0s:
            for y0 in y0s:
                crop_boxes.append([x0, y0, min(x0 + crop_w, im_w), min(y0 + crop_h, im_h)])
                layer_idxs.append(layer)
    return crop_boxes, layer_idxs

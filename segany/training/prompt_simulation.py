"""The SAM paper's interactive prompt simulation for training (appendix A), on batched torch tensors.

All functions work on N masks at once in the S x S model-input frame; points are (x, y) = (column, row)
pixels, boxes XYXY with an inclusive max corner (as `segany.evaluation.metrics.mask_to_box_xyxy`).
Randomness comes only from the `torch.Generator` passed in, which must be a CPU generator: draws are made
on the CPU and moved to the masks' device, so a seed gives the same prompts on every device. Every
function draws a fixed number of values for a given N whatever the masks hold, so one call never shifts
the random stream of the next.

- First prompt: with probability `box_probability` (1/2) the GT's tight box with Gaussian noise on each
  coordinate (std 10% of the box side along that axis, each noise value clamped to +-20 px, the result
  clamped to the valid image area), otherwise a foreground point drawn uniformly from the GT mask.
- Next points: uniform over the error region (GT & ~pred) | (pred & ~GT) inside the valid area; label 1
  (positive) where the prediction missed foreground, 0 (negative) where it spilled onto background, and
  -1 (padding) when there is no error.

Prompt layout (`Prompts`), chosen so that every row has the same number of tokens and each row matches
what the official prompt encoder produces at inference: point-first rows hold [points..., pad] (the pad
the encoder appends when no box follows), box-first rows hold [points..., top-left, bottom-right] with
box corners as labels 2 / 3 (`PromptEncoder.embed_points` embeds them exactly as `embed_boxes`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from segany.modeling.prompt_encoder import (
    LABEL_BOX_BOTTOM_RIGHT,
    LABEL_BOX_TOP_LEFT,
    LABEL_NEGATIVE,
    LABEL_PAD,
    LABEL_POSITIVE,
)

_CUMSUM_CHUNK = 16  # masks per cumulative-sum chunk in `sample_uniform_points` (bounds memory)


@dataclass(frozen=True)
class Prompts:
    """Sparse prompts of N masks: coords N x K x 2 (x, y) float, labels N x K long, is_box N bool."""

    coords: torch.Tensor
    labels: torch.Tensor
    is_box: torch.Tensor

    @property
    def num_clicks(self) -> torch.Tensor:
        """N: points that are real clicks (labels 0 / 1), the first point of point-first rows included."""
        return ((self.labels == LABEL_POSITIVE) | (self.labels == LABEL_NEGATIVE)).sum(dim=1)


def _check_masks(masks: torch.Tensor, name: str) -> torch.Tensor:
    if masks.ndim != 3:
        raise ValueError(f"{name} must be N x H x W, got shape {tuple(masks.shape)}")
    return masks if masks.dtype == torch.bool else masks > 0.5


def _check_generator(generator: torch.Generator) -> None:
    if not isinstance(generator, torch.Generator) or generator.device.type != "cpu":
        raise ValueError(
            "generator must be a CPU torch.Generator (draws are made on the CPU for reproducibility)"
        )


def valid_region(valid_hw: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """N x 2 (h, w) sizes of the image content at the top-left of an H x W frame -> N x H x W bool."""
    height, width = size
    rows = torch.arange(height, device=valid_hw.device)
    cols = torch.arange(width, device=valid_hw.device)
    inside_rows = rows[None, :] < valid_hw[:, 0:1]  # N x H
    inside_cols = cols[None, :] < valid_hw[:, 1:2]  # N x W
    return inside_rows[:, :, None] & inside_cols[:, None, :]


def sample_uniform_points(
    regions: torch.Tensor, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """One pixel drawn uniformly from each of N regions (N x H x W bool).

    Returns:
        coords N x 2 float (x, y) pixels (0, 0 for an empty region) and found N bool (False = empty region).
    """
    regions = _check_masks(regions, "regions")
    _check_generator(generator)
    n, _, width = regions.shape
    flat = regions.reshape(n, -1)
    counts = flat.sum(dim=1)  # N
    u = torch.rand(n, generator=generator, dtype=torch.float64).to(regions.device)
    # Rank (0-based) of the chosen pixel among the region's pixels, then its flat index via a cumulative sum.
    rank = torch.minimum((u * counts).floor().long(), (counts - 1).clamp_min(0))
    index = torch.empty(n, dtype=torch.long, device=regions.device)
    for start in range(0, n, _CUMSUM_CHUNK):
        stop = min(start + _CUMSUM_CHUNK, n)
        cumulative = flat[start:stop].to(torch.int32).cumsum(dim=1, dtype=torch.int32)
        target = (rank[start:stop] + 1).to(torch.int32)[:, None]
        index[start:stop] = torch.searchsorted(cumulative, target).squeeze(1)
    found = counts > 0
    index = torch.where(found, index, torch.zeros_like(index))
    coords = torch.stack([index % width, index // width], dim=1).to(torch.float32)
    return coords, found


def mask_boxes(masks: torch.Tensor) -> torch.Tensor:
    """Tight XYXY boxes (inclusive max corner) of N non-empty masks -> N x 4 float."""
    masks = _check_masks(masks, "masks")
    rows = masks.any(dim=2)  # N x H
    cols = masks.any(dim=1)  # N x W
    if not bool(rows.any(dim=1).all()):
        raise ValueError("masks must all be non-empty to define boxes")
    arange_h = torch.arange(masks.shape[1], device=masks.device)
    arange_w = torch.arange(masks.shape[2], device=masks.device)
    big = masks.shape[1] + masks.shape[2]
    y0 = torch.where(rows, arange_h, big).amin(dim=1)
    y1 = torch.where(rows, arange_h, -1).amax(dim=1)
    x0 = torch.where(cols, arange_w, big).amin(dim=1)
    x1 = torch.where(cols, arange_w, -1).amax(dim=1)
    return torch.stack([x0, y0, x1, y1], dim=1).to(torch.float32)


def noisy_boxes(
    masks: torch.Tensor,
    generator: torch.Generator,
    std_fraction: float = 0.1,
    max_noise: float = 20.0,
    valid_hw: torch.Tensor | None = None,
) -> torch.Tensor:
    """GT boxes with the paper's noise -> N x 4 XYXY float.

    Each coordinate gets N(0, (std_fraction * side)^2) noise, side = box width for x and height for y
    (inclusive: x1 - x0 + 1), clamped to [-max_noise, max_noise] px; the corners are then clamped to the
    valid area (N x 2 (h, w), default the whole frame) and ordered so that x0 <= x1, y0 <= y1.
    """
    _check_generator(generator)
    boxes = mask_boxes(masks)
    n = boxes.shape[0]
    noise = torch.randn(n, 4, generator=generator, dtype=torch.float32).to(boxes.device)
    sides = torch.stack([boxes[:, 2] - boxes[:, 0] + 1, boxes[:, 3] - boxes[:, 1] + 1], dim=1)  # N x 2 (w, h)
    std = std_fraction * sides.repeat(1, 2)  # N x 4: w, h, w, h
    noisy = boxes + (noise * std).clamp(-max_noise, max_noise)
    if valid_hw is None:
        limits = boxes.new_tensor([masks.shape[2] - 1, masks.shape[1] - 1]).expand(n, 2)
    else:
        limits = torch.stack([valid_hw[:, 1], valid_hw[:, 0]], dim=1).to(boxes) - 1  # N x 2 (x max, y max)
    upper = limits.repeat(1, 2)
    noisy = torch.minimum(noisy.clamp_min(0.0), upper)
    x0, x1 = torch.minimum(noisy[:, 0], noisy[:, 2]), torch.maximum(noisy[:, 0], noisy[:, 2])
    y0, y1 = torch.minimum(noisy[:, 1], noisy[:, 3]), torch.maximum(noisy[:, 1], noisy[:, 3])
    return torch.stack([x0, y0, x1, y1], dim=1)


def first_prompts(
    masks: torch.Tensor,
    generator: torch.Generator,
    box_probability: float = 0.5,
    box_noise_std: float = 0.1,
    box_noise_max: float = 20.0,
    valid_hw: torch.Tensor | None = None,
) -> Prompts:
    """The first prompt of each of N non-empty GT masks: a noisy box (probability box_probability) or a
    uniform foreground point, in the layout described in the module docstring (K = 2 tokens)."""
    masks = _check_masks(masks, "masks")
    if not 0.0 <= box_probability <= 1.0:
        raise ValueError(f"box_probability must be in [0, 1], got {box_probability}")
    _check_generator(generator)
    n = masks.shape[0]
    use_box = (torch.rand(n, generator=generator) < box_probability).to(masks.device)
    points, _ = sample_uniform_points(masks, generator)
    boxes = noisy_boxes(masks, generator, box_noise_std, box_noise_max, valid_hw)
    point_coords = torch.stack([points, torch.zeros_like(points)], dim=1)  # N x 2 x 2: point, pad
    point_labels = torch.tensor([LABEL_POSITIVE, LABEL_PAD], device=masks.device).expand(n, 2)
    box_coords = boxes.reshape(n, 2, 2)
    box_labels = torch.tensor([LABEL_BOX_TOP_LEFT, LABEL_BOX_BOTTOM_RIGHT], device=masks.device).expand(n, 2)
    coords = torch.where(use_box[:, None, None], box_coords, point_coords)
    labels = torch.where(use_box[:, None], box_labels, point_labels)
    return Prompts(coords, labels.clone(), use_box)


def add_points(prompts: Prompts, coords: torch.Tensor, labels: torch.Tensor) -> Prompts:
    """Append one point per row (coords N x 2, labels N) before the row's tail (pad, or box corners)."""
    old_c, old_l = prompts.coords, prompts.labels
    k = old_c.shape[1]
    new_c, new_l = coords[:, None, :].to(old_c), labels[:, None].to(old_l)
    before_box = torch.cat([old_c[:, : k - 2], new_c, old_c[:, k - 2 :]], dim=1)
    before_pad = torch.cat([old_c[:, : k - 1], new_c, old_c[:, k - 1 :]], dim=1)
    labels_box = torch.cat([old_l[:, : k - 2], new_l, old_l[:, k - 2 :]], dim=1)
    labels_pad = torch.cat([old_l[:, : k - 1], new_l, old_l[:, k - 1 :]], dim=1)
    box = prompts.is_box
    return Prompts(
        torch.where(box[:, None, None], before_box, before_pad),
        torch.where(box[:, None], labels_box, labels_pad),
        box,
    )


def error_regions(
    pred: torch.Tensor, gt: torch.Tensor, valid: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """(false negatives gt & ~pred, false positives pred & ~gt), N x H x W bool, restricted to valid."""
    pred, gt = _check_masks(pred, "pred"), _check_masks(gt, "gt")
    if pred.shape != gt.shape:
        raise ValueError(
            f"pred and gt must have the same shape, got {tuple(pred.shape)} and {tuple(gt.shape)}"
        )
    false_neg, false_pos = gt & ~pred, pred & ~gt
    if valid is not None:
        false_neg, false_pos = false_neg & valid, false_pos & valid
    return false_neg, false_pos


def sample_error_points(
    pred: torch.Tensor, gt: torch.Tensor, generator: torch.Generator, valid: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """One point per mask drawn uniformly from its error region (see module docstring).

    Returns coords N x 2 (x, y) float and labels N long: 1 in a miss, 0 in a spill, -1 without any error.
    """
    false_neg, false_pos = error_regions(pred, gt, valid)
    coords, found = sample_uniform_points(false_neg | false_pos, generator)
    x, y = coords[:, 0].long(), coords[:, 1].long()
    in_gt = gt.bool()[torch.arange(gt.shape[0], device=gt.device), y, x]
    labels = torch.where(in_gt, LABEL_POSITIVE, LABEL_NEGATIVE)
    labels = torch.where(found, labels, torch.full_like(labels, LABEL_PAD))
    return coords, labels.long()


def upscale_logits(logits: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """N x h x w (or N x M x h x w) low-res logits -> same at `size`, bilinear, align_corners=False."""
    squeeze = logits.ndim == 3
    x = logits[:, None] if squeeze else logits
    if tuple(x.shape[-2:]) != tuple(size):
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
    return x[:, 0] if squeeze else x


def downscale_masks(masks: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """N x H x W bool -> N x h x w float in [0, 1]: the fraction of each low-res cell that is foreground."""
    x = masks.float()[:, None]
    if tuple(x.shape[-2:]) != tuple(size):
        x = F.interpolate(x, size=size, mode="area")
    return x[:, 0]


def prediction_masks(logits: torch.Tensor, size: tuple[int, int], threshold: float = 0.0) -> torch.Tensor:
    """Binary predictions at `size` from N x h x w low-res logits (bilinear upscaling, then > threshold)."""
    return upscale_logits(logits.float(), size) > threshold


def iteration_schedule(num_points: int, num_mask_only: int, generator: torch.Generator) -> list[bool]:
    """What each iteration after the first does: True = add an error-region point, False = no new point
    (only the previous mask logits are fed back).

    The paper's 8 points + 2 mask-only iterations: all but the last mask-only iteration are inserted at
    uniformly random places among the points (any of the num_points + 1 gaps), the last one comes at the
    end. Always draws num_mask_only - 1 values from the generator.
    """
    if num_points < 0 or num_mask_only < 0:
        raise ValueError(f"num_points and num_mask_only must be >= 0, got {num_points}, {num_mask_only}")
    _check_generator(generator)
    schedule = [True] * num_points
    for _ in range(max(num_mask_only - 1, 0)):
        gap = int(torch.randint(0, len(schedule) + 1, (1,), generator=generator))
        schedule.insert(gap, False)
    if num_mask_only > 0:
        schedule.append(False)
    return schedule

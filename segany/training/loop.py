"""The paper's 11-iteration interactive training loop as one module: a batch in, a scalar loss out.

Per batch of N GT masks (each tied to one image of the batch):
  1. the first prompt (uniform foreground point or noisy box, 50/50) -> the 3-mask output (tokens 1..3),
     loss of the lowest-loss mask only;
  2. then `num_points` iterations that each add one point drawn uniformly from the error region of the
     previous prediction, and `num_mask_only` iterations that add nothing, scheduled as in the paper (one
     at a random place among the points, one at the end; see `iteration_schedule`). These iterations
     see several prompts, so they use the single "multi-prompt" output (token 0).
  Every iteration after the first gets the previous iteration's unthresholded low-res logits of the
  chosen mask as mask prompt (detached: no gradient flows from one iteration into the next through the
  fed-back mask), and the next point is sampled from that mask's errors. The chosen mask is the one with
  the highest predicted IoU, as in the paper (`feedback="min_loss"` picks the lowest-loss one instead).
The image encoder runs once per image; the loss is the mean over iterations of the mean over masks.

Loss resolution (the paper does not say): "low" compares the 4h x 4w decoder logits (256 x 256 for a
1024 input) with the GT's foreground share of each low-res cell (cheap, the default); "full" upsamples
the logits bilinearly to the S x S input frame. Point sampling uses the full-resolution prediction
(bilinear upsampling, threshold 0) by default; "low" samples low-res cells and maps them to the centre
pixel of the cell.

Memory: every iteration's decoder activations live until the single backward; `checkpoint_decoder`
recomputes them during backward instead (same gradients, ~1/3 more decoder compute). Wrapping this
module (not the bare `Sam`) in DistributedDataParallel makes one forward per micro-batch, as DDP expects.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from segany.modeling.sam import Sam
from segany.training.losses import LossWeights, sam_mask_loss
from segany.training.prompt_simulation import (
    Prompts,
    add_points,
    downscale_masks,
    first_prompts,
    iteration_schedule,
    prediction_masks,
    sample_error_points,
    upscale_logits,
    valid_region,
)

RESOLUTIONS = ("low", "full")
FEEDBACK_CHOICES = ("predicted_iou", "min_loss")


@dataclass(frozen=True)
class SimulationSettings:
    box_probability: float = 0.5
    box_noise_std: float = 0.1  # fraction of the box side
    box_noise_max: float = 20.0  # px
    num_points: int = 8
    num_mask_only: int = 2
    loss_resolution: str = "low"
    point_resolution: str = "full"
    feedback: str = "predicted_iou"
    weights: LossWeights = field(default_factory=LossWeights)
    checkpoint_decoder: bool = False  # recompute each iteration's decoder pass during backward
    # A first prompt that is a box trains the single-mask output (token 0), as SAM is prompted with boxes
    # (multimask_output=False); a single point trains the 3 ambiguity outputs with the min loss.
    box_single_mask: bool = True

    def __post_init__(self) -> None:
        for name in ("loss_resolution", "point_resolution"):
            if getattr(self, name) not in RESOLUTIONS:
                raise ValueError(f"{name} must be one of {RESOLUTIONS}, got {getattr(self, name)!r}")
        if self.feedback not in FEEDBACK_CHOICES:
            raise ValueError(f"feedback must be one of {FEEDBACK_CHOICES}, got {self.feedback!r}")

    @property
    def num_iterations(self) -> int:
        return 1 + self.num_points + self.num_mask_only


@dataclass
class TrainBatch:
    """N GT masks of B images, in the S x S model-input frame (image content at the top-left).

    masks N x S x S bool; image_index N long (the image of each mask); valid_hw N x 2 long (h, w) of that
    image's content; images B x 3 x S x S normalised, padded encoder input, or embeddings B x C x h x w
    (decoder-only training with a frozen, cached encoder). Exactly one of images / embeddings is set.
    """

    masks: torch.Tensor
    image_index: torch.Tensor
    valid_hw: torch.Tensor
    images: torch.Tensor | None = None
    embeddings: torch.Tensor | None = None

    @property
    def num_masks(self) -> int:
        return int(self.masks.shape[0])


@dataclass
class SimulationOutput:
    """loss: scalar to backpropagate; metrics: detached scalars (means over masks and iterations unless
    named after one iteration: iou_first / iou_last = actual IoU of the chosen mask)."""

    loss: torch.Tensor
    metrics: dict[str, torch.Tensor]


class InteractiveSimulation(nn.Module):
    """Runs the interactive simulation on a `Sam` (any encoder); see the module docstring."""

    def __init__(
        self, sam: Sam, settings: SimulationSettings | None = None, freeze_encoder: bool = False
    ) -> None:
        super().__init__()
        self.sam = sam
        self.settings = settings or SimulationSettings()
        self.freeze_encoder = freeze_encoder
        if freeze_encoder:
            self.sam.image_encoder.requires_grad_(False)
            self.sam.image_encoder.eval()

    def train(self, mode: bool = True) -> InteractiveSimulation:
        super().train(mode)
        if self.freeze_encoder:
            self.sam.image_encoder.eval()  # a frozen encoder never drops paths
        return self

    def decode(
        self,
        embeddings: torch.Tensor,
        image_pe: torch.Tensor,
        prompts: Prompts,
        mask_input: torch.Tensor | None,
        multimask: bool,
        single_rows: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """N x C x h x w embeddings + prompts -> (N x M x 4h x 4w logits, N x M IoU predictions), M = 3 or 1.

        With multimask, rows flagged in `single_rows` (N bool) get the single-mask output in all 3 places,
        so the min over the 3 is that output's loss and the same shapes hold for every row.
        With `checkpoint_decoder` (and gradients on) the pass is recomputed during backward instead of
        keeping its activations: the 11 iterations then hold about one iteration's decoder activations.
        """
        if self.settings.checkpoint_decoder and torch.is_grad_enabled():
            result: tuple[torch.Tensor, torch.Tensor] = checkpoint(
                self._decode,
                embeddings,
                image_pe,
                prompts.coords,
                prompts.labels,
                mask_input,
                multimask,
                single_rows,
                use_reentrant=False,
            )
            return result
        return self._decode(
            embeddings, image_pe, prompts.coords, prompts.labels, mask_input, multimask, single_rows
        )

    def _decode(
        self,
        embeddings: torch.Tensor,
        image_pe: torch.Tensor,
        coords: torch.Tensor,
        labels: torch.Tensor,
        mask_input: torch.Tensor | None,
        multimask: bool,
        single_rows: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        encoder = self.sam.prompt_encoder
        sparse = encoder.embed_points(coords, labels, pad=False)
        if mask_input is None:
            height, width = encoder.image_embedding_size
            dense = encoder.no_mask_embed.weight.reshape(1, -1, 1, 1).expand(
                sparse.shape[0], -1, height, width
            )
        else:
            dense = encoder.embed_masks(mask_input)
        logits, iou = self.sam.mask_decoder.predict_masks(embeddings, image_pe, sparse, dense)
        if not multimask:
            return logits[:, :1], iou[:, :1]
        multi_logits, multi_iou = logits[:, 1:], iou[:, 1:]
        if single_rows is not None:
            single = single_rows[:, None]  # N x 1
            multi_logits = torch.where(
                single[..., None, None], logits[:, :1].expand_as(multi_logits), multi_logits
            )
            multi_iou = torch.where(single, iou[:, :1].expand_as(multi_iou), multi_iou)
        return multi_logits, multi_iou

    def forward(self, batch: TrainBatch, generator: torch.Generator) -> SimulationOutput:
        s = self.settings
        if (batch.images is None) == (batch.embeddings is None):
            raise ValueError("batch must hold exactly one of images or embeddings")
        if batch.num_masks == 0:
            raise ValueError("batch must hold at least one mask")
        embeddings = (
            batch.embeddings if batch.embeddings is not None else self.sam.image_encoder(batch.images)
        )
        per_mask = embeddings[batch.image_index]  # N x C x h x w
        image_pe = self.sam.prompt_encoder.get_dense_pe()
        gt = batch.masks
        frame = (int(gt.shape[-2]), int(gt.shape[-1]))
        low_h, low_w = self.sam.prompt_encoder.mask_input_size
        low_res = (int(low_h), int(low_w))
        target = gt.float() if s.loss_resolution == "full" else downscale_masks(gt, low_res)
        valid = valid_region(batch.valid_hw, frame)
        if s.point_resolution == "low":
            gt_points = downscale_masks(gt, low_res) >= 0.5
            valid_points = downscale_masks(valid, low_res) >= 0.5
        else:
            gt_points, valid_points = gt, valid

        prompts = first_prompts(
            gt, generator, s.box_probability, s.box_noise_std, s.box_noise_max, batch.valid_hw
        )
        schedule = [True] + iteration_schedule(s.num_points, s.num_mask_only, generator)
        rows = torch.arange(gt.shape[0], device=gt.device)
        mask_input: torch.Tensor | None = None
        chosen: torch.Tensor | None = None
        totals: list[torch.Tensor] = []
        sums = {key: torch.zeros((), device=gt.device) for key in ("focal", "dice", "iou_mse", "iou")}
        ious: list[torch.Tensor] = []
        for iteration, adds_point in enumerate(schedule):
            if iteration > 0 and adds_point:
                assert chosen is not None
                coords, labels = self._next_points(chosen, gt_points, valid_points, frame, generator)
                prompts = add_points(prompts, coords, labels)
            single_rows = prompts.is_box if iteration == 0 and s.box_single_mask else None
            logits, iou_pred = self.decode(
                per_mask, image_pe, prompts, mask_input, multimask=iteration == 0, single_rows=single_rows
            )
            loss_logits = upscale_logits(logits, frame) if s.loss_resolution == "full" else logits
            result = sam_mask_loss(loss_logits, iou_pred, target, s.weights)
            totals.append(result.total.mean())
            for key, value in sums.items():
                sums[key] = value + getattr(result, key).detach().mean()
            if s.feedback == "predicted_iou":
                pick = iou_pred.detach().argmax(dim=1)
            else:
                pick = result.selected
            ious.append(result.actual_ious[rows, pick].mean())
            chosen = logits[rows, pick].detach()  # N x 4h x 4w
            mask_input = chosen[:, None].to(per_mask.dtype)
        count = len(schedule)
        metrics = {key: value / count for key, value in sums.items()}
        metrics.update(
            iou_first=ious[0], iou_last=ious[-1], masks=gt.new_tensor(float(gt.shape[0]), dtype=torch.float32)
        )
        return SimulationOutput(torch.stack(totals).mean(), metrics)

    def _next_points(
        self,
        logits: torch.Tensor,
        gt: torch.Tensor,
        valid: torch.Tensor,
        frame: tuple[int, int],
        generator: torch.Generator,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Error-region points of the chosen low-res logits (N x h x w), in full-frame pixels."""
        pred = prediction_masks(logits, (int(gt.shape[-2]), int(gt.shape[-1])))
        coords, labels = sample_error_points(pred, gt, generator, valid)
        if tuple(gt.shape[-2:]) != frame:  # low-res cells -> centre pixel of the cell in the input frame
            scale = coords.new_tensor([frame[1] / gt.shape[-1], frame[0] / gt.shape[-2]])
            coords = ((coords + 0.5) * scale).floor()
        return coords, labels

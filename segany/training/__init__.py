"""Training SAM with the paper's recipe: interactive prompt simulation, focal + dice + IoU losses, AdamW with
layer-wise lr decay, warmup and step decay; full, fine-tuning and decoder-only (cached embeddings) modes;
exact resume; torchrun / DDP. Entry points for the CLI: `cli_train` and `cli_eval`.

    from segany.training import TrainConfig, Trainer
    Trainer(TrainConfig(data=["shared:horses:train"], steps=1000, out_dir="runs/horses")).train()
"""

from segany.training.config import TrainConfig
from segany.training.loop import InteractiveSimulation, SimulationOutput, SimulationSettings, TrainBatch
from segany.training.losses import (
    LossWeights,
    dice_loss,
    mask_iou,
    sam_mask_loss,
    select_min_loss,
    sigmoid_focal_loss,
)
from segany.training.model_setup import build_model
from segany.training.optim import build_optimizer, build_scheduler, lr_factor, param_groups
from segany.training.trainer import Trainer

__all__ = [
    "InteractiveSimulation",
    "LossWeights",
    "SimulationOutput",
    "SimulationSettings",
    "TrainBatch",
    "TrainConfig",
    "Trainer",
    "build_model",
    "build_optimizer",
    "build_scheduler",
    "dice_loss",
    "lr_factor",
    "mask_iou",
    "param_groups",
    "sam_mask_loss",
    "select_min_loss",
    "sigmoid_focal_loss",
]

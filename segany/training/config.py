"""`TrainConfig`: every setting of a training run, loadable from a plain JSON file and overridable by flags.

Defaults follow the paper's recipe (SAM appendix A) where it applies to any run: AdamW (0.9, 0.999),
lr 8e-4, weight decay 0.1, 250 warmup steps, x0.1 step decay twice (at 2/3 and ~96% of the run, the
paper's 60k and 86,666 of 90k), layer-wise lr decay 0.8, focal : dice 20 : 1, IoU MSE weight 1, 11
interactive iterations, masks > 90% of the image dropped. The paper's ViT-B / ViT-L used lr 8e-4 / 4e-4,
layer decay 0.6 / 0.8 and drop path 0.6 / 0.4 (ViT-H 0.4), 64 masks per image. Defaults sized for a CPU
differ: 8 masks per image, 1 image per step, drop path off unless set.

Modes: "full" trains everything (from scratch, or from `init_checkpoint`, e.g. MAE encoder weights with
`init_strict` false); "finetune" starts from `init_checkpoint` (required; an official SAM checkpoint for
instance) and trains everything; "decoder" freezes the image encoder and caches its embeddings on disk.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MODES = ("full", "finetune", "decoder")
AMP_CHOICES = ("none", "bf16", "fp16")
DEVICE_CHOICES = ("auto", "cpu", "cuda")
CACHE_DTYPES = ("float32", "float16")
CONFIG_FILE = "config.json"


def run_config_path(weights_file: str | Path) -> Path | None:
    """The config.json of the training run a weights file belongs to: in the file's folder (model.pt) or the one
    above it (checkpoints/last.pt); None for a file outside any run."""
    folder = Path(weights_file).parent
    return next((p / CONFIG_FILE for p in (folder, folder.parent) if (p / CONFIG_FILE).is_file()), None)


def _f(default: Any, help: str, **kwargs: Any) -> Any:
    """A field with an immutable default and its --help text (and optional `choices`) as metadata."""
    return field(default=default, metadata={"help": help, **kwargs})


@dataclass
class TrainConfig:
    # ---------------------------------------------------------------- model
    model: str = _f(
        "vit_tiny", "registry architecture to build (vit_tiny, vit_b, vit_l, vit_h, segany_small)"
    )
    encoder: dict[str, Any] | None = field(
        default=None,
        metadata={
            "help": 'custom ViT encoder as JSON, e.g. \'{"embed_dim": 32, "depth": 2, "num_heads": 2, '
            '"global_attn_indexes": [1]}\' (overrides the registry architecture)'
        },
    )
    image_size: int | None = _f(None, "model input side (multiple of 16; default: the architecture's, 1024)")
    prompt_embed_dim: int | None = _f(
        None, "width of the prompt encoder / mask decoder (default 256; small for tests)"
    )
    drop_path_rate: float | None = _f(None, "stochastic depth of the encoder (paper: 0.4 ViT-H/L, 0.6 ViT-B)")
    mode: str = _f("full", "full | finetune | decoder (frozen encoder, cached embeddings)", choices=MODES)
    init_checkpoint: str | None = _f(
        None, "weights to start from (.pth / .safetensors; required for finetune)"
    )
    init_strict: bool = _f(True, "fail when init_checkpoint does not fit the model exactly")
    train_only: list[str] = field(
        default_factory=list,
        metadata={
            "help": "parameter-name prefixes to train, everything else frozen (empty: train all); e.g. "
            "mask_decoder.iou_prediction_head. to refit only the IoU head, leaving every mask unchanged"
        },
    )
    # ---------------------------------------------------------------- data
    data: list[Any] = field(
        default_factory=list,
        metadata={
            "help": "data sources, each SPEC[@WEIGHT]: shared:DATASET:SPLIT (horses, davis, camvid, bsds500, "
            "ccp, human_seg), "
            "folder:ROOT[:TYPE] (ROOT/images + ROOT/masks; TYPE binary|instance|semantic), "
            "coco:ANNOTATIONS.json:IMAGE_DIR, sa1b:DIR"
        },
    )
    shared_root: str | None = _f(
        None, "root of the shared datasets (default $SEGANY_SHARED_DATA or /work/shared/data)"
    )
    batch_size: int = _f(1, "images per micro-batch per process")
    grad_accum_steps: int = _f(1, "micro-batches per optimiser step")
    max_masks_per_image: int = _f(8, "masks sampled per image per step (paper: 64)")
    max_mask_fraction: float = _f(0.9, "drop masks covering more than this fraction of the image")
    min_mask_pixels: int = _f(
        1, "drop masks smaller than this after augmentation (pixels in the input frame)"
    )
    num_workers: int = _f(0, "threads preparing samples ahead of the training step (0: in the main thread)")
    # ---------------------------------------------------------------- augmentation
    augment: bool = _f(True, "large-scale jitter + flip + colour jitter (decoder mode keeps only flips)")
    scale_range: list[float] = field(
        default_factory=lambda: [0.1, 2.0],
        metadata={"help": "large-scale jitter: random scale of the resized image, then crop/pad"},
    )
    hflip_prob: float = _f(0.5, "probability of a horizontal flip")
    color_jitter: float = _f(
        0.2, "brightness / contrast / saturation factors drawn from [1 - x, 1 + x] (0: off)"
    )
    copy_paste_prob: float = _f(
        0.0, "probability of pasting one object of another training photo onto a sample (0: off)"
    )
    paste_scale: list[float] = field(
        default_factory=lambda: [0.15, 0.6],
        metadata={"help": "longest side of a pasted object as a fraction of the photo's longest side"},
    )
    orientation_crop_prob: float = _f(
        0.0, "probability of cropping a window of the other orientation (portrait from landscape and back)"
    )
    # ---------------------------------------------------------------- interactive simulation and loss
    box_probability: float = _f(0.5, "probability that the first prompt is a noisy box (else a point)")
    box_noise_std: float = _f(0.1, "box noise std as a fraction of the box side")
    box_noise_max: float = _f(20.0, "largest box noise per coordinate (px)")
    box_single_mask: bool = _f(
        True, "a first-prompt box trains the single-mask output (SAM's box usage); points the 3 masks"
    )
    interactive_points: int = _f(8, "iterations adding an error-region point")
    mask_only_iterations: int = _f(2, "iterations with no new point (one among the points, one at the end)")
    loss_resolution: str = _f(
        "low", "low: 4h x 4w decoder logits | full: upsampled to the input frame", choices=("low", "full")
    )
    point_resolution: str = _f(
        "full", "resolution of the error regions that points are drawn from", choices=("low", "full")
    )
    feedback: str = _f(
        "predicted_iou",
        "mask fed back and sampled from: predicted_iou (paper) | min_loss",
        choices=("predicted_iou", "min_loss"),
    )
    checkpoint_decoder: bool = _f(
        False,
        "recompute each decoder iteration in backward: ~11x less decoder activation memory, "
        "~1/3 more decoder compute (for 64 masks per image at 1024 px)",
    )
    focal_weight: float = _f(20.0, "weight of the focal loss")
    dice_weight: float = _f(1.0, "weight of the dice loss")
    focal_alpha: float = _f(
        0.25,
        "focal-loss weight of foreground pixels, background 1 - alpha (0.25 as RetinaNet; 0.5 weighs both alike; "
        "< 0 turns the weighting off)",
    )
    focal_gamma: float = _f(
        2.0,
        "focusing exponent of the focal loss (2 as RetinaNet and SAM; 0 gives alpha-weighted cross-entropy)",
    )
    iou_weight: float = _f(1.0, "weight of the IoU-head MSE")
    # ---------------------------------------------------------------- optimisation
    steps: int = _f(1000, "optimiser steps")
    lr: float = _f(8e-4, "base learning rate")
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999], metadata={"help": "AdamW betas"})
    weight_decay: float = _f(0.1, "AdamW weight decay (not on biases, norms, position embeddings)")
    warmup_steps: int = _f(250, "linear warmup steps")
    lr_decay_steps: list[int] | None = field(
        default=None,
        metadata={
            "help": "steps at which the lr is multiplied by lr_decay_factor "
            "(default: 2/3 and 0.963 of steps, as the paper)"
        },
    )
    lr_decay_factor: float = _f(0.1, "step decay factor")
    layer_decay: float = _f(0.8, "layer-wise lr decay of the encoder blocks (paper 0.6-0.8; 1 = off)")
    grad_clip_norm: float | None = _f(None, "clip the gradient norm to this value (off by default)")
    # ---------------------------------------------------------------- runtime
    out_dir: str = _f("runs/train", "run folder: config.json, log.csv, checkpoints/, model.pt")
    device: str = _f(
        "auto", "auto | cpu | cuda (auto = cuda:LOCAL_RANK when available)", choices=DEVICE_CHOICES
    )
    amp: str = _f(
        "bf16",
        "mixed precision on CUDA: none | bf16 | fp16 (GradScaler); always off on CPU",
        choices=AMP_CHOICES,
    )
    seed: int = _f(0, "seed of data order, augmentation, prompts and drop path")
    torch_threads: int | None = _f(None, "torch intra-op threads of the training process (default: torch's)")
    log_every: int = _f(1, "write a log.csv row every N steps")
    checkpoint_every: int = _f(500, "save a checkpoint every N steps (and at the end)")
    keep_checkpoints: int = _f(2, "numbered checkpoints kept besides last.pt (0: only last.pt)")
    resume: str | None = _f(
        None, "checkpoint to resume from, or 'auto' for <out_dir>/checkpoints/last.pt if any"
    )
    tensorboard: bool = _f(True, "also log to TensorBoard when torch.utils.tensorboard imports")
    progress: bool = _f(True, "show a tqdm progress bar")
    cache_dir: str | None = _f(
        None, "decoder mode: embedding cache folder (default <out_dir>/embedding_cache)"
    )
    cache_dtype: str = _f("float32", "decoder mode: dtype of cached embeddings", choices=CACHE_DTYPES)
    dist_backend: str | None = _f(None, "torch.distributed backend (default nccl on CUDA, gloo on CPU)")

    def __post_init__(self) -> None:
        self.validate()

    # ---------------------------------------------------------------- checks
    def validate(self) -> None:
        """Raise ValueError naming the first bad setting."""
        for f in dataclasses.fields(self):
            allowed: tuple[str, ...] = f.metadata.get("choices") or ()
            if allowed and getattr(self, f.name) not in allowed:
                raise ValueError(f"{f.name} must be one of {allowed}, got {getattr(self, f.name)!r}")
        positive = (
            "batch_size",
            "grad_accum_steps",
            "max_masks_per_image",
            "steps",
            "log_every",
            "checkpoint_every",
        )
        for name in positive:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        for name in (
            "num_workers",
            "warmup_steps",
            "keep_checkpoints",
            "interactive_points",
            "mask_only_iterations",
            "min_mask_pixels",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
        if not (
            isinstance(self.scale_range, (list, tuple))
            and len(self.scale_range) == 2
            and 0 < float(self.scale_range[0]) <= float(self.scale_range[1])
        ):
            raise ValueError(f"scale_range must be [min, max] with 0 < min <= max, got {self.scale_range!r}")
        if not (isinstance(self.betas, (list, tuple)) and len(self.betas) == 2):
            raise ValueError(f"betas must be [beta1, beta2], got {self.betas!r}")
        if not 0 < self.max_mask_fraction <= 1:
            raise ValueError(f"max_mask_fraction must be in (0, 1], got {self.max_mask_fraction}")
        if not 0 < self.layer_decay <= 1:
            raise ValueError(f"layer_decay must be in (0, 1], got {self.layer_decay}")
        if not 0 <= self.box_probability <= 1 or not 0 <= self.hflip_prob <= 1:
            raise ValueError("box_probability and hflip_prob must be probabilities in [0, 1]")
        if self.focal_alpha >= 1:
            raise ValueError(
                f"focal_alpha must be < 1 (negative: no class weighting), got {self.focal_alpha}"
            )
        if self.focal_gamma < 0:
            raise ValueError(f"focal_gamma must be >= 0, got {self.focal_gamma}")
        if self.lr <= 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if not isinstance(self.train_only, list) or not all(
            isinstance(prefix, str) and prefix for prefix in self.train_only
        ):
            raise ValueError(
                f"train_only must be a list of non-empty parameter-name prefixes, got {self.train_only!r}"
            )
        for name in ("copy_paste_prob", "orientation_crop_prob"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be a probability in [0, 1], got {getattr(self, name)!r}")
        if not (
            isinstance(self.paste_scale, (list, tuple))
            and len(self.paste_scale) == 2
            and 0 < float(self.paste_scale[0]) <= float(self.paste_scale[1]) <= 1
        ):
            raise ValueError(
                f"paste_scale must be [min, max] with 0 < min <= max <= 1, got {self.paste_scale!r}"
            )
        if self.torch_threads is not None and (
            isinstance(self.torch_threads, bool) or self.torch_threads < 1
        ):
            raise ValueError(f"torch_threads must be an integer >= 1 or unset, got {self.torch_threads!r}")
        if self.color_jitter < 0 or self.color_jitter >= 1:
            raise ValueError(f"color_jitter must be in [0, 1), got {self.color_jitter}")
        if self.image_size is not None and (self.image_size < 16 or self.image_size % 16):
            raise ValueError(f"image_size must be a positive multiple of 16, got {self.image_size}")
        if self.lr_decay_steps is not None and any(int(s) < 0 for s in self.lr_decay_steps):
            raise ValueError(f"lr_decay_steps must be non-negative steps, got {self.lr_decay_steps}")
        if self.encoder is not None and not isinstance(self.encoder, dict):
            raise ValueError(
                f"encoder must be a JSON object of ViTEncoderConfig fields, got {self.encoder!r}"
            )

    # ---------------------------------------------------------------- I/O
    def to_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(json.dumps(dataclasses.asdict(self)))
        return result

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown TrainConfig keys {unknown}; known keys: {sorted(known)}")
        return cls(**values)

    @classmethod
    def load(cls, path: str | Path) -> TrainConfig:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"training config not found: {path} (a JSON object of TrainConfig keys)")
        try:
            values = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise ValueError(f"{path} is not valid JSON: {error}") from error
        if not isinstance(values, dict):  # a user's file: ValueError is what the CLI reports as one line
            raise ValueError(  # noqa: TRY004
                f"{path} must hold a JSON object of TrainConfig keys, got {type(values).__name__}"
            )
        return cls.from_dict(values)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        tmp.replace(path)
        return path

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)


# ---------------------------------------------------------------------------------------------- flags
def _flag_kind(annotation: Any) -> tuple[str, bool]:
    """('int' | 'float' | 'str' | 'bool' | 'list' | 'dict', optional) of a field's type annotation."""
    args = typing.get_args(annotation)
    optional = type(None) in args
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        base = next(a for a in args if a is not type(None))
    else:
        base = annotation
    base = typing.get_origin(base) or base
    return {int: "int", float: "float", str: "str", bool: "bool", list: "list", dict: "dict"}[base], optional


class _ExplicitNone:
    """A flag given as `none`: sets the field to None (a flag left out keeps the config's value)."""

    def __repr__(self) -> str:
        return "none"


EXPLICIT_NONE = _ExplicitNone()


def _none_or(convert: Any) -> Any:
    def parse(text: str) -> Any:
        return EXPLICIT_NONE if text.lower() in ("none", "null") else convert(text)

    parse.__name__ = getattr(convert, "__name__", "value")
    return parse


def _json_object(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"expected JSON, got {text!r} ({error})") from None


def _list_item_type(name: str) -> Any:
    return {"scale_range": float, "paste_scale": float, "betas": float, "lr_decay_steps": int}.get(name, str)


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    """One --flag per TrainConfig field (dashes for underscores), all defaulting to None (= keep the config
    file's value). List flags take several values and replace the whole list (--data may be repeated)."""
    hints = typing.get_type_hints(TrainConfig)
    group = parser.add_argument_group("training settings (override the config file)")
    for f in dataclasses.fields(TrainConfig):
        kind, optional = _flag_kind(hints[f.name])
        flag = "--" + f.name.replace("_", "-")
        factory: Any = f.default_factory
        default = f.default if f.default is not dataclasses.MISSING else factory()
        if default is None:
            help_text = f"{f.metadata['help']} (unset by default; 'none' unsets a config file's value)"
        else:
            help_text = f"{f.metadata['help']} (default {json.dumps(default)})"
        if kind == "bool":
            group.add_argument(
                flag, dest=f.name, action=argparse.BooleanOptionalAction, default=None, help=help_text
            )
        elif kind == "list":
            item = _list_item_type(f.name)
            action = "extend" if f.name == "data" else "store"
            group.add_argument(
                flag,
                dest=f.name,
                nargs="+",
                type=item,
                action=action,
                default=None,
                metavar=f.name.upper(),
                help=help_text,
            )
        elif kind == "dict":
            group.add_argument(
                flag, dest=f.name, type=_json_object, default=None, metavar="JSON", help=help_text
            )
        else:
            convert = {"int": int, "float": float, "str": str}[kind]
            group.add_argument(
                flag,
                dest=f.name,
                type=_none_or(convert) if optional else convert,
                default=None,
                choices=f.metadata.get("choices"),
                metavar=None if f.metadata.get("choices") else f.name.upper(),
                help=help_text,
            )


def config_from_args(args: argparse.Namespace, config_path: str | Path | None = None) -> TrainConfig:
    """The config file (if any) with every flag that was given applied on top."""
    base = TrainConfig.load(config_path).to_dict() if config_path else TrainConfig().to_dict()
    for f in dataclasses.fields(TrainConfig):
        value = getattr(args, f.name, None)
        if value is not None:
            base[f.name] = None if value is EXPLICIT_NONE else value
    return TrainConfig.from_dict(base)

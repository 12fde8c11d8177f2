"""Building the model a TrainConfig describes, and the pieces of the config the loop and data need."""

from __future__ import annotations

from dataclasses import replace

from segany.modeling.sam import Sam
from segany.registry import MBConvEncoderConfig, SamConfig, ViTEncoderConfig, build_sam, resolve_config
from segany.training.augment import AugmentSettings, MaskSelection, MixSettings
from segany.training.config import TrainConfig
from segany.training.loop import SimulationSettings
from segany.training.losses import LossWeights


def sam_config(config: TrainConfig) -> SamConfig:
    """The architecture: the registry's `config.model`, or `config.encoder` fields, then the overrides."""
    if config.encoder is not None:
        fields = dict(config.encoder)
        if "global_attn_indexes" in fields:
            fields["global_attn_indexes"] = tuple(int(i) for i in fields["global_attn_indexes"])
        try:
            base = SamConfig(ViTEncoderConfig(**fields))
        except TypeError as error:
            raise ValueError(f"encoder must hold ViTEncoderConfig fields: {error}") from None
    else:
        base = resolve_config(config.model)
    if config.image_size is not None:
        base = base.with_image_size(config.image_size)
    if config.prompt_embed_dim is not None:
        base = replace(base, prompt_embed_dim=int(config.prompt_embed_dim))
    if config.drop_path_rate is not None:
        if isinstance(base.encoder, MBConvEncoderConfig):
            raise ValueError(
                f"drop_path_rate must be unset for {config.model}: its MBConv encoder has no stochastic depth"
            )
        base = replace(base, encoder=replace(base.encoder, drop_path_rate=float(config.drop_path_rate)))
    return base


def build_model(config: TrainConfig) -> Sam:
    """A randomly initialised SAM for the config (weights of init_checkpoint are loaded by the trainer)."""
    return build_sam(sam_config(config))


def freeze_all_but(sam: Sam, prefixes: list[str]) -> bool:
    """Freeze every parameter whose name starts with none of `prefixes` (empty: leave all trainable).

    Returns whether the whole image encoder ended up frozen, so that the loop keeps it in eval mode (its
    batch-norm statistics, if any, must not drift while nothing of it learns).
    """
    if not prefixes:
        return False
    names = [name for name, _ in sam.named_parameters()]
    unmatched = [prefix for prefix in prefixes if not any(name.startswith(prefix) for name in names)]
    if unmatched:
        raise ValueError(
            f"train_only prefixes {unmatched} match no parameter of {type(sam).__name__}; "
            f"parameter names start like {sorted({name.split('.')[0] for name in names})}"
        )
    for name, param in sam.named_parameters():
        param.requires_grad_(name.startswith(tuple(prefixes)))
    return not any(param.requires_grad for param in sam.image_encoder.parameters())


def simulation_settings(config: TrainConfig) -> SimulationSettings:
    return SimulationSettings(
        box_probability=config.box_probability,
        box_noise_std=config.box_noise_std,
        box_noise_max=config.box_noise_max,
        num_points=config.interactive_points,
        num_mask_only=config.mask_only_iterations,
        loss_resolution=config.loss_resolution,
        point_resolution=config.point_resolution,
        feedback=config.feedback,
        weights=LossWeights(
            focal=config.focal_weight,
            dice=config.dice_weight,
            iou=config.iou_weight,
            focal_alpha=config.focal_alpha,
            focal_gamma=config.focal_gamma,
        ),
        checkpoint_decoder=config.checkpoint_decoder,
        box_single_mask=config.box_single_mask,
    )


def augment_settings(config: TrainConfig) -> AugmentSettings:
    """Decoder mode caches encoder inputs, so only flips survive there (one cache entry per variant)."""
    if not config.augment:
        return AugmentSettings.none()
    if config.mode == "decoder":
        return AugmentSettings(scale_range=None, hflip_prob=config.hflip_prob, color_jitter=0.0)
    low, high = (float(v) for v in config.scale_range)
    return AugmentSettings(
        scale_range=(low, high), hflip_prob=config.hflip_prob, color_jitter=config.color_jitter
    )


def mask_selection(config: TrainConfig) -> MaskSelection:
    return MaskSelection(config.max_masks_per_image, config.max_mask_fraction, config.min_mask_pixels)


def mix_settings(config: TrainConfig) -> MixSettings:
    """Copy-paste and orientation crops; off in decoder mode (its embeddings are cached per photo)."""
    if not config.augment or config.mode == "decoder":
        return MixSettings()
    low, high = (float(v) for v in config.paste_scale)
    return MixSettings(
        copy_paste_prob=config.copy_paste_prob,
        paste_scale=(low, high),
        orientation_crop_prob=config.orientation_crop_prob,
    )

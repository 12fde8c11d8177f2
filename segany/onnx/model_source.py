"""Which SAM to export: a registry name (optionally with a checkpoint) or a checkpoint path alone."""

from __future__ import annotations

import warnings
from pathlib import Path

from segany.checkpoint import load_state_dict_into, read_state_dict
from segany.modeling.sam import Sam
from segany.registry import ALIASES, CONFIGS, build_sam, infer_model_name, resolve_config


def load_model(model: str | Path, checkpoint: str | Path | None = None) -> tuple[Sam, str]:
    """A built, eval-mode SAM and its name.

    Args:
        model: a registry name (`vit_b`, `vit_l`, `vit_h`, `default`, `vit_tiny`) or the path of a checkpoint
            whose architecture is inferred.
        checkpoint: weights for a registry name; without them the weights are random (a warning says so).
    """
    name = str(model)
    if name in CONFIGS or name in ALIASES:
        if checkpoint is None:
            warnings.warn(
                f"exporting {name!r} with RANDOM weights (no checkpoint given); pass a checkpoint for a usable model",
                stacklevel=2,
            )
        return build_sam(resolve_config(name), checkpoint=checkpoint), ALIASES.get(name, name)
    path = Path(model)
    if not path.is_file():
        known = ", ".join(sorted([*CONFIGS, *ALIASES]))
        raise ValueError(
            f"model must be a registry name ({known}) or a checkpoint file; {model!r} is neither"
        )
    if checkpoint is not None:
        raise ValueError(
            "give either a checkpoint path as the model or a registry name with a checkpoint, not both"
        )
    state = read_state_dict(path)
    name, image_size = infer_model_name(state)
    sam = build_sam(resolve_config(name).with_image_size(image_size))
    load_state_dict_into(sam, state, strict=True, source=f"checkpoint {path}")
    sam.eval()
    return sam, name

"""What makes two runs' outputs interchangeable: the settings hash and the model fingerprint.

A run directory records both (``run.json``); every shard's done marker repeats them. A re-run with another
model or other settings is refused unless it overwrites, so one output folder never mixes results. The
device is not part of either: a run may resume on another machine (float results may then differ slightly
between CPU and GPU kernels, so byte-identical outputs are promised on the same kind of device).
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from segany.modeling.sam import Sam

# Bumped whenever the bytes written for the same inputs and settings change (record layout, ids, ...).
OUTPUT_SCHEMA = 1
MODES = ("grid", "boxes")
# How masks are written: "sa1b" (a json per image, the default) or "parquet" (a mask table per shard).
OUTPUT_FORMATS = ("sa1b", "parquet")
# Generator arguments that are not settings of the result (the output form is fixed by the run).
_NOT_SETTINGS = ("model", "point_grids", "output_mode")


@dataclass(frozen=True)
class RunSettings:
    """Everything besides the model and the input that decides a run's bytes.

    Attributes:
        mode: "grid" (everything mode: a point grid per image) or "boxes" (given XYXY boxes -> one mask each).
        generator: every SamAutomaticMaskGenerator keyword argument as used (grid mode; empty for boxes).
        boxes_sha256: hash of the boxes given per image (boxes mode), None otherwise.
        shard_size: images per shard (it decides which files a shard writes).
        output_format: "sa1b" (one SA-1B json per image) or "parquet" (one mask table per shard).
    """

    mode: str
    shard_size: int
    generator: Mapping[str, Any] = field(default_factory=dict)
    boxes_sha256: str | None = None
    output_format: str = "sa1b"

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if isinstance(self.shard_size, bool) or not isinstance(self.shard_size, int) or self.shard_size <= 0:
            raise ValueError(f"shard_size must be a positive int, got {self.shard_size!r}")
        if (self.mode == "boxes") != (self.boxes_sha256 is not None):
            raise ValueError("boxes_sha256 must be given exactly when mode is 'boxes'")
        if self.output_format not in OUTPUT_FORMATS:
            raise ValueError(
                f"output_format must be one of {', '.join(OUTPUT_FORMATS)}, got {self.output_format!r}"
            )

    def to_dict(self) -> dict[str, Any]:
        document = asdict(self)
        document["generator"] = dict(self.generator)
        if self.output_format == "sa1b":
            # Left out for the default, so that SA-1B runs made before the Parquet output keep their hash.
            del document["output_format"]
        return {"output_schema": OUTPUT_SCHEMA, **document}

    def digest(self) -> str:
        """sha256 of the canonical json of the settings (sorted keys, no whitespace)."""
        return sha256_json(self.to_dict())


def effective_generator_settings(given: Mapping[str, Any]) -> dict[str, Any]:
    """Every SamAutomaticMaskGenerator setting as a run uses it: the library defaults updated with ``given``."""
    from segany.amg import SamAutomaticMaskGenerator

    defaults = {
        name: parameter.default
        for name, parameter in inspect.signature(SamAutomaticMaskGenerator).parameters.items()
        if parameter.default is not inspect.Parameter.empty and name not in _NOT_SETTINGS
    }
    return {**defaults, **given}


def model_fingerprint(model: Sam) -> str:
    """sha256 over the model's tensors (names, dtypes, shapes and values) and its class names.

    Equal fingerprints mean equal weights whatever file they came from; a fine-tuned or other model differs.
    """
    import torch

    digest = hashlib.sha256()
    digest.update(type(model.image_encoder).__name__.encode())
    for name, tensor in sorted(model.state_dict().items()):
        value = tensor.detach().to("cpu").contiguous()
        digest.update(f"{name}|{value.dtype}|{tuple(value.shape)}|".encode())
        if value.dtype == torch.bfloat16:  # numpy has no bfloat16: hash the raw 16-bit words
            value = value.view(torch.int16)
        digest.update(value.numpy().tobytes())
    return digest.hexdigest()


def model_version_fingerprint(model: Sam) -> str:
    """The fingerprint `segany serve` and the data engine's model versions give ``model`` (weights and input
    size, see ``segany.training.embedding_cache.model_fingerprint``), recorded so an import can name it."""
    from segany.training.embedding_cache import model_fingerprint as serving_fingerprint

    return serving_fingerprint(model, model.image_size)


def sha256_json(document: Any) -> str:
    return hashlib.sha256(canonical_json(document).encode()).hexdigest()


def canonical_json(document: Any) -> str:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), allow_nan=False)

"""segany: Segment Anything, with the official checkpoints, faster.

Attributes are imported lazily so that torch-free parts (the ONNX runtime, file formats) load without torch.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY_ATTRIBUTES = {
    "SamConfig": "segany.registry",
    "ViTEncoderConfig": "segany.registry",
    "ConvEncoderConfig": "segany.registry",
    "load_pretrained": "segany.pretrained.loading",
    "build_sam": "segany.registry",
    "sam_model_registry": "segany.registry",
    "SamPredictor": "segany.predictor",
    "load_checkpoint": "segany.checkpoint",
}

__all__ = list(_LAZY_ATTRIBUTES) + ["__version__"]


def __getattr__(name: str) -> Any:
    module_name = _LAZY_ATTRIBUTES.get(name)
    if module_name is None:
        raise AttributeError(f"module 'segany' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)

"""ONNX export (`export_onnx`, needs torch) and a torch-free runtime (`OnnxPredictor`: numpy, Pillow, onnxruntime).

Attributes load lazily, so `from segany.onnx import OnnxPredictor` never imports torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY_ATTRIBUTES = {
    "export_onnx": "segany.onnx.export",
    "main_export": "segany.onnx.export",
    "add_export_arguments": "segany.onnx.export",
    "ExportResult": "segany.onnx.export",
    "OnnxPredictor": "segany.onnx.runtime",
    "ExportMetadata": "segany.onnx.contract",
}

__all__ = list(_LAZY_ATTRIBUTES)


def __getattr__(name: str) -> Any:
    module_name = _LAZY_ATTRIBUTES.get(name)
    if module_name is None:
        raise AttributeError(f"module 'segany.onnx' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)

"""Dynamic int8 quantization of exported models (ONNX Runtime CPU).

Weights of MatMul / Gemm become int8 (`QInt8`, per tensor); activations are quantized to uint8 on the fly, so
ONNX Runtime runs `MatMulInteger` / `DynamicQuantizeMatMul` (VNNI on CPUs that have it). Convolutions stay
float32: SAM's few convolutions (patch embedding, neck, mask downscaling, transposed upscaling) are a small
share of the work and the patch embedding is the most sensitive layer to quantize.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

QUANTIZED_OP_TYPES = ("MatMul", "Gemm")
QUANTIZATION_SCHEMES = ("int8",)


def quantize_int8(source: str | Path, target: str | Path, external_data: bool = False) -> Path:
    """Write a dynamically quantized copy of `source` to `target`.

    Args:
        external_data: store the quantized weights in `<target>.data` (needed past 2 GB).
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    target = Path(target)
    with _without_preprocessing_advice():
        quantize_dynamic(
            model_input=str(source),
            model_output=str(target),
            op_types_to_quantize=list(QUANTIZED_OP_TYPES),
            per_channel=False,
            reduce_range=False,
            weight_type=QuantType.QInt8,
            use_external_data_format=external_data,
        )
    return target


@contextlib.contextmanager
def _without_preprocessing_advice() -> Iterator[None]:
    """Drop ORT's "consider pre-processing" root-logger warning (shape inference + graph optimisation first).

    That pre-processing does not change which nodes get quantized here (MatMul / Gemm weights only), and
    ORT optimises the graph again when it loads the model. A NullHandler is attached while quantizing so the
    root-level `logging.warning` call does not install a console handler in the caller's process.
    """
    root = logging.getLogger()
    placeholder = logging.NullHandler() if not root.handlers else None
    if placeholder is not None:
        root.addHandler(placeholder)

    def keep(record: logging.LogRecord) -> bool:
        return "pre-processing before quantization" not in record.getMessage()

    root.addFilter(keep)
    try:
        yield
    finally:
        root.removeFilter(keep)
        if placeholder is not None:
            root.removeHandler(placeholder)

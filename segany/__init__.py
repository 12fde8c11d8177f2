"""segany: Segment Anything, with the official checkpoints, faster."""

from segany.registry import SamConfig, ViTEncoderConfig, build_sam, sam_model_registry

__version__ = "0.1.0"

__all__ = ["SamConfig", "ViTEncoderConfig", "build_sam", "sam_model_registry", "__version__"]

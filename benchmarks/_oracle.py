"""Import the official segment-anything package (the reference) with the tests' torchvision stand-in."""

from __future__ import annotations

import sys
from pathlib import Path

import torch

_SHIMS = Path(__file__).resolve().parents[1] / "tests" / "oracle_shims"
if str(_SHIMS) not in sys.path:
    sys.path.insert(0, str(_SHIMS))

try:
    import segment_anything
except ImportError as error:  # pragma: no cover - depends on the environment
    raise SystemExit(
        "the benchmarks compare against segment-anything==1.0: pip install -e '.[test]'"
    ) from error


def build_reference_and_ours(
    model: str, seed: int = 0, noise: float = 0.02
) -> tuple[torch.nn.Module, torch.nn.Module]:
    """The official model with seeded, perturbed random weights, and ours loaded from its state dict."""
    from segany import sam_model_registry

    torch.manual_seed(seed)
    reference = segment_anything.sam_model_registry[model]().eval()
    with torch.no_grad():
        for parameter in reference.parameters():
            parameter.add_(torch.randn_like(parameter) * noise)
    ours = sam_model_registry[model]()
    ours.load_state_dict(reference.state_dict(), strict=True)
    return reference, ours.eval()

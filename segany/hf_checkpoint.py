"""Hugging Face `transformers.SamModel` state dicts -> the official SAM layout (placeholder: see issue)."""

from __future__ import annotations

from collections.abc import Mapping

import torch


def is_hf_state_dict(state: Mapping[str, object]) -> bool:
    return any(key.startswith("vision_encoder.") for key in state)


def convert_hf_state_dict(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    raise NotImplementedError("Hugging Face SamModel conversion is not implemented yet")

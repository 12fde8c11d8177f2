"""Weights trained by this project and shipped inside the package, so segany segments offline.

`manifest.json` lists each file with its architecture, size and sha256; `segany.weights` turns the entries
into `WeightsInfo` records next to the official checkpoints. `python -m segany.training.export_pretrained
RUN_DIR` writes the weights file and its manifest entry. Without a manifest nothing is bundled.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

PRETRAINED_DIR = Path(__file__).resolve().parent
MANIFEST_PATH = PRETRAINED_DIR / "manifest.json"


@lru_cache(maxsize=1)
def manifest() -> dict[str, dict[str, Any]]:
    """name -> {"model", "file", "bytes", "sha256", "description"}; empty when nothing is bundled."""
    if not MANIFEST_PATH.is_file():
        return {}
    entries = json.loads(MANIFEST_PATH.read_text())
    if not isinstance(entries, dict):
        raise TypeError(
            f"{MANIFEST_PATH} must hold a JSON object of name -> entry, got {type(entries).__name__}"
        )
    return entries


def __getattr__(name: str) -> Any:
    # `load_pretrained` lives in `segany.pretrained.loading` (it needs segany.weights, which reads this
    # package's manifest): loaded on first use, so this data module imports nothing of segany.
    if name == "load_pretrained":
        from importlib import import_module

        value = import_module("segany.pretrained.loading").load_pretrained
        globals()[name] = value
        return value
    raise AttributeError(f"module 'segany.pretrained' has no attribute {name!r}")


__all__ = ["MANIFEST_PATH", "PRETRAINED_DIR", "load_pretrained", "manifest"]

"""Weights trained by this project and shipped inside the package, so segany segments offline.

`manifest.json` lists each file with its architecture, size and sha256; `segany.weights` turns the entries
into `WeightsInfo` records next to the official checkpoints. `python -m segany.training.export_pretrained
RUN_DIR` writes the weights file and its manifest entry. Without a manifest nothing is bundled.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from segany.modeling.sam import Sam

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


def load_pretrained(name: str = "segany_small") -> Sam:
    """A bundled model by weights name, strictly loaded, in eval mode (float32 on the CPU)."""
    from segany.registry import build_sam, resolve_config
    from segany.weights import download, weights_info

    info = weights_info(name)
    path = download(info)  # bundled: verified in place; official: from the cache (or fetched)
    return build_sam(resolve_config(info.model), checkpoint=path, strict=True)


__all__ = ["MANIFEST_PATH", "PRETRAINED_DIR", "load_pretrained", "manifest"]

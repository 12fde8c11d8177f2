"""`load_pretrained`: a bundled (or official) model by weights name, built and strictly loaded."""

from __future__ import annotations

from segany.modeling.sam import Sam
from segany.registry import build_sam, resolve_config
from segany.weights import download, weights_info


def load_pretrained(name: str = "segany_small") -> Sam:
    """A bundled model by weights name, strictly loaded, in eval mode (float32 on the CPU)."""
    info = weights_info(name)
    path = download(info)  # bundled: verified in place; official: from the cache (or fetched)
    return build_sam(resolve_config(info.model), checkpoint=path, strict=True)


__all__ = ["load_pretrained"]

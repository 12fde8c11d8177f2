"""On-disk cache of image embeddings for decoder-only training (frozen encoder): the encoder runs once
per image (and flip variant), later epochs read `.pt` files.

Layout: <root>/<model fingerprint>/<key>.pt, one float tensor C x h x w per file. The key hashes the
image file's absolute path, size and modification time, the model input size and the flip variant; the
fingerprint hashes the encoder's class and weights, so retraining or swapping the encoder never reads
stale embeddings. Files are written atomically (safe with several ranks sharing the folder).
Only deterministic encoder inputs can be cached: no scale jitter, no colour jitter (flips are fine:
each variant has its own entry).
"""

from __future__ import annotations

import hashlib
import os
import pickle
from pathlib import Path

import torch
from torch import nn

FINGERPRINT_CHARS = 16


def model_fingerprint(encoder: nn.Module, image_size: int) -> str:
    """Hex digest of the encoder's class, input size and every state tensor (name, dtype, shape, bytes)."""
    digest = hashlib.sha256(f"{type(encoder).__module__}.{type(encoder).__qualname__}:{image_size}".encode())
    for name, tensor in sorted(encoder.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{t.dtype}:{tuple(t.shape)}".encode())
        digest.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return digest.hexdigest()[:FINGERPRINT_CHARS]


def image_key(image_path: str | Path, flipped: bool, image_size: int) -> str:
    path = Path(image_path).resolve()
    stat = path.stat()
    text = f"{path}|{stat.st_size}|{stat.st_mtime_ns}|flip={int(flipped)}|S={image_size}"
    return hashlib.sha1(text.encode()).hexdigest()


class EmbeddingCache:
    def __init__(self, root: str | Path, fingerprint: str, dtype: torch.dtype = torch.float32) -> None:
        self.folder = Path(root) / fingerprint
        self.folder.mkdir(parents=True, exist_ok=True)
        self.dtype = dtype
        self.hits = 0
        self.misses = 0

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.pt"

    def get(self, key: str) -> torch.Tensor | None:
        path = self.path(key)
        if not path.is_file():
            self.misses += 1
            return None
        try:
            tensor = torch.load(path, map_location="cpu", weights_only=True)
        except (RuntimeError, EOFError, OSError, ValueError, pickle.UnpicklingError):  # truncated: recompute
            self.misses += 1
            return None
        self.hits += 1
        result: torch.Tensor | None = tensor.float()
        return result

    def put(self, key: str, embedding: torch.Tensor) -> None:
        path = self.path(key)
        tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp")
        torch.save(embedding.detach().to("cpu", self.dtype).contiguous().clone(), tmp)
        os.replace(tmp, path)

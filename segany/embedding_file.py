"""Saving and loading image embeddings so an image is encoded once and prompted from any process.

Format: an uncompressed `.npz` holding `embedding` (1 x C x h x w float32), `original_size` (H, W),
`input_size` (h, w of the resized image inside the model input), `image_size` (model input side) and
an optional `model` name. Readable with numpy alone (the ONNX runtime uses the same files).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

FORMAT_VERSION = 1


@dataclass(frozen=True)
class ImageEmbedding:
    embedding: np.ndarray  # 1 x C x h x w float32
    original_size: tuple[int, int]  # (H, W) of the original image
    input_size: tuple[int, int]  # (h, w) of the resized image in the model input frame
    image_size: int  # side of the square model input
    model: str = ""

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_name(path.name + ".npz")
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(
            path,
            embedding=np.ascontiguousarray(self.embedding, dtype=np.float32),
            original_size=np.asarray(self.original_size, dtype=np.int64),
            input_size=np.asarray(self.input_size, dtype=np.int64),
            image_size=np.asarray(self.image_size, dtype=np.int64),
            model=np.asarray(self.model),
            format_version=np.asarray(FORMAT_VERSION),
        )
        return path

    @classmethod
    def load(cls, path: str | Path) -> ImageEmbedding:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"embedding file not found: {path}")
        try:
            with np.load(path, allow_pickle=False) as data:
                embedding = data["embedding"].astype(np.float32)
                original = tuple(int(v) for v in data["original_size"])
                input_size = tuple(int(v) for v in data["input_size"])
                image_size = int(data["image_size"])
                model = str(data["model"]) if "model" in data else ""
        except (KeyError, ValueError, OSError) as error:
            raise ValueError(f"{path} is not a segany embedding file ({error})") from error
        if embedding.ndim != 4 or embedding.shape[0] != 1:
            raise ValueError(f"{path}: embedding must be 1 x C x h x w, got shape {embedding.shape}")
        return cls(embedding, (original[0], original[1]), (input_size[0], input_size[1]), image_size, model)

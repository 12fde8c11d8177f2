"""How a frame's image embedding reaches the predictor: encoded on the spot, or read from a per-frame cache.

The tracker calls `encoder.set_frame(predictor, index, frame)` only on the frames where it runs the model
(keyframes), so variants that skip frames skip the encoder there too. Both encoders add the seconds they spend
to `seconds` and count the frames they encode (`encoded`), so callers can report encoder time apart from the rest.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Protocol

import numpy as np

from segany.embedding_file import ImageEmbedding
from segany.predictor import SamPredictor


class FrameEncoder(Protocol):
    seconds: float  # time spent setting embeddings (encoding or loading)
    encoded: int  # frames run through the image encoder

    def set_frame(self, predictor: SamPredictor, index: int, frame: np.ndarray) -> None:
        """Make `frame` (H x W x 3 uint8 RGB, number `index` in its video) the predictor's current image."""
        ...


class LiveEncoder:
    """Runs the image encoder on every frame it is given (the default)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.encoded = 0

    def set_frame(self, predictor: SamPredictor, index: int, frame: np.ndarray) -> None:
        start = time.perf_counter()
        predictor.set_image(frame)
        self.seconds += time.perf_counter() - start
        self.encoded += 1


class CachedEncoder:
    """Embeddings kept on disk as `<folder>/<index:05d>.npz` (segany's embedding files), encoded when missing.

    Meant for measurement runs that track the same video many times: each frame is encoded once. A file made
    for another model (its name and its encoder's weights fingerprint: new weights under an old name do not
    reuse old embeddings) or another frame size is re-encoded. `encode_seconds` holds the time of each encoding
    done by this object (for per-frame encoder cost figures).
    """

    def __init__(self, folder: str | Path, model_name: str) -> None:
        self.folder = Path(folder)
        self.model_name = model_name
        self._identity: str | None = None  # model_name@encoder fingerprint, set at the first frame
        self.seconds = 0.0
        self.encoded = 0
        self.encode_seconds: list[float] = []

    def path(self, index: int) -> Path:
        return self.folder / f"{index:05d}.npz"

    def identity(self, predictor: SamPredictor) -> str:
        """The model name stored in (and required of) each embedding file: name@encoder-weights fingerprint."""
        if self._identity is None:
            from segany.training.embedding_cache import model_fingerprint

            model = predictor.model
            self._identity = f"{self.model_name}@{model_fingerprint(model.image_encoder, model.image_size)}"
        return self._identity

    def set_frame(self, predictor: SamPredictor, index: int, frame: np.ndarray) -> None:
        identity = self.identity(predictor)
        start = time.perf_counter()
        cached = self._load(index, frame.shape[:2], predictor.model.image_size, identity)
        if cached is not None:
            predictor.set_image_embedding(cached)
        else:
            predictor.set_image(frame)
            self.encode_seconds.append(time.perf_counter() - start)
            self.encoded += 1
            predictor.save_image_embedding(self.path(index), model_name=identity)
        self.seconds += time.perf_counter() - start

    def _load(
        self, index: int, size: tuple[int, int], image_size: int, identity: str
    ) -> ImageEmbedding | None:
        file = self.path(index)
        if not file.is_file():
            return None
        try:
            record = ImageEmbedding.load(file)
        except ValueError:
            return None
        fits = record.model == identity and record.image_size == image_size
        return record if fits and tuple(record.original_size) == tuple(size) else None

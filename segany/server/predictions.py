"""Low-res logits of recent predictions, so a later prompt can refine one (SAM's mask input).

Bounded in bytes (least recently used dropped first); an id that fell out answers 409 upstream.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class StoredPrediction:
    image_id: str
    low_res_logits: np.ndarray  # C x L x L float32, the decoder's outputs before upsampling


class PredictionCache:
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[str, StoredPrediction] = OrderedDict()
        self._held = 0
        self._lock = threading.Lock()

    def put(self, image_id: str, low_res_logits: np.ndarray) -> str:
        """Keep a prediction's logits; returns its new id."""
        prediction_id = uuid.uuid4().hex
        stored = StoredPrediction(image_id, np.ascontiguousarray(low_res_logits, dtype=np.float32))
        with self._lock:
            self._items[prediction_id] = stored
            self._held += stored.low_res_logits.nbytes
            while self._held > self.max_bytes and len(self._items) > 1:
                _, dropped = self._items.popitem(last=False)
                self._held -= dropped.low_res_logits.nbytes
        return prediction_id

    def get(self, prediction_id: str) -> StoredPrediction | None:
        with self._lock:
            stored = self._items.get(prediction_id)
            if stored is not None:
                self._items.move_to_end(prediction_id)
            return stored

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

"""Image embeddings for the server: encoded once per image and model, kept in memory and on disk.

- Memory: an LRU of ready-to-prompt images (a `SamPredictor` holding the embedding and its decoder cache),
  bounded in bytes (embedding plus decoder cache; the newest image always stays).
- Disk: `<dir>/<sha256 of the image bytes>.npz` (`segany.embedding_file`), where `<dir>` is per model
  fingerprint, so reopening an image after a restart skips the encoder.
- Encoding runs in one worker thread, most urgent first: a prompt or an embedding download waiting on an
  image goes before the background pre-encoding of the gallery (`POST /encode`).

Each cached predictor is prepared (`SamPredictor.prepare_decoder`) before anyone sees it and never gets
another image afterwards, so concurrent requests only read it.
"""

from __future__ import annotations

import itertools
import logging
import os
import queue
import threading
from collections import OrderedDict
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

from segany.embedding_file import ImageEmbedding
from segany.modeling.sam import Sam
from segany.predictor import SamPredictor
from segany.server.image_store import ImageEntry, ImageStore

LOGGER = logging.getLogger("segany.server")
URGENT, BACKGROUND = 0, 1


@dataclass(frozen=True)
class EncodedImage:
    """An image ready for prompts: `predictor` (shared read-only) and the embedding record."""

    image_id: str
    predictor: SamPredictor
    embedding: ImageEmbedding
    nbytes: int


class EmbeddingCache:
    """Encode-once cache with a background worker; see the module docstring."""

    def __init__(
        self, sam: Sam, model_name: str, store: ImageStore, disk_dir: Path, memory_bytes: int
    ) -> None:
        self.sam = sam
        self.model_name = model_name
        self.store = store
        self.disk_dir = disk_dir
        self.memory_bytes = memory_bytes
        self._ready: OrderedDict[str, EncodedImage] = OrderedDict()
        self._held = 0
        self._pending: dict[str, Future[EncodedImage]] = {}
        self._failed: dict[str, str] = {}
        self._lock = threading.Lock()
        self._queue: queue.PriorityQueue[tuple[int, int, ImageEntry | None]] = queue.PriorityQueue()
        self._order = itertools.count()
        self._encoder = SamPredictor(sam)  # used by the worker thread only
        self._worker = threading.Thread(target=self._work, name="segany-encoder", daemon=True)
        self._worker.start()

    # ------------------------------------------------------------------ requests
    def state(self, image_id: str) -> str:
        """ "ready" (in memory), "pending" (queued or encoding), "failed", or "absent"."""
        with self._lock:
            if image_id in self._ready:
                return "ready"
            if image_id in self._pending:
                return "pending"
            return "failed" if image_id in self._failed else "absent"

    def failure(self, image_id: str) -> str | None:
        with self._lock:
            return self._failed.get(image_id)

    def request(self, entry: ImageEntry, urgent: bool = False) -> Future[EncodedImage]:
        """A future of the encoded image; queues the encoding unless it is ready or already queued."""
        with self._lock:
            ready = self._ready.get(entry.id)
            if ready is not None:
                self._ready.move_to_end(entry.id)
                done: Future[EncodedImage] = Future()
                done.set_result(ready)
                return done
            future = self._pending.get(entry.id)
            fresh = future is None
            if future is None:
                future = self._pending[entry.id] = Future()
                self._failed.pop(entry.id, None)
        if fresh or urgent:  # an urgent request jumps the queue even when the image was queued before
            self._queue.put((URGENT if urgent else BACKGROUND, next(self._order), entry))
        return future

    def get(self, entry: ImageEntry) -> EncodedImage:
        """The encoded image, waiting for the encoder if needed (re-raises its ImageLoadError)."""
        return self.request(entry, urgent=True).result()

    def close(self, drain: bool = False) -> None:
        """Stop the worker: now (queued encodings are dropped), or with `drain` after the queued ones (a model
        switch: requests already waiting on this cache still get their answer)."""
        self._queue.put((BACKGROUND + 1 if drain else -1, next(self._order), None))

    @property
    def held_bytes(self) -> int:
        with self._lock:
            return self._held

    @property
    def ready_count(self) -> int:
        with self._lock:
            return len(self._ready)

    # ------------------------------------------------------------------ worker
    def _work(self) -> None:
        while True:
            _, _, entry = self._queue.get()
            if entry is None:
                return
            with self._lock:
                future = self._pending.get(entry.id)
            if future is None or future.done() or not future.set_running_or_notify_cancel():
                continue  # a duplicate queue item of an image already encoded
            try:
                encoded = self._encode(entry)
            except Exception as exc:  # noqa: BLE001 - reported to every waiter; the worker keeps going
                with self._lock:
                    self._pending.pop(entry.id, None)
                    self._failed[entry.id] = str(exc)
                future.set_exception(exc)
                continue
            with self._lock:
                self._pending.pop(entry.id, None)
                self._insert(encoded)
            future.set_result(encoded)

    def _encode(self, entry: ImageEntry) -> EncodedImage:
        path = self.disk_dir / f"{entry.sha256}.npz"
        embedding = self._load_from_disk(path, entry)
        if embedding is None:
            self._encoder.set_image(self.store.load_pixels(entry))
            embedding = ImageEmbedding(
                self._encoder.get_image_embedding().cpu().numpy(),
                self._encoder.original_size,
                self._encoder.input_size,
                self.sam.image_size,
                self.model_name,
            )
            self._encoder.reset_image()
            self._save_to_disk(path, embedding)
        predictor = SamPredictor(self.sam)
        predictor.set_image_embedding(embedding)
        return EncodedImage(entry.id, predictor, embedding, predictor.prepare_decoder())

    def _load_from_disk(self, path: Path, entry: ImageEntry) -> ImageEmbedding | None:
        if not path.is_file():
            return None
        try:
            embedding = ImageEmbedding.load(path)
        except (ValueError, OSError) as exc:  # truncated or foreign file: encode again
            LOGGER.warning("ignoring cached embedding %s: %s", path.name, exc)
            return None
        if (
            embedding.original_size != (entry.height, entry.width)
            or embedding.image_size != self.sam.image_size
        ):
            return None
        return embedding

    def _save_to_disk(self, path: Path, embedding: ImageEmbedding) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_name(f".{path.stem}.{os.getpid()}.{threading.get_ident()}.npz")
            embedding.save(temporary)
            os.replace(temporary, path)
        except OSError as exc:  # a full or read-only disk costs speed only
            LOGGER.warning("cannot cache embedding %s: %s", path.name, exc)

    def _insert(self, encoded: EncodedImage) -> None:
        """Add to the memory LRU and evict the least recently used past the byte bound (lock held)."""
        self._ready[encoded.image_id] = encoded
        self._held += encoded.nbytes
        while self._held > self.memory_bytes and len(self._ready) > 1:
            _, evicted = self._ready.popitem(last=False)
            self._held -= evicted.nbytes

"""Image embeddings for the server: encoded once per image and model, kept in memory and on disk.

- Memory: an LRU of ready-to-prompt images (a `SamPredictor` holding the embedding and its decoder cache),
  bounded in bytes (embedding plus decoder cache; the newest image always stays).
- Disk: `<dir>/<sha256 of the image bytes>.npz` (`segany.embedding_file`), where `<dir>` is per model
  fingerprint, so reopening an image after a restart skips the encoder.
- Encoding runs in two worker threads: one for images a request waits on (a prompt, an embedding
  download), at normal priority, and one for the background pre-encoding of the gallery (`POST /encode`),
  at the lowest CPU priority (`segany.server.priority`), so that it neither delays the photo the user
  opened nor slows the hovering on it. An image queued in the background that a request then waits on is
  taken by the urgent worker unless the background one has already started it.
- While the user prompts (`note_activity`: every hover and prediction, and the page's pings when it decodes
  in the browser), a CPU model's background worker pauses at its next encoder block, and goes on ACTIVITY_HOLD_S after
  the last sign of activity. A low CPU priority is not enough: Linux schedules each session (autogroup)
  fairly before it looks at nice values, so a browser started from a desktop session and a server started
  from a terminal got a core each, and the nice-19 encoder halved the browser decoder's CPU (measured:
  benchmarks/MEASUREMENTS.md, "encode-ahead and autogroups").

Each cached predictor is prepared (`SamPredictor.prepare_decoder`) before anyone sees it and never gets
another image afterwards, so concurrent requests only read it.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

from torch import nn
from torch.utils.hooks import RemovableHandle

from segany.embedding_file import ImageEmbedding
from segany.modeling.sam import Sam
from segany.predictor import SamPredictor
from segany.server.image_store import ImageEntry, ImageStore
from segany.server.priority import MAX_NICE, lower_thread_priority
from segany.server.threads import compute_threads, use_compute_threads

LOGGER = logging.getLogger("segany.server")
URGENT, BACKGROUND = 0, 1
ACTIVITY_HOLD_S = 1.0  # encode-ahead resumes this long after the last prompt or activity ping


class ShuttingDown(RuntimeError):
    """The cache was closed (server stopping, or its model switched) before this image was encoded: HTTP 503."""


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
        self._queues: dict[int, queue.Queue[ImageEntry | None]] = {
            URGENT: queue.Queue(),
            BACKGROUND: queue.Queue(),
        }
        self._closed = False
        self._draining = False  # closing after the urgent queue (a model switch), see close()
        self._active_until = 0.0  # time.monotonic() until which the background worker pauses
        self._closing = threading.Event()  # wakes a paused background worker at close
        self.background_pauses = 0  # how many times the background worker paused for activity (for tests)
        self.worker_native_ids: dict[int, int] = {}  # URGENT / BACKGROUND -> OS thread id (for tests)
        # The encoders' intra-op threads, set by each worker for itself (segany.server.threads): the server's
        # count at start, whatever the request threads set for themselves later.
        self.encoder_threads = compute_threads()
        self._workers = [
            threading.Thread(target=self._work, args=(URGENT,), name="segany-encoder", daemon=True),
            threading.Thread(target=self._work, args=(BACKGROUND,), name="segany-encoder-ahead", daemon=True),
        ]
        # The hooks tell the workers apart: installed before they start.
        self._stop_hooks = self._install_stop_hooks()
        for worker in self._workers:
            worker.start()

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
            if self._closed or self._draining:
                refused: Future[EncodedImage] = Future()
                refused.set_exception(ShuttingDown("the server is shutting down"))
                return refused
            future = self._pending.get(entry.id)
            fresh = future is None
            if future is None:
                future = self._pending[entry.id] = Future()
                self._failed.pop(entry.id, None)
        if fresh or urgent:  # an urgent request jumps the queue even when the image was queued before
            self._queues[URGENT if urgent else BACKGROUND].put(entry)
        return future

    def note_activity(self, hold_s: float = ACTIVITY_HOLD_S) -> None:
        """The user is prompting: background encoding pauses (at its next encoder block) for `hold_s`."""
        self._active_until = max(self._active_until, time.monotonic() + hold_s)

    def get(self, entry: ImageEntry) -> EncodedImage:
        """The encoded image, waiting for the encoder if needed (re-raises its ImageLoadError)."""
        return self.request(entry, urgent=True).result()

    def close(self, timeout_s: float = 60.0, drain: bool = False) -> None:
        """Stop the workers: an encoding in progress stops at its next encoder block, every waiter gets
        ShuttingDown, and the workers are joined (a thread left inside torch aborts the interpreter's exit).

        With `drain` (a model switch) nothing is cut short and nothing waits: new requests are refused, the
        images a request already waits on (the urgent queue) are still encoded and answered, the old model's
        encode-ahead is dropped, and the workers then end by themselves."""
        if drain:
            with self._lock:
                self._draining = True
            for pending in self._queues.values():
                pending.put(None)  # behind what is queued
            return
        with self._lock:
            self._closed = True
        self._closing.set()
        for pending in self._queues.values():
            pending.put(None)
        for worker in self._workers:
            if worker is not threading.current_thread():
                worker.join(timeout_s)
        for handle in self._stop_hooks:
            handle.remove()
        self._stop_hooks = []

    def _install_stop_hooks(self) -> list[RemovableHandle]:
        """Forward pre-hooks on the image encoder's blocks that stop our workers' passes once closed, and
        hold the background worker's pass while the user is active (`note_activity`).

        Other threads using the same model (everything jobs) pass through them untouched.
        """

        def stop_if_closed(module: nn.Module, args: object) -> None:
            current = threading.current_thread()
            if current not in self._workers:
                return
            if current is self._workers[BACKGROUND]:
                self._pause_while_active()
            if self._closed:
                raise ShuttingDown("the server is shutting down")

        encoder = self.sam.image_encoder
        blocks = [
            child
            for module in encoder.modules()
            if isinstance(module, (nn.ModuleList, nn.Sequential))
            for child in module
        ] or list(encoder.children())
        return [block.register_forward_pre_hook(stop_if_closed) for block in blocks]

    def _pause_while_active(self) -> None:
        if self.sam.device.type != "cpu":
            return  # an accelerator's encoder takes no CPU from the user's hovers
        paused = False
        while not self._closed:
            remaining = self._active_until - time.monotonic()
            if remaining <= 0:
                return
            if not paused:
                paused = True
                self.background_pauses += 1
            self._closing.wait(remaining)

    @property
    def held_bytes(self) -> int:
        with self._lock:
            return self._held

    @property
    def ready_count(self) -> int:
        with self._lock:
            return len(self._ready)

    # ------------------------------------------------------------------ worker
    def _work(self, priority: int) -> None:
        self.worker_native_ids[priority] = threading.get_native_id()
        if priority == BACKGROUND:
            lower_thread_priority(MAX_NICE)  # before this thread's first torch operation
        use_compute_threads(self.encoder_threads)
        encoder = SamPredictor(self.sam)  # this thread's own (the image encoder's workspace is per pass)
        pending = self._queues[priority]
        while True:
            entry = pending.get()
            if entry is None or self._closed:
                # Draining: the urgent worker answers what is left once its queue is done; the background one
                # must not, or it would fail images still queued for the urgent worker.
                if not (self._draining and priority == BACKGROUND):
                    self._fail_waiters()
                return
            if self._draining and priority == BACKGROUND:
                continue  # the old model's encode-ahead is dropped (its futures fail when the urgent queue ends)
            with self._lock:  # claimed under the lock: the other worker may hold the same image
                future = self._pending.get(entry.id)
                if future is None or future.done() or future.running():
                    continue  # a duplicate queue item of an image encoded, or being encoded by the other worker
                if not future.set_running_or_notify_cancel():
                    continue
            try:
                encoded = self._encode(entry, encoder)
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

    def _encode(self, entry: ImageEntry, encoder: SamPredictor) -> EncodedImage:
        path = self.disk_dir / f"{entry.sha256}.npz"
        embedding = self._load_from_disk(path, entry)
        if embedding is None:
            encoder.set_image(self.store.load_pixels(entry))
            embedding = ImageEmbedding(
                encoder.get_image_embedding().cpu().numpy(),
                encoder.original_size,
                encoder.input_size,
                self.sam.image_size,
                self.model_name,
            )
            encoder.reset_image()
            self._save_to_disk(path, embedding)
        predictor = SamPredictor(self.sam)
        predictor.set_image_embedding(embedding)
        return EncodedImage(entry.id, predictor, embedding, predictor.prepare_decoder())

    def _fail_waiters(self) -> None:
        """At close: every image not being encoded answers its waiters (else they would wait forever)."""
        with self._lock:
            waiting = [(key, f) for key, f in self._pending.items() if not f.running() and not f.done()]
            for key, _ in waiting:
                del self._pending[key]
        for _, future in waiting:
            if future.set_running_or_notify_cancel():
                future.set_exception(ShuttingDown("the server is shutting down"))

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

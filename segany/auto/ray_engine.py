"""The Ray engine: Ray Data reads and decodes images in tasks, and a pool of model actors segments them.

Pipeline: ``from_items`` (one row per pending image) -> ``map(decode)`` in tasks -> ``map_batches`` with a
callable class (one model per actor; ``workers`` actors, each with ``cpus_per_worker`` CPUs and
``gpus_per_worker`` GPUs) that stages every image's SA-1B json into the shared output folder and returns
small rows. An actor gets ``batch_size`` images per call; with encoder batching (by default where the model
runs on CUDA) it encodes them in one forward pass, then prompts each. The driver streams those rows, shows progress, and commits each shard when its last image is in.

Fault tolerance comes from Ray: a task or actor lost with its node is retried elsewhere; a retried image
rewrites the same bytes under the same name (atomic rename), and the driver counts each image once. If the
driver dies, the job's tasks die with it; the next run skips what was committed or staged. The output
folder must be visible to every node (the same machine, or a shared filesystem).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import numpy as np

from segany.auto.model_source import ModelSource
from segany.auto.plan import RunPlan, ShardTracker
from segany.auto.settings import RunSettings, model_fingerprint
from segany.auto.store import ShardStore
from segany.auto.work import ImageRow, ImageTask, ImageWorker, run_image

# Logical CPUs a decode task reserves by default: none. Decoding is light next to the model, and Ray Data
# schedules no task at all while a model pool holds every CPU of the cluster (a 2-core machine with 2
# workers would wait forever). Tasks that reserve nothing are not bounded by CPUs, so their number is bounded
# instead (DECODE_TASKS_PER_WORKER per model actor): unbounded, Ray started a worker process per task.
DECODE_CPUS = 0.0
DECODE_TASKS_PER_WORKER = 2
MAX_BLOCKS = 4096


def import_ray() -> Any:
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise ImportError(
            "the Ray engine needs Ray Data: pip install 'segany[scale]' (or pip install 'ray[data]')"
        ) from exc
    return ray


def run_ray(
    plan: RunPlan,
    tracker: ShardTracker,
    store: ShardStore,
    source: ModelSource,
    settings: RunSettings,
    on_row: Callable[[ImageRow], None],
    *,
    address: str | None = None,
    workers: int = 1,
    cpus_per_worker: float = 1.0,
    gpus_per_worker: float = 0.0,
    batch_size: int = 1,
    decode_cpus: float = DECODE_CPUS,
    decode_tasks: int | None = None,
    worker_class: type[ImageWorker] = ImageWorker,
    encoder_batch: bool | None = None,
) -> None:
    """Do the plan's pending images on a Ray cluster (``address``; None: the one already connected, else a
    new local one). ``worker_class`` builds the per-actor worker (an ImageWorker subclass may add behaviour);
    ``decode_tasks`` bounds the decode tasks in flight (default 2 per worker), ``decode_cpus`` is what each
    reserves. ``encoder_batch``: encode each call's images in one pass (None: when the actor's model is on
    CUDA; batched kernels may round differently from single images, so CPU runs keep single passes and
    their byte-identity with the local engine).
    """
    for name, value in (("workers", workers), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    tracker.commit_ready()
    todo = plan.todo
    if not todo:
        return
    ray = import_ray()
    _connect(ray, address)
    items = [_task_row(task) for task in todo]
    dataset = ray.data.from_items(items, override_num_blocks=min(len(items), MAX_BLOCKS))
    decode_pool = ray.data.TaskPoolStrategy(size=decode_tasks or DECODE_TASKS_PER_WORKER * workers)
    dataset = dataset.map(_decode_row, num_cpus=decode_cpus, compute=decode_pool)
    dataset = dataset.map_batches(
        _SegmentActor,
        fn_constructor_kwargs={
            "source": source,
            "settings": settings,
            "out": str(store.out),
            "identity": store.identity,
            "worker_class": worker_class,
            "encoder_batch": encoder_batch,
        },
        batch_size=batch_size,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=workers),
        num_cpus=cpus_per_worker,
        num_gpus=gpus_per_worker,
    )
    for result in dataset.iter_rows():
        row = ImageRow(
            str(result["id"]),
            int(result["image_id"]),
            str(result["uri"]),
            int(result["width"]),
            int(result["height"]),
            int(result["masks"]),
            str(result["error"]) or None,
        )
        if tracker.add(str(result["shard"]), row):
            on_row(row)


def _connect(ray: Any, address: str | None) -> None:
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # the driver shows its own bar, per image
    context.print_on_execution_start = False
    # Images in input order: shards then complete one after another and commit early, instead of all of them
    # filling up together and committing at the end (a killed driver would then leave every shard unfinished).
    context.execution_options.preserve_order = True
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    if ray.is_initialized():
        return
    ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING, include_dashboard=False)


def _task_row(task: ImageTask) -> dict[str, Any]:
    return {
        "id": task.id,
        "uri": task.uri,
        "image_id": task.image_id,
        "shard": task.shard,
        "boxes": json.dumps([list(box) for box in task.boxes]),
    }


def _decode_row(row: dict[str, Any]) -> dict[str, Any]:
    """A Ray task: read and decode one image; the pixels travel as raw bytes (H x W x 3 uint8)."""
    from segany.auto.work import decode_image

    image, error = decode_image(str(row["uri"]))
    height, width = (0, 0) if image is None else image.shape[:2]
    pixels = b"" if image is None else image.tobytes()
    return {**row, "pixels": pixels, "height": int(height), "width": int(width), "error": error or ""}


class _SegmentActor:
    """One model per actor; each call segments a batch of decoded images and stages their outputs."""

    def __init__(
        self,
        source: ModelSource,
        settings: RunSettings,
        out: str,
        identity: dict[str, Any],
        worker_class: type[ImageWorker],
        encoder_batch: bool | None = None,
    ) -> None:
        from pathlib import Path

        model, _ = source.load()
        fingerprint = model_fingerprint(model)
        if fingerprint != identity["model_fingerprint"]:
            raise RuntimeError(
                f"the model built on this node ({source}) differs from the driver's (fingerprint "
                f"{fingerprint[:12]} vs {identity['model_fingerprint'][:12]}): give every node the same weights"
            )
        self.worker = worker_class(model, settings)
        self.store = ShardStore(Path(out), identity)
        self.encoder_batch = model.device.type == "cuda" if encoder_batch is None else encoder_batch

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list[Any]]:
        columns: dict[str, list[Any]] = {
            key: [] for key in ("shard", "id", "image_id", "uri", "width", "height", "masks", "error")
        }
        tasks, images, errors = [], [], []
        for index in range(len(batch["id"])):
            tasks.append(
                ImageTask(
                    str(batch["id"][index]),
                    str(batch["uri"][index]),
                    int(batch["image_id"][index]),
                    str(batch["shard"][index]),
                    tuple(tuple(box) for box in json.loads(str(batch["boxes"][index]))),
                )
            )
            errors.append(str(batch["error"][index]) or None)
            image = None
            if errors[-1] is None:
                shape = (int(batch["height"][index]), int(batch["width"][index]), 3)
                image = np.frombuffer(batch["pixels"][index], dtype=np.uint8).reshape(shape)
            images.append(image)
        embeddings = self._embeddings(images)
        for task, image, error, embedding in zip(tasks, images, errors, embeddings):
            row = run_image(self.worker, task, image, error, self.store.stage, embedding)
            for key, value in (
                ("shard", task.shard),
                *row.to_dict().items(),
            ):
                columns[key].append("" if value is None else value)
        return columns

    def _embeddings(self, images: list[np.ndarray | None]) -> list[Any]:
        """One embedding per decoded image from a single encoder pass (encoder batching), else Nones."""
        decoded = [image for image in images if image is not None]
        if not self.encoder_batch or len(decoded) < 2:
            return [None] * len(images)
        try:
            computed = iter(self.worker.embeddings(decoded))
        except Exception:  # noqa: BLE001 - e.g. out of memory for the batch: each image is encoded alone
            return [None] * len(images)
        return [None if image is None else next(computed) for image in images]

"""The per-image work both engines run: decode an image, segment it, and stage its SA-1B json.

``decode_image`` runs where images are read (a Ray task, or the local loop); ``ImageWorker`` holds the model
(a Ray actor, or the local process) and turns pixels into the image's SA-1B document, which
``ShardStore.stage`` writes. Any failure of one image (unreadable file, bad boxes, out of memory) becomes that
image's error row; the run goes on.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from segany.auto.boxes import Box
from segany.auto.settings import RunSettings

if TYPE_CHECKING:
    from segany.embedding_file import ImageEmbedding
    from segany.modeling.sam import Sam

OUTPUT_MODE = "coco_rle"
BOXES_PER_PASS = 16  # boxes decoded together: full-size logits of 16 masks of a 12 MP photo are ~0.8 GB


@dataclass(frozen=True)
class ImageTask:
    """One image to do: its id, where to read it, its SA-1B image_id, its shard and (boxes mode) its boxes."""

    id: str
    uri: str
    image_id: int
    shard: str
    boxes: tuple[Box, ...] = ()


@dataclass(frozen=True)
class ImageRow:
    """The result of one image as the index and the done markers record it (no mask data)."""

    id: str
    image_id: int
    uri: str
    width: int
    height: int
    masks: int
    error: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "image_id": self.image_id,
            "uri": self.uri,
            "width": self.width,
            "height": self.height,
            "masks": self.masks,
            "error": self.error,
        }

    @classmethod
    def from_dict(cls, row: dict[str, Any]) -> ImageRow:
        return cls(
            str(row["id"]),
            int(row["image_id"]),
            str(row["uri"]),
            int(row["width"]),
            int(row["height"]),
            int(row["masks"]),
            None if row.get("error") is None else str(row["error"]),
        )


def decode_image(uri: str) -> tuple[np.ndarray | None, str | None]:
    """(H x W x 3 uint8 RGB, None), or (None, a one-line error) when the image cannot be read."""
    from segany.auto.sources import read_image

    try:
        return read_image(uri), None
    except Exception as exc:  # noqa: BLE001 - any failure of one file is that file's error row
        return None, describe_error(exc)


def describe_error(exc: BaseException) -> str:
    from segany.io import ImageLoadError

    if isinstance(exc, ImageLoadError):  # already "cannot load image <uri>: <reason>"
        return str(exc)
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class ImageWorker:
    """Segments images with one model: a point grid (everything mode) or the given boxes per image.

    Args:
        model: the SAM model, in eval mode on its device.
        settings: the run's settings (mode and generator arguments).
    """

    def __init__(self, model: Sam, settings: RunSettings) -> None:
        from segany.amg import SamAutomaticMaskGenerator
        from segany.predictor import SamPredictor

        self.settings = settings
        self.model = model
        if settings.mode == "grid":
            self.generator: Any = SamAutomaticMaskGenerator(
                model, **settings.generator, output_mode=OUTPUT_MODE
            )
        else:
            self.predictor = SamPredictor(model)

    def embeddings(self, images: Sequence[np.ndarray]) -> list[ImageEmbedding]:
        """Whole-image embeddings of several images from one batched encoder pass (``SamPredictor
        .set_image_batch``), for ``document``. Batched kernels may round differently from one image at a
        time, so runs batch only where asked (the Ray engine: by default on CUDA)."""
        from segany.predictor import SamPredictor

        predictor = SamPredictor(self.model)
        predictor.set_image_batch(list(images))
        return predictor.image_embeddings()

    def document(
        self, task: ImageTask, image: np.ndarray, embedding: ImageEmbedding | None = None
    ) -> dict[str, Any]:
        """The image's SA-1B json document (annotation ids 1, 2, ... in the generator's order).

        ``embedding``: the image's embedding by this model (from ``embeddings``), instead of encoding it here.
        """
        from segany.formats import ImageInfo
        from segany.formats.sa1b import sa1b_document

        records = (
            self.generator.generate(image, embedding=embedding)
            if self.settings.mode == "grid"
            else self._box_records(task, image, embedding)
        )
        info = ImageInfo(
            task.id, width=int(image.shape[1]), height=int(image.shape[0]), image_id=task.image_id
        )
        return sa1b_document(records, info)

    def _box_records(
        self, task: ImageTask, image: np.ndarray, embedding: ImageEmbedding | None
    ) -> list[dict[str, Any]]:
        """One record per box: the single-mask output, its predicted IoU and stability, XYWH bbox of the mask."""
        import torch

        from segany.amg import calculate_stability_score
        from segany.formats import mask_bbox_xywh, mask_to_coco_rle

        if not task.boxes:
            return []
        height, width = image.shape[:2]
        threshold = float(self.model.mask_threshold)
        records = []
        if embedding is not None:
            self.predictor.set_image_embedding(embedding)
        else:
            self.predictor.set_image(image)
        try:
            for start in range(0, len(task.boxes), BOXES_PER_PASS):
                boxes = np.asarray(task.boxes[start : start + BOXES_PER_PASS], dtype=np.float64)  # N x 4 XYXY
                logits, scores, _ = self.predictor.predict_boxes(
                    boxes, multimask_output=False, return_logits=True
                )
                logits_t = torch.from_numpy(np.ascontiguousarray(logits[:, 0]))  # N x H x W, original frame
                stability = calculate_stability_score(logits_t, threshold, 1.0).tolist()
                for index in range(len(boxes)):
                    mask = logits[index, 0] > threshold
                    records.append(
                        {
                            "segmentation": mask_to_coco_rle(mask),
                            "area": int(mask.sum()),
                            "bbox": mask_bbox_xywh(mask),
                            "predicted_iou": float(scores[index, 0]),
                            "stability_score": _finite_or_zero(stability[index]),
                            "crop_box": [0, 0, int(width), int(height)],
                            "point_coords": None,
                        }
                    )
        finally:
            self.predictor.reset_image()
        return records


def run_image(
    worker: ImageWorker,
    task: ImageTask,
    image: np.ndarray | None,
    error: str | None,
    stage: Callable[[ImageTask, bytes | None, ImageRow], None],
    embedding: ImageEmbedding | None = None,
) -> ImageRow:
    """Segment one decoded image (or carry its decode error) and stage the outcome; returns its row.

    ``embedding``: the image's embedding when the caller encoded a batch of images at once.
    """
    document: dict[str, Any] | None = None
    width = height = 0
    if image is not None:
        height, width = int(image.shape[0]), int(image.shape[1])
        try:
            document = (
                worker.document(task, image)
                if embedding is None
                else worker.document(task, image, embedding=embedding)
            )
        except Exception as exc:  # noqa: BLE001 - one image's failure is its error row, the shard goes on
            error = describe_error(exc)
    masks = 0 if document is None else len(document["annotations"])
    row = ImageRow(
        task.id, task.image_id, task.uri, width, height, masks, error if document is None else None
    )
    data = None if document is None else json.dumps(document, allow_nan=False).encode()
    stage(task, data, row)
    return row


def tasks_of(entries: Sequence[Any], shard: str, boxes: dict[str, list[Box]] | None) -> list[ImageTask]:
    """ImageTasks for manifest entries of one shard (boxes looked up by id in boxes mode)."""
    return [
        ImageTask(entry.id, entry.uri, entry.image_id, shard, tuple(boxes.get(entry.id, ())) if boxes else ())
        for entry in entries
    ]


def _finite_or_zero(value: float) -> float:
    """A stability score of an empty mask is NaN (0 / 0); json has no NaN, and such a mask is unstable."""
    return value if np.isfinite(value) else 0.0

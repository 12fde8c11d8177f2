"""SamAutomaticMaskGenerator: everything mode, with the official output and a streaming full-resolution stage.

Pipeline per crop (crop layer 0 is the whole image): encode the crop; for each batch of grid points run the
decoder only up to its low-res logits; keep candidates whose predicted IoU passes (before any upsampling);
stream the survivors through :func:`segany.amg.full_res.masks_from_low_res` (exact upsampling, stability
filter, binarisation, crop-edge filter, RLE); NMS by predicted IoU. Then NMS across crops preferring smaller
crops, optional small-region clean-up with another NMS, and the optional ``max_mask_fraction`` filter.
Masks stay RLE between stages; only the requested output format is decoded at the end.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from segany.amg.full_res import CropGeometry, MaskRule, masks_from_low_res
from segany.amg.grids import build_all_layer_point_grids, generate_crop_boxes
from segany.amg.mask_data import MaskData
from segany.amg.nms import batched_nms
from segany.amg.presets import get_preset
from segany.amg.rle import coco_encode_rle, rle_to_mask
from segany.amg.settings import GeneratorSettings
from segany.amg.small_regions import clean_small_regions
from segany.embedding_file import ImageEmbedding
from segany.io.image_convert import as_rgb_uint8
from segany.modeling.sam import Sam
from segany.predictor import SamPredictor

# Decoder activations of one points batch (points_per_batch=None), in bytes. The decoder holds a few
# copies of the C x h x w image embedding per point (~20 MB each point for SAM's 256 x 64 x 64).
DECODER_BATCH_BYTES = 512 * 2**20
_DECODER_COPIES_PER_POINT = 8
_MAX_AUTO_BATCH = 64


def auto_points_per_batch(model: Sam) -> int:
    """Points per decoder batch keeping its activations within DECODER_BATCH_BYTES (1 to 64; 16 for SAM).

    The image size does not enter: full-resolution work is streamed in groups sized from the image
    (:func:`segany.amg.full_res.group_size`), so a batch's memory depends on the decoder alone.
    """
    channels = model.prompt_encoder.embed_dim
    grid_h, grid_w = model.prompt_encoder.image_embedding_size
    per_point = _DECODER_COPIES_PER_POINT * channels * grid_h * grid_w * 4
    return int(min(_MAX_AUTO_BATCH, max(1, DECODER_BATCH_BYTES // per_point)))


class SamAutomaticMaskGenerator:
    """Masks for everything in an image from a grid of point prompts (drop-in for the official class).

    Args:
        model: the SAM model.
        points_per_side: points per image side (points_per_side ** 2 in all); None when point_grids is given.
        points_per_batch: points per decoder pass; None chooses it from the model (see auto_points_per_batch).
        pred_iou_thresh: keep masks whose predicted IoU is > this (no filter at 0).
        stability_score_thresh: keep masks whose stability score is >= this (no filter at 0).
        stability_score_offset: logit offset of the stability score.
        box_nms_thresh: box IoU of the NMS within a crop.
        crop_n_layers: crop layers after the whole image; layer i has (2 ** i) ** 2 crops.
        crop_nms_thresh: box IoU of the NMS across crops.
        crop_overlap_ratio: overlap of the first-layer crops, as a fraction of the short image side.
        crop_n_points_downscale_factor: layer i uses points_per_side / factor ** i points per side.
        point_grids: explicit N x 2 normalised (x, y) grids, one per crop layer (instead of points_per_side).
        min_mask_region_area: fill holes / remove islands smaller than this many pixels (0: off).
        output_mode: "binary_mask" (H x W bool), "uncompressed_rle" or "coco_rle" (pycocotools-compatible).
        max_mask_fraction: drop masks whose area is >= this fraction of the image (None: off; paper: 0.95).
    """

    def __init__(
        self,
        model: Sam,
        points_per_side: int | None = 32,
        points_per_batch: int | None = 64,
        pred_iou_thresh: float = 0.88,
        stability_score_thresh: float = 0.95,
        stability_score_offset: float = 1.0,
        box_nms_thresh: float = 0.7,
        crop_n_layers: int = 0,
        crop_nms_thresh: float = 0.7,
        crop_overlap_ratio: float = 512 / 1500,
        crop_n_points_downscale_factor: int = 1,
        point_grids: list[np.ndarray] | None = None,
        min_mask_region_area: int = 0,
        output_mode: str = "binary_mask",
        max_mask_fraction: float | None = None,
    ) -> None:
        settings = GeneratorSettings(
            points_per_side=points_per_side,
            points_per_batch=points_per_batch,
            pred_iou_thresh=pred_iou_thresh,
            stability_score_thresh=stability_score_thresh,
            stability_score_offset=stability_score_offset,
            box_nms_thresh=box_nms_thresh,
            crop_n_layers=crop_n_layers,
            crop_nms_thresh=crop_nms_thresh,
            crop_overlap_ratio=crop_overlap_ratio,
            crop_n_points_downscale_factor=crop_n_points_downscale_factor,
            point_grids=point_grids,
            min_mask_region_area=min_mask_region_area,
            output_mode=output_mode,
            max_mask_fraction=max_mask_fraction,
        )
        if not isinstance(model, Sam):
            raise TypeError(f"model must be a segany Sam model, got {type(model).__name__}")
        self.settings = settings  # the one copy of the settings; the official attribute names read it
        self.predictor = SamPredictor(model)
        self._auto_points_per_batch = auto_points_per_batch(model)
        if settings.point_grids is not None:
            self.point_grids = list(settings.point_grids)
        else:
            assert settings.points_per_side is not None  # GeneratorSettings holds exactly one of the two
            self.point_grids = build_all_layer_point_grids(
                settings.points_per_side, settings.crop_n_layers, settings.crop_n_points_downscale_factor
            )

    # The official attribute names, read-only views of `settings` (code written for the official class reads
    # them; to change a setting, build a new generator).
    @property
    def points_per_batch(self) -> int:
        return self.settings.points_per_batch or self._auto_points_per_batch

    @property
    def pred_iou_thresh(self) -> float:
        return self.settings.pred_iou_thresh

    @property
    def stability_score_thresh(self) -> float:
        return self.settings.stability_score_thresh

    @property
    def stability_score_offset(self) -> float:
        return self.settings.stability_score_offset

    @property
    def box_nms_thresh(self) -> float:
        return self.settings.box_nms_thresh

    @property
    def crop_n_layers(self) -> int:
        return self.settings.crop_n_layers

    @property
    def crop_nms_thresh(self) -> float:
        return self.settings.crop_nms_thresh

    @property
    def crop_overlap_ratio(self) -> float:
        return self.settings.crop_overlap_ratio

    @property
    def crop_n_points_downscale_factor(self) -> int:
        return self.settings.crop_n_points_downscale_factor

    @property
    def min_mask_region_area(self) -> float:
        return self.settings.min_mask_region_area

    @property
    def output_mode(self) -> str:
        return self.settings.output_mode

    @property
    def max_mask_fraction(self) -> float | None:
        return self.settings.max_mask_fraction

    @classmethod
    def from_preset(cls, model: Sam, name: str, **overrides: Any) -> SamAutomaticMaskGenerator:
        """A generator with the preset ``name`` (see :mod:`segany.amg.presets`), then ``overrides`` applied."""
        return cls(model, **{**get_preset(name), **overrides})

    # ------------------------------------------------------------------ public entry points
    @torch.inference_mode()
    def generate(
        self,
        image: Any,
        progress: Callable[[float], None] | None = None,
        embedding: ImageEmbedding | None = None,
    ) -> list[dict[str, Any]]:
        """Masks of everything in ``image`` (H x W x 3 uint8 RGB; other forms as SamPredictor.set_image).

        Args:
            progress: called after every decoder batch with the fraction of batches done (0..1]; an exception
                it raises stops the generation and propagates (how a caller cancels).
            embedding: the embedding of the whole ``image`` by this model (e.g. from a cache), used instead of
                encoding the whole-image crop again.

        Returns:
            One dict per mask, as the official generator: ``segmentation`` (per output_mode), ``area`` (int),
            ``bbox`` (XYWH ints), ``predicted_iou``, ``point_coords`` ([[x, y]] image pixels),
            ``stability_score`` and ``crop_box`` (XYWH ints). Order: as the official (NMS order).
        """
        return self.to_records(self.generate_mask_data(image, progress, embedding))

    @torch.inference_mode()
    def generate_mask_data(
        self,
        image: Any,
        progress: Callable[[float], None] | None = None,
        embedding: ImageEmbedding | None = None,
    ) -> MaskData:
        """Like :meth:`generate`, as a MaskData of RLEs and arrays (for programs; nothing decoded)."""
        rgb = as_rgb_uint8(image, "RGB")
        if embedding is not None and tuple(embedding.original_size) != rgb.shape[:2]:
            raise ValueError(
                f"embedding was computed for a {embedding.original_size[0]}x{embedding.original_size[1]} (HxW) "
                f"image, got a {rgb.shape[0]}x{rgb.shape[1]} image"
            )
        data = self._generate_masks(rgb, _BatchCounter(progress), embedding)
        if self.min_mask_region_area > 0:
            nms_thresh = max(self.box_nms_thresh, self.crop_nms_thresh)
            data = clean_small_regions(data, self.min_mask_region_area, nms_thresh)
        if self.max_mask_fraction is not None and len(data):
            height, width = data.image_size
            data = data.select(data.areas() < self.max_mask_fraction * height * width)
        return data

    def to_records(self, data: MaskData) -> list[dict[str, Any]]:
        """MaskData -> the official list of mask records, segmentations in ``output_mode``."""
        height, width = data.image_size
        areas = data.areas()
        records = []
        for index, counts in enumerate(data.rles):
            x0, y0, x1, y1 = data.boxes[index].tolist()
            cx0, cy0, cx1, cy1 = data.crop_boxes[index].tolist()
            records.append(
                {
                    "segmentation": self._segmentation(counts, height, width),
                    "area": int(areas[index]),
                    "bbox": [x0, y0, x1 - x0, y1 - y0],
                    "predicted_iou": float(data.iou_preds[index]),
                    "point_coords": [data.points[index].tolist()],
                    "stability_score": float(data.stability[index]),
                    "crop_box": [cx0, cy0, cx1 - cx0, cy1 - cy0],
                }
            )
        return records

    # ------------------------------------------------------------------ pipeline
    def _segmentation(self, counts: np.ndarray, height: int, width: int) -> Any:
        if self.output_mode == "binary_mask":
            return rle_to_mask({"size": [height, width], "counts": counts})
        if self.output_mode == "coco_rle":
            return coco_encode_rle({"size": [height, width], "counts": counts})
        return {"size": [height, width], "counts": counts.tolist()}

    def _generate_masks(
        self, image: np.ndarray, counter: _BatchCounter, embedding: ImageEmbedding | None
    ) -> MaskData:
        image_size = (int(image.shape[0]), int(image.shape[1]))
        crop_boxes, layer_idxs = generate_crop_boxes(image_size, self.crop_n_layers, self.crop_overlap_ratio)
        work = [
            ((x0, y0, x1, y1), layer)
            for (x0, y0, x1, y1), layer in zip(crop_boxes, layer_idxs)
            if x1 > x0 and y1 > y0  # empty / inverted crops of tiny images (see generate_crop_boxes)
        ]
        counter.total = sum(-(-len(self.point_grids[layer]) // self.points_per_batch) for _, layer in work)
        parts = []
        for crop_box, layer in work:
            whole = crop_box == (0, 0, image_size[1], image_size[0])
            parts.append(self._process_crop(image, crop_box, layer, counter, embedding if whole else None))
        data = MaskData.concat(parts, image_size)
        if len(crop_boxes) > 1 and len(data) > 0:
            # Remove duplicates between crops, preferring masks from smaller crops (score = 1 / crop area).
            crops = data.crop_boxes
            crop_areas = ((crops[:, 2] - crops[:, 0]) * (crops[:, 3] - crops[:, 1])).astype(np.float32)
            scores = np.float32(1.0) / crop_areas
            keep = batched_nms(
                torch.from_numpy(data.boxes).float(),
                torch.from_numpy(scores),
                torch.zeros(len(data), dtype=torch.int64),
                iou_threshold=self.crop_nms_thresh,
            )
            data = data.select(keep.numpy())
        return data

    def _process_crop(
        self,
        image: np.ndarray,
        crop_box: tuple[int, int, int, int],
        layer: int,
        counter: _BatchCounter,
        embedding: ImageEmbedding | None,
    ) -> MaskData:
        x0, y0, x1, y1 = crop_box
        if embedding is not None:
            self.predictor.set_image_embedding(embedding)
        else:
            self.predictor.set_image(image[y0:y1, x0:x1])
        crop_h, crop_w = y1 - y0, x1 - x0
        geometry = CropGeometry(
            crop_box=crop_box,
            image_size=(int(image.shape[0]), int(image.shape[1])),
            input_size=self.predictor.input_size,
            model_input_size=self.predictor.model.image_size,
        )
        points = self.point_grids[layer] * np.array([[crop_w, crop_h]])  # N x 2 (x, y), crop pixels
        parts = []
        for start in range(0, len(points), self.points_per_batch):
            parts.append(self._process_batch(points[start : start + self.points_per_batch], geometry))
            counter.step()
        self.predictor.reset_image()
        data = MaskData.concat(parts, geometry.image_size)

        # Duplicates within the crop: NMS by predicted IoU, boxes in the crop frame.
        keep = batched_nms(
            torch.from_numpy(data.boxes).float(),
            torch.from_numpy(data.iou_preds),
            torch.zeros(len(data), dtype=torch.int64),
            iou_threshold=self.box_nms_thresh,
        )
        data = data.select(keep.numpy())
        # To the image frame (the RLEs already are).
        data.boxes = data.boxes + np.array([x0, y0, x0, y0], dtype=np.int64)
        data.points = data.points + np.array([x0, y0], dtype=np.float64)
        data.crop_boxes = np.tile(np.array(crop_box, dtype=np.int64), (len(data), 1))
        return data

    def _process_batch(self, points: np.ndarray, geometry: CropGeometry) -> MaskData:
        """Decoder on one batch of points (crop pixels), then the streaming full-resolution stage."""
        coords = self.predictor.transform.apply_coords(points, geometry.crop_size)
        coords_t = torch.as_tensor(coords, dtype=torch.float32, device=self.predictor.device)[:, None, :]
        labels = torch.ones(coords_t.shape[:2], dtype=torch.int64, device=coords_t.device)
        low_res, iou_preds = self.predictor.predict_low_res_torch(coords_t, labels, multimask_output=True)
        per_point = low_res.shape[1]
        low_res = low_res.flatten(0, 1).float().cpu()  # (B * 3) x h x w
        iou_preds = iou_preds.flatten(0, 1).float().cpu()  # B * 3
        candidates = torch.arange(iou_preds.shape[0])
        if self.pred_iou_thresh > 0.0:
            candidates = candidates[iou_preds > self.pred_iou_thresh]
        rule = MaskRule(
            mask_threshold=float(self.predictor.model.mask_threshold),
            offset=self.stability_score_offset,
            min_stability=self.stability_score_thresh if self.stability_score_thresh > 0.0 else None,
        )
        masks = masks_from_low_res(low_res[candidates], geometry, rule)
        chosen = candidates[torch.from_numpy(masks.kept)].numpy()
        return MaskData(
            image_size=geometry.image_size,
            rles=masks.rles,
            boxes=masks.boxes,  # crop frame until the crop's NMS is done
            iou_preds=iou_preds.numpy()[chosen],
            stability=masks.stability,
            points=np.repeat(points, per_point, axis=0)[chosen],
            crop_boxes=np.zeros((len(chosen), 4), dtype=np.int64),
        )


class _BatchCounter:
    """Counts decoder batches and reports the fraction done to an optional callback."""

    def __init__(self, callback: Callable[[float], None] | None) -> None:
        self.callback = callback
        self.total = 0
        self.done = 0

    def step(self) -> None:
        self.done += 1
        if self.callback is not None:
            self.callback(min(1.0, self.done / max(1, self.total)))

"""OnnxPredictor: SamPredictor's numpy API on ONNX Runtime, with no torch anywhere (numpy, Pillow, onnxruntime).

    predictor = OnnxPredictor("exports/vit_b")          # a directory written by `export_onnx`
    predictor.set_image(image)                         # H x W x 3 uint8 RGB (or BGR, PIL, grayscale, ...)
    masks, scores, logits = predictor.predict(point_coords=np.array([[500, 375]]), point_labels=np.array([1]))

The decoder runs `decoder_lowres.onnx` (256 x 256 logits only); the upscaling to the original size happens
outside ONNX Runtime (OpenCV when installed, else Pillow/numpy), which is several times faster than the
in-graph resize of the official contract. Prompts without a mask input run the cached pair instead when the
export has it (fp32): `decoder_prep.onnx` once per image, then per prompt `decoder_lowrank.onnx` (exact
low-rank form) or `decoder_dense.onnx` (dense form, exported for narrow decoders).
Embedding files are the `.npz` files of `segany.embedding_file`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from segany.embedding_file import ImageEmbedding
from segany.errors import ImageNotSetError
from segany.geometry import (
    resize_longest_side,
    resized_shape,
    scale_coords,
    upscale_logits,
    upscale_masks,
)
from segany.io.image_convert import as_rgb_uint8
from segany.onnx.contract import (
    CACHED_DECODER_ROLES,
    DECODER_LOWRANK_PROMPT_INPUTS,
    DECODER_LOWRES_INPUTS,
    DECODER_PREP_ROLE,
    ExportMetadata,
    int8_name,
)
from segany.prompts import is_box_batch, normalize_prompts

LABEL_PAD = -1.0
LABEL_BOX_CORNERS = (2.0, 3.0)
LOW_RES_SIDE_FACTOR = 4  # low-res masks are 4x the embedding grid (256 for a 64 x 64 embedding)

Prediction = tuple[np.ndarray, np.ndarray, np.ndarray]


@dataclass
class _ImageState:
    embedding: np.ndarray  # 1 x C x h x w float32
    original_size: tuple[int, int]  # (H, W)
    input_size: tuple[int, int]  # (h, w) of the resized image inside the model input
    # decoder_prep.onnx outputs for `embedding` (name -> array), computed on the first cached-pair prompt.
    image_terms: dict[str, np.ndarray] | None = None


class OnnxPredictor:
    """Prompt SAM through ONNX Runtime; same calls and return values as `segany.predictor.SamPredictor`.

    Args:
        model_dir: directory written by `segany.onnx.export_onnx` (holds `metadata.json`).
        providers: ONNX Runtime execution providers; default CPU.
        quantized: "int8" runs the `*.int8.onnx` models (which the export must have written).
        session_options: passed to every `onnxruntime.InferenceSession`.
    """

    def __init__(
        self,
        model_dir: str | Path,
        providers: Sequence[Any] | None = None,
        quantized: str | None = None,
        session_options: ort.SessionOptions | None = None,
    ) -> None:
        self.model_dir = Path(model_dir)
        self.metadata = ExportMetadata.load(self.model_dir)
        if quantized not in (None, "int8"):
            raise ValueError(f"quantized must be None or 'int8', got {quantized!r}")
        if quantized is not None and self.metadata.quantization != quantized:
            raise ValueError(
                f"the export in {model_dir} was not quantized to {quantized} (metadata quantization: "
                f"{self.metadata.quantization}); export with quantize={quantized!r}"
            )
        self.quantized = quantized
        self.providers = list(providers) if providers is not None else ["CPUExecutionProvider"]
        self.session_options = session_options
        self.image_size = int(self.metadata.image_size)
        self.mask_threshold = float(self.metadata.mask_threshold)
        self._embedding_shape = tuple(int(v) for v in self.metadata.embedding_shape)
        self._low_res_size = (
            LOW_RES_SIDE_FACTOR * self._embedding_shape[2],
            LOW_RES_SIDE_FACTOR * self._embedding_shape[3],
        )
        self._encoder: ort.InferenceSession | None = None  # created on the first set_image
        self._decoder, self._decoder_upscales = self._open_decoder()
        self._prep, self._cached = self._open_cached_pair()
        self._image: _ImageState | None = None

    # ---------------------------------------------------------------- sessions
    def _model_path(self, role: str) -> Path:
        file_name = self.metadata.files.get(role)
        if not file_name:
            hint = (
                " (it was exported without the encoder: use set_image_embedding)" if role == "encoder" else ""
            )
            raise FileNotFoundError(f"the export in {self.model_dir} has no {role} model{hint}")
        if self.quantized == "int8":
            file_name = int8_name(file_name)
        path = self.model_dir / file_name
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found (listed in {self.model_dir / 'metadata.json'})")
        return path

    def _session(self, path: Path) -> ort.InferenceSession:
        return ort.InferenceSession(str(path), sess_options=self.session_options, providers=self.providers)

    def _open_decoder(self) -> tuple[ort.InferenceSession, bool]:
        """Prefer the low-res decoder; an export without it falls back to the official-contract decoder."""
        if "decoder_lowres" in self.metadata.files:
            return self._session(self._model_path("decoder_lowres")), False
        if self.metadata.return_single_mask:
            raise ValueError(
                f"{self.model_dir} holds only a return_single_mask decoder; OnnxPredictor needs all 4 mask "
                "tokens: re-export without return_single_mask"
            )
        return self._session(self._model_path("decoder")), True

    def _open_cached_pair(self) -> tuple[ort.InferenceSession | None, ort.InferenceSession | None]:
        """The cached decoder pair, when the export has it (fp32 only; int8 keeps decoder_lowres)."""
        role = self.cached_decoder_role
        if self.quantized is not None or role is None or DECODER_PREP_ROLE not in self.metadata.files:
            return None, None
        return self._session(self._model_path(DECODER_PREP_ROLE)), self._session(self._model_path(role))

    @property
    def cached_decoder_role(self) -> str | None:
        """The per-prompt graph of the export's cached pair ("decoder_lowrank" or "decoder_dense"), if any."""
        return next((role for role in CACHED_DECODER_ROLES if role in self.metadata.files), None)

    @property
    def uses_cached_decoder(self) -> bool:
        """Whether prompts without a mask input run the cached pair (`decoder_prep` + per-prompt graph)."""
        return self._cached is not None

    @property
    def encoder_session(self) -> ort.InferenceSession:
        if self._encoder is None:
            self._encoder = self._session(self._model_path("encoder"))
        return self._encoder

    @property
    def decoder_session(self) -> ort.InferenceSession:
        return self._decoder

    # ---------------------------------------------------------------- images
    def set_image(self, image: Any, image_format: str = "RGB") -> None:
        """Encode one image: HWC uint8 RGB/BGR array, PIL image, grayscale, RGBA or 16-bit (see `as_rgb_uint8`)."""
        rgb = as_rgb_uint8(image, image_format)
        resized = resize_longest_side(rgb, self.image_size)
        (embedding,) = self.encoder_session.run(None, {"input_image": resized.astype(np.float32)})
        self._image = _ImageState(
            np.ascontiguousarray(embedding, dtype=np.float32),
            (rgb.shape[0], rgb.shape[1]),
            (resized.shape[0], resized.shape[1]),
        )

    def set_image_embedding(
        self, embedding: ImageEmbedding | np.ndarray, original_size: tuple[int, int] | None = None
    ) -> None:
        """Use a precomputed embedding (an `ImageEmbedding`, or a raw 1 x C x h x w array with `original_size`)."""
        if isinstance(embedding, ImageEmbedding):
            if embedding.image_size != self.image_size:
                raise ValueError(
                    f"embedding was computed for input size {embedding.image_size}, this model uses {self.image_size}"
                )
            original_size, array = embedding.original_size, embedding.embedding
        else:
            array = embedding
            if original_size is None:
                raise ValueError("original_size (H, W) must be given with a raw embedding array")
        array = np.ascontiguousarray(np.asarray(array), dtype=np.float32)
        if array.shape != self._embedding_shape:
            raise ValueError(f"embedding must have shape {self._embedding_shape}, got {array.shape}")
        height, width = int(original_size[0]), int(original_size[1])
        self._image = _ImageState(array, (height, width), resized_shape(height, width, self.image_size))

    def load_image_embedding(self, path: str | Path) -> None:
        self.set_image_embedding(ImageEmbedding.load(path))

    def save_image_embedding(self, path: str | Path, model_name: str = "") -> Path:
        state = self._state()
        record = ImageEmbedding(
            state.embedding,
            state.original_size,
            state.input_size,
            self.image_size,
            model_name or self.metadata.model,
        )
        return record.save(path)

    def get_image_embedding(self) -> np.ndarray:
        """1 x C x h x w float32 embedding of the current image."""
        return self._state().embedding

    def reset_image(self) -> None:
        self._image = None

    @property
    def is_image_set(self) -> bool:
        return self._image is not None

    @property
    def original_size(self) -> tuple[int, int]:
        return self._state().original_size

    @property
    def input_size(self) -> tuple[int, int]:
        return self._state().input_size

    def _state(self) -> _ImageState:
        if self._image is None:
            raise ImageNotSetError(
                "no image is set: call set_image(image) (or set_image_embedding) before predicting"
            )
        return self._image

    # ---------------------------------------------------------------- prompts
    def predict(
        self,
        point_coords: np.ndarray | None = None,
        point_labels: np.ndarray | None = None,
        box: np.ndarray | None = None,
        mask_input: np.ndarray | None = None,
        multimask_output: bool = True,
        return_logits: bool = False,
    ) -> Prediction:
        """Prompts in original-image pixels -> (masks C x H x W, scores C, low-res logits C x 256 x 256).

        `box` may also be N x 4 (N > 1): then every output gains a leading N axis (see `predict_boxes`).
        """
        if box is not None and is_box_batch(box):
            return self.predict_boxes(
                box, point_coords, point_labels, mask_input, multimask_output, return_logits
            )
        masks, scores, logits = self._predict(
            point_coords, point_labels, box, mask_input, multimask_output, return_logits, batched=False
        )
        return masks[0], scores[0], logits[0]

    def predict_boxes(
        self,
        boxes: np.ndarray,
        point_coords: np.ndarray | None = None,
        point_labels: np.ndarray | None = None,
        mask_input: np.ndarray | None = None,
        multimask_output: bool = False,
        return_logits: bool = False,
    ) -> Prediction:
        """N XYXY boxes -> masks N x C x H x W, scores N x C, logits N x C x 256 x 256 (one decoder run per box).

        Each box may come with its own points: point_coords N x K x 2, point_labels N x K (pad with label -1).
        """
        return self._predict(
            point_coords, point_labels, boxes, mask_input, multimask_output, return_logits, batched=True
        )

    def _predict(
        self,
        point_coords: Any,
        point_labels: Any,
        box: Any,
        mask_input: Any,
        multimask_output: bool,
        return_logits: bool,
        batched: bool,
    ) -> Prediction:
        state = self._state()
        prompts = normalize_prompts(
            point_coords,
            point_labels,
            box,
            mask_input,
            original_size=state.original_size,
            low_res_size=self._low_res_size,
            batched=batched,
            multimask_output=multimask_output,
        )
        count, masks_in = prompts.count, prompts.mask_input
        boxes = coords = None
        if prompts.boxes is not None:
            boxes = scale_coords(prompts.boxes.reshape(-1, 2, 2), state.original_size, self.image_size)
        if prompts.point_coords is not None:
            coords = scale_coords(prompts.point_coords, state.original_size, self.image_size)
        labels = prompts.point_labels

        selected = slice(1, None) if prompts.multimask_output else slice(0, 1)
        all_masks, all_scores, all_logits = [], [], []
        # Binary masks are written in place, one prompt at a time (no float maps of all prompts).
        binary: np.ndarray | None = None
        for index in range(count):
            prompt_coords, prompt_labels = self._sparse_prompt(
                None if coords is None else coords[index],
                None if labels is None else labels[index],
                None if boxes is None else boxes[index],
            )
            scores, logits = self.decode(
                prompt_coords, prompt_labels, None if masks_in is None else masks_in[index : index + 1]
            )
            logits, scores = logits[selected], scores[selected]
            if return_logits:
                all_masks.append(
                    upscale_logits(logits, self.image_size, state.input_size, state.original_size)
                )
            else:
                if binary is None:
                    binary = np.empty((count, logits.shape[0], *state.original_size), dtype=np.bool_)
                upscale_masks(
                    logits,
                    self.image_size,
                    state.input_size,
                    state.original_size,
                    self.mask_threshold,
                    out=binary[index],
                )
            all_scores.append(scores)
            all_logits.append(logits)
        masks = binary if binary is not None else np.stack(all_masks)
        return masks, np.stack(all_scores), np.stack(all_logits)

    @staticmethod
    def _sparse_prompt(
        coords: np.ndarray | None, labels: np.ndarray | None, box_corners: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Points (K x 2) then a pad point (no box) or the two box corners -> N x 2 coords, N labels."""
        parts_xy = [np.zeros((0, 2))]
        parts_label = [np.zeros((0,))]
        if coords is not None and labels is not None:
            parts_xy.append(coords)
            parts_label.append(labels.astype(np.float64))
        if box_corners is not None:
            parts_xy.append(box_corners)
            parts_label.append(np.asarray(LABEL_BOX_CORNERS))
        elif coords is not None:
            parts_xy.append(np.zeros((1, 2)))
            parts_label.append(np.asarray([LABEL_PAD]))
        return np.concatenate(parts_xy), np.concatenate(parts_label)

    def decode(
        self, point_coords: np.ndarray, point_labels: np.ndarray, mask_input: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Low-level decoder call on the current embedding, prompts already in the S x S input frame.

        Args:
            point_coords: N x 2 (x, y), box corners included; point_labels: N (-1, 0, 1, 2, 3).
            mask_input: 1 x 1 x 256 x 256 logits or None.
        Returns:
            scores (4,) and low-res logits 4 x 256 x 256: token 0, then the 3 multimask tokens.
        """
        state = self._state()
        has_mask = mask_input is not None
        if not has_mask and self._prep is not None and self._cached is not None:
            if state.image_terms is None:
                names = [output.name for output in self._prep.get_outputs()]
                state.image_terms = dict(
                    zip(names, self._prep.run(None, {"image_embeddings": state.embedding}))
                )
            coords_name, labels_name = DECODER_LOWRANK_PROMPT_INPUTS
            feeds = {
                coords_name: np.asarray(point_coords, dtype=np.float32).reshape(1, -1, 2),
                labels_name: np.asarray(point_labels, dtype=np.float32).reshape(1, -1),
                **state.image_terms,
            }
            scores, low_res = self._cached.run(None, feeds)
            return scores[0], low_res[0]
        if mask_input is None:
            mask_input = np.zeros((1, 1, *self._low_res_size), dtype=np.float32)
        feeds = {
            "image_embeddings": state.embedding,
            "point_coords": np.asarray(point_coords, dtype=np.float32).reshape(1, -1, 2),
            "point_labels": np.asarray(point_labels, dtype=np.float32).reshape(1, -1),
            "mask_input": np.asarray(mask_input, dtype=np.float32).reshape(1, 1, *self._low_res_size),
            "has_mask_input": np.asarray([1.0 if has_mask else 0.0], dtype=np.float32),
        }
        if self._decoder_upscales:
            # Official-contract decoder: the smallest original size keeps its in-graph upscaling cheap.
            feeds["orig_im_size"] = np.asarray([1.0, 1.0], dtype=np.float32)
            scores, low_res = self._decoder.run(["iou_predictions", "low_res_masks"], feeds)
        else:
            scores, low_res = self._decoder.run(None, {name: feeds[name] for name in DECODER_LOWRES_INPUTS})
        return scores[0], low_res[0]


__all__ = ["ImageNotSetError", "OnnxPredictor"]

"""SamPredictor: encode an image once, then answer point / box / mask prompts in milliseconds.

Numpy in / numpy out (`predict`) follows the official API exactly; `predict_torch` takes batched tensors
already in the model input frame. Beyond the official API: many boxes in one call (`predict_boxes`),
several images at once (`set_image_batch` / `predict_batch`) and embeddings reused across processes
(`set_image_embedding`, `save_image_embedding`, `load_image_embedding`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from segany.embedding_file import ImageEmbedding
from segany.errors import ImageNotSetError, PromptError
from segany.geometry import resized_shape
from segany.io.image_convert import as_rgb_uint8
from segany.modeling.decoder_lowrank import (
    DecoderImageCache,
    build_image_cache,
    decode_with_cache,
    supports_low_rank,
    weights_fingerprint,
)
from segany.modeling.mask_decoder import MaskDecoder
from segany.modeling.mask_upsampling import upscale_masks_binary
from segany.modeling.sam import Sam
from segany.prompts import check_prompt_keys, is_box_batch, normalize_prompts
from segany.transforms import ResizeLongestSide


@dataclass
class _ImageState:
    features: torch.Tensor  # 1 x C x h x w image embedding
    original_size: tuple[int, int]  # (H, W)
    input_size: tuple[int, int]  # (h, w) inside the model input
    # Prompt-independent decoder work for `features`, built on the first prompt without a mask input; checked
    # against the embedding and the decoder / prompt encoder weights before every use.
    decoder_cache: DecoderImageCache | None = None
    prompt_fingerprint: tuple[tuple[int, int, int], ...] = ()


Prediction = tuple[np.ndarray, np.ndarray, np.ndarray]


class SamPredictor:
    def __init__(self, sam_model: Sam) -> None:
        self.model = sam_model
        self.transform = ResizeLongestSide(sam_model.image_size)
        self._images: list[_ImageState] = []

    # ---------------------------------------------------------------- images
    @torch.inference_mode()
    def set_image(self, image: Any, image_format: str = "RGB") -> None:
        """Encode one image: HWC uint8 RGB/BGR array, PIL image, grayscale, RGBA or 16-bit (see `as_rgb_uint8`)."""
        self._images = [self._encode([as_rgb_uint8(image, image_format)])[0]]

    @torch.inference_mode()
    def set_image_batch(self, images: list[Any], image_format: str = "RGB") -> None:
        """Encode several images in one forward pass; prompt them with `predict_batch`."""
        if not isinstance(images, (list, tuple)) or not images:
            raise TypeError(f"images must be a non-empty list of images, got {type(images).__name__}")
        self._images = self._encode([as_rgb_uint8(image, image_format) for image in images])

    @torch.inference_mode()
    def set_torch_image(self, transformed_image: torch.Tensor, original_image_size: tuple[int, ...]) -> None:
        """Official low-level entry: 1 x 3 x h x w RGB in 0..255, longest side already resized."""
        if transformed_image.ndim != 4 or transformed_image.shape[:2] != (1, 3):
            raise ValueError(
                f"transformed_image must be 1 x 3 x h x w, got shape {tuple(transformed_image.shape)}"
            )
        if max(transformed_image.shape[2:]) != self.model.image_size:
            raise ValueError(
                f"transformed_image's longest side must be {self.model.image_size}, got "
                f"{tuple(transformed_image.shape[2:])}"
            )
        features = self.model.image_encoder(self.model.preprocess(transformed_image.float()))
        size = (int(original_image_size[0]), int(original_image_size[1]))
        input_size = (int(transformed_image.shape[2]), int(transformed_image.shape[3]))
        self._images = [_ImageState(features, size, input_size)]

    def _encode(self, images: list[np.ndarray]) -> list[_ImageState]:
        inputs, sizes = [], []
        for image in images:
            resized = self.transform.apply_image(image)
            tensor = torch.from_numpy(np.array(resized)).to(self.device).permute(2, 0, 1).float()
            inputs.append(self.model.preprocess(tensor))
            sizes.append(((image.shape[0], image.shape[1]), (resized.shape[0], resized.shape[1])))
        features = self.model.image_encoder(torch.stack(inputs))
        return [_ImageState(features[i : i + 1], orig, inp) for i, (orig, inp) in enumerate(sizes)]

    def set_image_embedding(
        self,
        embedding: ImageEmbedding | np.ndarray | torch.Tensor,
        original_size: tuple[int, int] | None = None,
    ) -> None:
        """Use a precomputed embedding (from `get_image_embedding`, `save_image_embedding` or the CLI)."""
        features: np.ndarray | torch.Tensor
        if isinstance(embedding, ImageEmbedding):
            if embedding.image_size != self.model.image_size:
                raise ValueError(
                    f"embedding was computed for input size {embedding.image_size}, this model uses "
                    f"{self.model.image_size}"
                )
            original_size, features = embedding.original_size, embedding.embedding
        else:
            features = embedding
            if original_size is None:
                raise ValueError("original_size (H, W) must be given with a raw embedding array")
        tensor = torch.as_tensor(np.asarray(features) if not isinstance(features, torch.Tensor) else features)
        expected = (1, self.model.prompt_encoder.embed_dim, *self.model.prompt_encoder.image_embedding_size)
        if tuple(tensor.shape) != expected:
            raise ValueError(f"embedding must have shape {expected}, got {tuple(tensor.shape)}")
        height, width = int(original_size[0]), int(original_size[1])
        input_size = resized_shape(height, width, self.model.image_size)
        self._images = [_ImageState(tensor.to(self.device, torch.float32), (height, width), input_size)]

    def save_image_embedding(self, path: str | Path, model_name: str = "") -> Path:
        state = self._single_image()
        record = ImageEmbedding(
            state.features.cpu().numpy(),
            state.original_size,
            state.input_size,
            self.model.image_size,
            model_name,
        )
        return record.save(path)

    def load_image_embedding(self, path: str | Path) -> None:
        self.set_image_embedding(ImageEmbedding.load(path))

    def get_image_embedding(self) -> torch.Tensor:
        """1 x C x h x w embedding of the current image."""
        return self._single_image().features

    def image_embeddings(self, model_name: str = "") -> list[ImageEmbedding]:
        """The embedding of every image set (one per image of `set_image_batch`), in order, on the CPU."""
        return [
            ImageEmbedding(
                state.features.detach().cpu().numpy(),
                state.original_size,
                state.input_size,
                self.model.image_size,
                model_name,
            )
            for state in self._images
        ]

    def reset_image(self) -> None:
        self._images = []

    @torch.inference_mode()
    def prepare_decoder(self) -> int:
        """Build the image's prompt-independent decoder work now (else the first prompt pays for it).

        Afterwards prompts only read the predictor's state, so threads may share it for `predict` as long as
        no one sets another image. Returns the bytes the image holds (embedding plus decoder work).
        """
        state = self._single_image()
        held = state.features.nelement() * state.features.element_size()
        decoder = self.model.mask_decoder
        if isinstance(decoder, MaskDecoder) and supports_low_rank(decoder):
            cache = self._decoder_cache(state, decoder)
            held += sum(tensor.nelement() * tensor.element_size() for tensor in cache.image_tensors())
        return held

    @property
    def is_image_set(self) -> bool:
        return bool(self._images)

    @property
    def features(self) -> torch.Tensor:
        return self.get_image_embedding()

    @property
    def original_size(self) -> tuple[int, int]:
        return self._single_image().original_size

    @property
    def input_size(self) -> tuple[int, int]:
        return self._single_image().input_size

    @property
    def device(self) -> torch.device:
        return self.model.device

    def _single_image(self) -> _ImageState:
        if not self._images:
            raise ImageNotSetError(
                "no image is set: call set_image(image) (or set_image_embedding) before predicting"
            )
        if len(self._images) > 1:
            raise ValueError(
                f"{len(self._images)} images are set: use predict_batch, or set_image for one image"
            )
        return self._images[0]

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
        Points outside the image are allowed (they are encoded as given); points more than one image size
        outside raise ValueError.
        """
        state = self._single_image()
        if box is not None and is_box_batch(box):
            return self.predict_boxes(
                box, point_coords, point_labels, mask_input, multimask_output, return_logits
            )
        masks, scores, logits = self._predict_numpy(
            state, point_coords, point_labels, box, mask_input, multimask_output, return_logits, batched=False
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
        """N XYXY boxes -> N objects in one decoder pass: masks N x C x H x W, scores N x C, logits N x C x 256 x 256.

        Each box may come with its own points: point_coords N x K x 2, point_labels N x K (pad with label -1).
        """
        state = self._single_image()
        return self._predict_numpy(
            state,
            point_coords,
            point_labels,
            boxes,
            mask_input,
            multimask_output,
            return_logits,
            batched=True,
        )

    def predict_batch(
        self, prompts: list[dict[str, Any]], multimask_output: bool = True, return_logits: bool = False
    ) -> list[Prediction]:
        """One prompt dict per image set by `set_image_batch` (keys: point_coords, point_labels, box, mask_input)."""
        if not self._images:
            raise ImageNotSetError("no images are set: call set_image_batch(images) before predict_batch")
        if len(prompts) != len(self._images):
            raise PromptError(
                f"prompts must hold one dict per image ({len(self._images)}), got {len(prompts)}", "prompts"
            )
        results = []
        for state, prompt in zip(self._images, prompts):
            check_prompt_keys(prompt)
            box = prompt.get("box")
            batched = is_box_batch(box)
            masks, scores, logits = self._predict_numpy(
                state,
                prompt.get("point_coords"),
                prompt.get("point_labels"),
                box,
                prompt.get("mask_input"),
                multimask_output,
                return_logits,
                batched=batched,
            )
            results.append((masks, scores, logits) if batched else (masks[0], scores[0], logits[0]))
        return results

    @torch.inference_mode()
    def _predict_numpy(
        self,
        state: _ImageState,
        point_coords: Any,
        point_labels: Any,
        box: Any,
        mask_input: Any,
        multimask_output: bool,
        return_logits: bool,
        batched: bool,
    ) -> Prediction:
        prompts = normalize_prompts(
            point_coords,
            point_labels,
            box,
            mask_input,
            original_size=state.original_size,
            low_res_size=self.model.prompt_encoder.mask_input_size,
            batched=batched,
            multimask_output=multimask_output,
        )
        coords_t = labels_t = boxes_t = masks_t = None
        if prompts.boxes is not None:
            boxes_t = self._to_tensor(self.transform.apply_boxes(prompts.boxes, state.original_size))
        if prompts.point_coords is not None and prompts.point_labels is not None:
            coords_t = self._to_tensor(self.transform.apply_coords(prompts.point_coords, state.original_size))
            labels_t = torch.as_tensor(prompts.point_labels, dtype=torch.int64, device=self.device)
        if prompts.mask_input is not None:
            masks_t = self._to_tensor(prompts.mask_input)
        masks, scores, logits = self._decode(
            state, coords_t, labels_t, boxes_t, masks_t, prompts.multimask_output
        )
        if return_logits:
            full = self.model.postprocess_masks(logits, state.input_size, state.original_size)
            masks_np = full.float().cpu().numpy()
        else:
            masks_np = masks
        return masks_np, scores.float().cpu().numpy(), logits.float().cpu().numpy()

    def _to_tensor(self, array: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.asarray(array, dtype=np.float32), device=self.device)

    def _decode(
        self,
        state: _ImageState,
        coords: torch.Tensor | None,
        labels: torch.Tensor | None,
        boxes: torch.Tensor | None,
        masks: torch.Tensor | None,
        multimask_output: bool,
    ) -> tuple[np.ndarray, torch.Tensor, torch.Tensor]:
        logits, scores = self._run_decoder(state, coords, labels, boxes, masks, multimask_output)
        binary = upscale_masks_binary(
            logits, self.model.image_size, state.input_size, state.original_size, self.model.mask_threshold
        )
        return binary, scores, logits

    def _run_decoder(
        self,
        state: _ImageState,
        coords: torch.Tensor | None,
        labels: torch.Tensor | None,
        boxes: torch.Tensor | None,
        masks: torch.Tensor | None,
        multimask_output: bool,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        points = (coords, labels) if coords is not None else None
        sparse, dense = self.model.prompt_encoder(points=points, boxes=boxes, masks=masks)
        decoder = self.model.mask_decoder
        cache = None
        if masks is None and supports_low_rank(decoder):
            # Exact low-rank path: the image side of the decoder is shared by all prompts of this image.
            cache = self._decoder_cache(state, decoder)
        image_pe = self.model.prompt_encoder.get_dense_pe() if cache is None else cache.image_pe
        return decode_with_cache(decoder, cache, state.features, image_pe, sparse, dense, multimask_output)

    def _decoder_cache(self, state: _ImageState, decoder: MaskDecoder) -> DecoderImageCache:
        """The image's decoder cache, rebuilt when missing or when the embedding or any weight changed."""
        prompt_encoder = self.model.prompt_encoder
        fingerprint = weights_fingerprint(prompt_encoder)
        cache = state.decoder_cache
        if (
            cache is None
            or state.prompt_fingerprint != fingerprint
            or not cache.matches(decoder, state.features)
        ):
            no_mask = prompt_encoder.no_mask_embed.weight[0]
            cache = build_image_cache(decoder, state.features, prompt_encoder.get_dense_pe(), no_mask)
            state.decoder_cache, state.prompt_fingerprint = cache, fingerprint
        return cache

    @torch.inference_mode()
    def predict_low_res_torch(
        self,
        point_coords: torch.Tensor | None,
        point_labels: torch.Tensor | None,
        boxes: torch.Tensor | None = None,
        mask_input: torch.Tensor | None = None,
        multimask_output: bool = True,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Like `predict_torch` without the upsampling: (low-res logits B x C x 256 x 256, scores B x C).

        For pipelines that filter candidates before paying for full-resolution masks (everything mode).
        """
        state = self._single_image()
        if (point_coords is None) != (point_labels is None):
            raise PromptError("point_coords and point_labels must be given together", "point_coords")
        if point_coords is not None and (point_coords.ndim != 3 or point_coords.shape[-1] != 2):
            raise PromptError(
                f"point_coords must be B x N x 2, got shape {tuple(point_coords.shape)}", "point_coords"
            )
        if boxes is not None and boxes.shape[-1] != 4:
            raise PromptError(f"boxes must be B x 4 XYXY, got shape {tuple(boxes.shape)}", "boxes")
        return self._run_decoder(state, point_coords, point_labels, boxes, mask_input, multimask_output)

    @torch.inference_mode()
    def predict_torch(
        self,
        point_coords: torch.Tensor | None,
        point_labels: torch.Tensor | None,
        boxes: torch.Tensor | None = None,
        mask_input: torch.Tensor | None = None,
        multimask_output: bool = True,
        return_logits: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Batched prompts already in the model input frame.

        Args:
            point_coords: B x N x 2 (x, y); point_labels: B x N; boxes: B x 4 XYXY; mask_input: B x 1 x 256 x 256.
        Returns:
            masks B x C x H x W (bool, or logits with return_logits), scores B x C, low-res logits B x C x 256 x 256.
        """
        logits, scores = self.predict_low_res_torch(
            point_coords, point_labels, boxes, mask_input, multimask_output
        )
        state = self._single_image()
        masks = self.model.postprocess_masks(logits, state.input_size, state.original_size)
        if not return_logits:
            masks = masks > self.model.mask_threshold
        return masks, scores, logits

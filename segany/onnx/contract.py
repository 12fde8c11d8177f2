"""The files an ONNX export writes, their input/output names, and `metadata.json` (torch-free).

Layout of an export directory::

    encoder.onnx          input_image (h x w x 3 float32 RGB 0..255, longest side = S) -> image_embeddings
    decoder.onnx          the official SAM decoder contract (see `DECODER_INPUTS`), masks at the original size
    decoder_lowres.onnx   the same without `orig_im_size`: all 4 mask tokens as 256 x 256 logits only
    decoder_prep.onnx     image_embeddings -> image_term_0 .. image_term_K-1, the prompt-independent part of the
                          decoder (run once per image)
    decoder_lowrank.onnx  point_coords, point_labels, image_term_* -> iou_predictions, low_res_masks: the same
                          answer as decoder_lowres.onnx without mask input, several times cheaper per prompt
    decoder_dense.onnx    the same inputs and outputs in the dense form, written instead of decoder_lowrank.onnx
                          for narrow decoders (where it is the faster graph; see segany.onnx.dense_decoder)
    *.int8.onnx           optional dynamically quantized (int8 weights) copies of the first three models
    metadata.json         model name, image size, opset, quantization, file names and this contract

Contract of `decoder.onnx` (identical to the official `scripts/export_onnx_model.py` export)::

    image_embeddings  float32 1 x 256 x 64 x 64
    point_coords      float32 1 x N x 2    (x, y) in the S x S input frame (after the longest-side resize)
    point_labels      float32 1 x N        -1 pad, 0 negative, 1 positive, 2 box top-left, 3 box bottom-right
    mask_input        float32 1 x 1 x 256 x 256 previous low-res logits (zeros when unused)
    has_mask_input    float32 1            1.0 when mask_input is used, else 0.0
    orig_im_size      float32 2            (H, W) of the original image
    ->
    masks             float32 1 x M x H x W logits at the original size (threshold at 0.0)
    iou_predictions   float32 1 x M
    low_res_masks     float32 1 x M x 256 x 256 logits in the padded input frame

As with the official decoder, the caller builds the sparse prompt: points first, then a padding point (0, 0)
with label -1 when no box is given, or the two box corners with labels 2 and 3.
M = 4 (token 0, the single-output token, then the 3 multimask tokens) unless the model was exported with
`return_single_mask`, where M = 1: the best of tokens 1..3 by predicted IoU when N <= 2 (one point plus its
padding point, or a box alone), else token 0.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ENCODER_FILE = "encoder.onnx"
DECODER_FILE = "decoder.onnx"
DECODER_LOWRES_FILE = "decoder_lowres.onnx"
DECODER_PREP_FILE = "decoder_prep.onnx"
DECODER_LOWRANK_FILE = "decoder_lowrank.onnx"
DECODER_DENSE_FILE = "decoder_dense.onnx"
METADATA_FILE = "metadata.json"
INT8_SUFFIX = ".int8.onnx"

ENCODER_INPUTS = ("input_image",)
ENCODER_OUTPUTS = ("image_embeddings",)
DECODER_INPUTS = (
    "image_embeddings",
    "point_coords",
    "point_labels",
    "mask_input",
    "has_mask_input",
    "orig_im_size",
)
DECODER_OUTPUTS = ("masks", "iou_predictions", "low_res_masks")
DECODER_LOWRES_INPUTS = DECODER_INPUTS[:-1]
DECODER_LOWRES_OUTPUTS = ("iou_predictions", "low_res_masks")
DECODER_PREP_INPUTS = ("image_embeddings",)
DECODER_LOWRANK_PROMPT_INPUTS = ("point_coords", "point_labels")
IMAGE_TERM_PREFIX = "image_term_"
# The cached decoder pair: the prep graph (once per image) and one per-prompt graph, in the low-rank or the
# dense form. Not quantized: OnnxPredictor uses the pair with fp32 models only.
DECODER_PREP_ROLE = "decoder_prep"
CACHED_DECODER_ROLES = ("decoder_lowrank", "decoder_dense")
CACHED_PAIR_ROLES = (DECODER_PREP_ROLE, *CACHED_DECODER_ROLES)


def image_term_names(count: int) -> tuple[str, ...]:
    """Names of the `decoder_prep.onnx` outputs, which are also the last inputs of `decoder_lowrank.onnx`."""
    return tuple(f"{IMAGE_TERM_PREFIX}{index}" for index in range(count))


METADATA_FORMAT = "segany-onnx"
METADATA_VERSION = 1

CONTRACT_TEXT = {
    "encoder": "input_image: float32 h x w x 3 RGB in 0..255, longest side resized (PIL bilinear, rounding half "
    "up) to image_size; normalisation and zero padding happen inside. -> image_embeddings 1 x 256 x 64 x 64",
    "decoder": "official SAM decoder: image_embeddings 1x256x64x64, point_coords 1xNx2 (x, y) in the "
    "image_size frame, point_labels 1xN (-1 pad, 0 neg, 1 pos, 2/3 box corners), mask_input 1x1x256x256, "
    "has_mask_input (1,), orig_im_size (2,) float (H, W) -> masks 1xMxHxW logits, iou_predictions 1xM, "
    "low_res_masks 1xMx256x256. Append a pad point (0, 0, label -1) when there is no box.",
    "decoder_lowres": "decoder inputs without orig_im_size -> iou_predictions 1x4, low_res_masks 1x4x256x256 "
    "(token 0 then the 3 multimask tokens); upsample outside the graph.",
    "decoder_prep": "image_embeddings 1x256x64x64 -> image_term_0..K-1, run once per image",
    "decoder_lowrank": "point_coords 1xNx2, point_labels 1xN (as decoder.onnx), image_term_0..K-1 from "
    "decoder_prep -> iou_predictions 1x4, low_res_masks 1x4x256x256, as decoder_lowres without mask input.",
    "decoder_dense": "as decoder_lowrank (dense form, with its own decoder_prep terms)",
}


def int8_name(file_name: str) -> str:
    """`encoder.onnx` -> `encoder.int8.onnx`."""
    if not file_name.endswith(".onnx"):
        raise ValueError(f"expected a .onnx file name, got {file_name!r}")
    return file_name[: -len(".onnx")] + INT8_SUFFIX


@dataclass
class ExportMetadata:
    """What `metadata.json` records about an export; `OnnxPredictor` reads it back."""

    model: str
    image_size: int
    embedding_shape: tuple[int, int, int, int]
    opset: int
    quantization: str | None
    return_single_mask: bool
    files: dict[str, str]
    mask_threshold: float = 0.0
    segany_version: str = ""
    format: str = METADATA_FORMAT
    format_version: int = METADATA_VERSION
    contract: dict[str, str] = field(default_factory=lambda: dict(CONTRACT_TEXT))
    verification: dict[str, Any] = field(default_factory=dict)

    def save(self, directory: str | Path) -> Path:
        path = Path(directory) / METADATA_FILE
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")
        return path

    @classmethod
    def load(cls, directory: str | Path) -> ExportMetadata:
        path = Path(directory) / METADATA_FILE
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found: is {directory} a segany ONNX export directory?")
        data = json.loads(path.read_text())
        if data.get("format") != METADATA_FORMAT:
            raise ValueError(f"{path} is not a segany ONNX metadata file (format={data.get('format')!r})")
        if int(data.get("format_version", 0)) > METADATA_VERSION:
            raise ValueError(
                f"{path} has format_version {data['format_version']}; this segany reads up to {METADATA_VERSION}"
            )
        known = set(cls.__dataclass_fields__)
        values = {key: value for key, value in data.items() if key in known}
        values["embedding_shape"] = tuple(values["embedding_shape"])
        return cls(**values)

"""Typed request and response bodies of the HTTP API (see /api/openapi.json).

Masks travel as uncompressed COCO RLE: `counts` are run lengths over the mask in column-major (Fortran)
order, starting with a background run (possibly 0). Coordinates are (x, y) pixels of the original image;
boxes are XYXY.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from segany.amg import PRESETS

EXPORT_FORMATS = ("cutout", "masks_png", "coco", "sa1b", "yolo")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------------------------------------- info
class ModelOut(BaseModel):
    name: str
    source: str
    image_size: int
    embedding_shape: list[int]
    low_res_size: int
    fingerprint: str


class LimitsOut(BaseModel):
    max_upload_bytes: int
    max_pixels: int


class CacheOut(BaseModel):
    memory_bytes_held: int  # embeddings plus their decoder caches now in memory
    memory_bytes_limit: int
    images_ready: int
    encode_ahead_pauses: int  # times the background encoder paused because the user was prompting


class InfoOut(BaseModel):
    version: str
    model: ModelOut
    decoders: list[str]
    presets: list[str]
    limits: LimitsOut
    decoder_files: dict[str, str]  # role -> URL: decoder, decoder_lowres, decoder_prep, decoder_cached
    everything_overrides: list[str]
    cache: CacheOut


# ---------------------------------------------------------------------------------------------- images
class ImageOut(BaseModel):
    id: str
    name: str
    width: int
    height: int


class EncodeOut(BaseModel):
    id: str
    state: Literal["ready", "pending", "failed", "absent"]  # absent: not encoded, not queued (or evicted)
    error: str | None = None


# ---------------------------------------------------------------------------------------------- predict
class Rle(BaseModel):
    size: tuple[int, int]  # (H, W)
    counts: list[int]


class Previous(Strict):
    prediction_id: str
    index: int = Field(ge=0)


class PredictIn(Strict):
    points: list[tuple[float, float]] = Field(default_factory=list, max_length=64)
    labels: list[Literal[0, 1]] = Field(default_factory=list, max_length=64)
    box: tuple[float, float, float, float] | None = None  # XYXY
    previous: Previous | None = None
    multimask: bool = True

    @field_validator("points")
    @classmethod
    def _finite_points(cls, value: list[tuple[float, float]]) -> list[tuple[float, float]]:
        if not all(math.isfinite(v) for point in value for v in point):
            raise ValueError("coordinates must be finite numbers")
        return value

    @field_validator("box")
    @classmethod
    def _finite_box(
        cls, value: tuple[float, float, float, float] | None
    ) -> tuple[float, float, float, float] | None:
        if value is not None and not all(math.isfinite(v) for v in value):
            raise ValueError("coordinates must be finite numbers")
        return value


class HoverIn(Strict):
    """One positive point at original pixel (x, y): the hover of the paper's demo."""

    x: float
    y: float

    @field_validator("x", "y")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("coordinates must be finite numbers")
        return value


class PredictOut(BaseModel):
    prediction_id: str
    width: int
    height: int
    masks: list[Rle]
    scores: list[float]
    best: int


# ---------------------------------------------------------------------------------------------- jobs
class EverythingIn(Strict):
    """A preset of `segany.amg.presets`, optionally with a few of its settings overridden."""

    preset: str = "fast"
    points_per_side: int | None = Field(default=None, ge=1, le=128)
    pred_iou_thresh: float | None = Field(default=None, ge=0.0, le=1.0)
    stability_score_thresh: float | None = Field(default=None, ge=0.0, le=1.0)

    @staticmethod
    def override_names() -> tuple[str, ...]:
        return ("points_per_side", "pred_iou_thresh", "stability_score_thresh")

    def overrides(self) -> dict[str, float | int]:
        names = self.override_names()
        return {name: getattr(self, name) for name in names if getattr(self, name) is not None}

    @field_validator("preset")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in PRESETS:
            raise ValueError(f"unknown preset {value!r}; known presets: {', '.join(PRESETS)}")
        return value


class JobCreated(BaseModel):
    job_id: str


class JobOut(BaseModel):
    job_id: str
    state: Literal["queued", "running", "done", "failed", "cancelled"]
    progress: float
    error: str | None


class EverythingMask(Rle):
    bbox: list[float]  # XYWH
    area: int
    predicted_iou: float
    stability_score: float


class EverythingOut(BaseModel):
    width: int
    height: int
    masks: list[EverythingMask]


# ---------------------------------------------------------------------------------------------- export
class ExportObject(Strict):
    size: tuple[int, int]  # (H, W)
    counts: list[int] = Field(max_length=10_000_000)
    label: str | None = Field(default=None, max_length=200)
    score: float | None = None


class ExportIn(Strict):
    format: Literal["cutout", "masks_png", "coco", "sa1b", "yolo"]
    objects: list[ExportObject] = Field(min_length=1, max_length=10_000)
    index: int | None = Field(default=None, ge=0)

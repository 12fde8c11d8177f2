"""The server's long-lived parts, built once per app: model, image store, caches, jobs, decoder export.

Routes reach them through the `get_state` dependency (FastAPI dependency injection).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Request

from segany.modeling.sam import Sam
from segany.server.decoder_export import DecoderExport
from segany.server.embeddings import EmbeddingCache
from segany.server.image_store import ImageStore
from segany.server.jobs import JobManager
from segany.server.predictions import PredictionCache
from segany.server.settings import ServerSettings


@dataclass(frozen=True)
class ModelInfo:
    name: str
    source: str  # "official" | "bundled" | "checkpoint" | "random"
    image_size: int  # long side of the model input frame
    embedding_shape: tuple[int, int, int, int]  # 1 x C x h x w
    low_res_size: int  # side of the decoder's low-res logits (4 h)
    fingerprint: str  # hash of the weights (class, input size and every tensor)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "source": self.source,
            "image_size": self.image_size,
            "embedding_shape": list(self.embedding_shape),
            "low_res_size": self.low_res_size,
            "fingerprint": self.fingerprint,
        }


@dataclass
class ServerState:
    settings: ServerSettings
    sam: Sam
    model: ModelInfo
    images: ImageStore
    embeddings: EmbeddingCache
    predictions: PredictionCache
    jobs: JobManager
    decoder: DecoderExport
    skipped_images: list[str]

    @classmethod
    def build(cls, settings: ServerSettings, sam: Sam, name: str, source: str) -> ServerState:
        cache = settings.resolved_cache_dir()
        images = ImageStore(cache / "uploads", settings.max_pixels)
        skipped = images.scan_folder(settings.images_dir) if settings.images_dir is not None else []
        return cls._with_parts(settings, sam, name, source, images, skipped)

    def with_model(self, sam: Sam, name: str, source: str) -> ServerState:
        """A state serving `sam` over the same images (a runtime model switch); the caller closes `self`.

        Embeddings, predictions and the exported decoder belong to one model (their caches are keyed by its
        fingerprint), so they are new; the image store and its ids stay.
        """
        return self._with_parts(self.settings, sam, name, source, self.images, self.skipped_images)

    @classmethod
    def _with_parts(
        cls,
        settings: ServerSettings,
        sam: Sam,
        name: str,
        source: str,
        images: ImageStore,
        skipped: list[str],
    ) -> ServerState:
        from segany.training.embedding_cache import model_fingerprint

        cache = settings.resolved_cache_dir()
        fingerprint = model_fingerprint(sam, sam.image_size)
        grid_h, grid_w = sam.prompt_encoder.image_embedding_size
        model = ModelInfo(
            name=name,
            source=source,
            image_size=sam.image_size,
            embedding_shape=(1, sam.prompt_encoder.embed_dim, grid_h, grid_w),
            low_res_size=int(sam.prompt_encoder.mask_input_size[0]),
            fingerprint=fingerprint,
        )
        embeddings = EmbeddingCache(
            sam, name, images, cache / "embeddings" / fingerprint, settings.memory_cache_bytes
        )
        return cls(
            settings=settings,
            sam=sam,
            model=model,
            images=images,
            embeddings=embeddings,
            predictions=PredictionCache(settings.prediction_cache_bytes),
            jobs=JobManager(sam),
            decoder=DecoderExport(sam, cache / "onnx" / fingerprint),
            skipped_images=skipped,
        )

    def close(self, drain: bool = False) -> None:
        self.embeddings.close(drain=drain)
        self.jobs.shutdown()


async def get_state(request: Request) -> ServerState:
    """Async on purpose: FastAPI runs a sync dependency in its thread pool, one thread hop per request."""
    state: ServerState = request.app.state.segany
    return state

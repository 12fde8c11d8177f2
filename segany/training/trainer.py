"""`Trainer`: one object that owns a training run (model, optimiser, schedule, data, logs, checkpoints).

    trainer = Trainer(TrainConfig(data=["shared:horses:train"], steps=1000))
    trainer.train()

Any `Sam` can be trained (pass `model=`, e.g. one from `build_sam_from_encoder` with another encoder);
without one the config's architecture is built. Each optimiser step runs `grad_accum_steps` micro-batches
of `batch_size` images through `InteractiveSimulation` (the paper's 11 iterations), then AdamW with
layer-wise lr decay, warmup and step decay.

Reproducibility: data order, augmentation, prompt sampling and drop path are seeded from (seed, rank,
step / stream position) at every step, and checkpoints hold the model, optimiser, scheduler, scaler,
RNG states, step and each rank's data position, so a resumed run takes bit-identical steps on CPU.
Under torchrun (WORLD_SIZE > 1) the simulation is wrapped in DistributedDataParallel, each rank reads
its own shard of the data stream, and only rank 0 writes logs and checkpoints. A first Ctrl-C (one
process) finishes the current step, checkpoints and stops; `resume="auto"` continues from there.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from segany.checkpoint import load_checkpoint, load_state_dict_into
from segany.data import SourceSpec
from segany.modeling.sam import Sam
from segany.training import checkpointing as ckpt
from segany.training.augment import TrainSample, mix_sample, prepare_sample
from segany.training.config import CONFIG_FILE, TrainConfig
from segany.training.data import DonorPool, TrainLoader, build_sources
from segany.training.distributed import (
    all_gather_objects,
    all_reduce_mean,
    barrier,
    init_distributed,
)
from segany.training.embedding_cache import EmbeddingCache, image_key, model_fingerprint
from segany.training.loop import InteractiveSimulation, TrainBatch
from segany.training.model_setup import (
    augment_settings,
    build_model,
    freeze_all_but,
    mask_selection,
    mix_settings,
    simulation_settings,
)
from segany.training.optim import build_optimizer, build_scheduler
from segany.training.run_log import RunLogger
from segany.training.runtime import StopRequest, pick_device, resolve_train_config, step_seeds

MODEL_FILE = "model.pt"
METRIC_KEYS = ("loss", "focal", "dice", "iou_mse", "iou_first", "iou_last")
# Settings that may change between a checkpoint and its resumption without a warning.
RESUMABLE_CHANGES = {
    "steps",
    "resume",
    "progress",
    "log_every",
    "checkpoint_every",
    "keep_checkpoints",
    "num_workers",
    "tensorboard",
    "out_dir",
    "cache_dir",
    "torch_threads",
}


class Trainer:
    def __init__(
        self,
        config: TrainConfig,
        model: Sam | None = None,
        sources: Sequence[SourceSpec] | None = None,
    ) -> None:
        use_cuda = config.device == "cuda" or (config.device == "auto" and torch.cuda.is_available())
        self.dist = init_distributed(use_cuda, backend=config.dist_backend)
        self.device = pick_device(config.device, self.dist)
        self.config = resolve_train_config(config, self.device)
        cfg = self.config
        self.run_dir = Path(cfg.out_dir)
        if cfg.torch_threads is not None:
            torch.set_num_threads(cfg.torch_threads)
        torch.manual_seed(cfg.seed)
        self.sam = model if model is not None else build_model(cfg)
        resume_path = self._resume_path()
        # A resumed run restores its own weights, so the initial checkpoint is neither needed nor read
        # (it may have been pruned since the run began).
        if cfg.init_checkpoint and resume_path is None:
            load_checkpoint(self.sam, cfg.init_checkpoint, strict=cfg.init_strict)
        self.sam.to(self.device)
        encoder_frozen = freeze_all_but(self.sam, cfg.train_only)
        self.simulation = InteractiveSimulation(
            self.sam, simulation_settings(cfg), freeze_encoder=cfg.mode == "decoder" or encoder_frozen
        )
        self.optimizer = build_optimizer(self.sam, cfg.lr, cfg.weight_decay, cfg.layer_decay, cfg.betas)
        self.scheduler = build_scheduler(
            self.optimizer, cfg.warmup_steps, cfg.lr_decay_steps or [], cfg.lr_decay_factor
        )
        self.scaler = torch.amp.GradScaler("cuda", enabled=cfg.amp == "fp16")
        self.step = 0
        self.cache: EmbeddingCache | None = None
        if cfg.mode == "decoder":
            fingerprint = model_fingerprint(self.sam.image_encoder, self.sam.image_size)
            cache_dir = cfg.cache_dir or str(self.run_dir / "embedding_cache")
            self.cache = EmbeddingCache(cache_dir, fingerprint, getattr(torch, cfg.cache_dtype))
        augment, selection, size = augment_settings(cfg), mask_selection(cfg), self.sam.image_size
        if cfg.mode == "decoder" and cfg.augment:
            self._note(
                "decoder mode caches embeddings: scale and colour jitter are off, flips stay "
                "(one cache entry per variant)"
            )

        sources = list(sources) if sources is not None else build_sources(cfg.data, cfg.shared_root)
        mix = mix_settings(cfg)
        mixing = mix.copy_paste_prob > 0 or mix.orientation_crop_prob > 0
        donors = DonorPool(sources)

        def prepare(sample: Any, rng: np.random.Generator) -> TrainSample | None:
            if mixing:
                # A spawned generator leaves rng's own stream, hence the unmixed sample draws, unchanged.
                sample = mix_sample(sample, donors.draw, mix, rng.spawn(1)[0])
            return prepare_sample(sample, size, augment, selection, rng)

        self.loader = TrainLoader(
            sources, prepare, cfg.seed, self.dist.rank, self.dist.world_size, cfg.num_workers
        )
        if resume_path is not None:
            self.load_checkpoint(resume_path)
        self.engine: nn.Module = self.simulation
        if self.dist.enabled:
            # With no iteration after the first, the mask-prompt convolutions get no gradient.
            single = self.simulation.settings.num_iterations == 1
            self.engine = nn.parallel.DistributedDataParallel(self.simulation, find_unused_parameters=single)
        if self.dist.is_main:
            cfg.save(self.run_dir / CONFIG_FILE)
        self.logger: RunLogger | None = None

    # ---------------------------------------------------------------- one step
    def _autocast(self) -> Any:
        if self.device.type != "cuda" or self.config.amp == "none":
            return nullcontext()
        return torch.autocast("cuda", dtype=torch.bfloat16 if self.config.amp == "bf16" else torch.float16)

    @torch.no_grad()
    def _embeddings(self, samples: list[TrainSample]) -> torch.Tensor:
        """Decoder mode: B x C x h x w embeddings, read from the cache or computed once and stored."""
        assert self.cache is not None
        found: list[torch.Tensor | None] = []
        keys: list[str | None] = []
        for sample in samples:
            key = None
            if sample.cacheable and sample.image_path and Path(sample.image_path).is_file():
                key = image_key(sample.image_path, sample.flipped, self.sam.image_size)
            keys.append(key)
            found.append(self.cache.get(key) if key else None)
        missing = [i for i, emb in enumerate(found) if emb is None]
        if missing:
            images = torch.stack([self._preprocess(samples[i].image) for i in missing])
            with self._autocast():
                computed = self.sam.image_encoder(images).float()
            for i, embedding in zip(missing, computed):
                # Round through the cache dtype so the first epoch sees what later epochs read back.
                embedding = embedding.to(self.cache.dtype).float()
                key = keys[i]
                if key is not None:
                    self.cache.put(key, embedding)
                found[i] = embedding
        return torch.stack([emb.to(self.device) for emb in found if emb is not None])

    def _preprocess(self, image: torch.Tensor) -> torch.Tensor:
        return self.sam.preprocess(image.to(self.device, non_blocking=True).float())

    def _collate(self, samples: list[TrainSample]) -> TrainBatch:
        counts = [int(s.masks.shape[0]) for s in samples]
        image_index = torch.repeat_interleave(torch.arange(len(samples)), torch.tensor(counts))
        valid_hw = torch.tensor([list(s.image.shape[-2:]) for s in samples], dtype=torch.long)[image_index]
        masks = torch.cat([s.masks for s in samples]).to(self.device, non_blocking=True)
        batch = TrainBatch(masks, image_index.to(self.device), valid_hw.to(self.device))
        if self.cache is not None:
            batch.embeddings = self._embeddings(samples)
        else:
            batch.images = torch.stack([self._preprocess(s.image) for s in samples])
        return batch

    def train_step(self) -> dict[str, float]:
        """One optimiser step (grad_accum_steps micro-batches); returns its metrics (means over ranks)."""
        cfg = self.config
        started = time.perf_counter()
        self.engine.train()
        torch_seed, prompt_seed = step_seeds(cfg.seed, self.dist.rank, self.step)
        torch.manual_seed(torch_seed)
        generator = torch.Generator().manual_seed(prompt_seed)
        sums = torch.zeros(len(METRIC_KEYS) + 2, dtype=torch.float64)
        for micro in range(cfg.grad_accum_steps):
            batch = self._collate(self.loader.next_batch(cfg.batch_size))
            last = micro == cfg.grad_accum_steps - 1
            engine = self.engine
            sync: Any = nullcontext()
            if isinstance(engine, nn.parallel.DistributedDataParallel) and not last:
                sync = engine.no_sync()  # accumulate locally; all-reduce on the last micro-batch
            with sync:
                with self._autocast():
                    out = self.engine(batch, generator)
                self.scaler.scale(out.loss / cfg.grad_accum_steps).backward()
            values = [out.loss.detach()] + [out.metrics[k] for k in METRIC_KEYS[1:]]
            sums[: len(METRIC_KEYS)] += torch.stack([v.float().cpu() for v in values]).double()
            sums[-2] += batch.num_masks
            sums[-1] += cfg.batch_size
        self.scaler.unscale_(self.optimizer)
        params = [p for group in self.optimizer.param_groups for p in group["params"]]
        max_norm = cfg.grad_clip_norm if cfg.grad_clip_norm is not None else math.inf
        grad_norm = float(torch.nn.utils.clip_grad_norm_(params, max_norm))
        lr = max(group["lr"] for group in self.optimizer.param_groups)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        self.scheduler.step()
        self.step += 1
        means = sums.clone()
        means[: len(METRIC_KEYS)] /= cfg.grad_accum_steps
        means = all_reduce_mean(means.to(self.device), self.dist).cpu()
        metrics = {k: float(means[i]) for i, k in enumerate(METRIC_KEYS)}
        metrics.update(
            masks=float(means[-2] * self.dist.world_size),
            images=float(means[-1] * self.dist.world_size),
            lr=lr,
            grad_norm=grad_norm,
            seconds=time.perf_counter() - started,
        )
        return metrics

    # ---------------------------------------------------------------- the run
    def train(self) -> dict[str, float]:
        """Train until config.steps; checkpoints every checkpoint_every steps and at the end; rank 0 writes
        <out_dir>/model.pt (weights only) when done. Returns the last step's metrics."""
        cfg = self.config
        if self.dist.is_main and self.logger is None:
            self.logger = RunLogger(
                self.run_dir, cfg.tensorboard, resume_step=self.step if self.step else None
            )
        bar = tqdm(
            total=cfg.steps,
            initial=self.step,
            disable=not (cfg.progress and self.dist.is_main),
            dynamic_ncols=True,
            file=sys.stderr,
            desc="train",
        )
        metrics: dict[str, float] = {}
        running: float | None = None
        stop = StopRequest()
        try:
            with stop.installed(enabled=not self.dist.enabled):
                while self.step < cfg.steps:
                    metrics = self.train_step()
                    running = metrics["loss"] if running is None else 0.9 * running + 0.1 * metrics["loss"]
                    if self.logger is not None and (self.step % cfg.log_every == 0 or self.step == cfg.steps):
                        self.logger.log(self.step, metrics)
                    bar.update(1)
                    bar.set_postfix(
                        loss=f"{running:.4f}", iou=f"{metrics['iou_last']:.3f}", lr=f"{metrics['lr']:.2e}"
                    )
                    if stop.requested or self.step % cfg.checkpoint_every == 0 or self.step == cfg.steps:
                        self.save_checkpoint()
                    if stop.requested:
                        tqdm.write(
                            f"interrupted after step {self.step}: saved {ckpt.last_path(self.run_dir)} "
                            "(continue with --resume auto)",
                            file=sys.stderr,
                        )
                        raise KeyboardInterrupt
        finally:
            bar.close()
            if self.logger is not None:
                self.logger.close()
                self.logger = None
        if self.dist.is_main:
            ckpt.atomic_save(self.sam.state_dict(), self.run_dir / MODEL_FILE)
        barrier(self.dist)
        return metrics

    def close(self) -> None:
        """Stop the data-preparation threads (training can no longer continue)."""
        self.loader.close()

    # ---------------------------------------------------------------- checkpoints
    def _resume_path(self) -> Path | None:
        resume = self.config.resume
        if not resume:
            return None
        if resume == "auto":
            path = ckpt.last_path(self.run_dir)
            return path if path.is_file() else None
        return Path(resume)

    def state_dict(self, rank_states: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "format": ckpt.FORMAT,
            "version": ckpt.VERSION,
            "step": self.step,
            "model": self.sam.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "config": self.config.to_dict(),
            "world_size": self.dist.world_size,
            "rank_states": rank_states,
        }

    def save_checkpoint(self) -> Path:
        """Write checkpoints/step_NNNNNNN.pt and checkpoints/last.pt (rank 0); every rank must call it."""
        local = {"loader": self.loader.state_dict(), "rng": ckpt.rng_state()}
        rank_states = all_gather_objects(local, self.dist)
        last = ckpt.last_path(self.run_dir)
        if self.dist.is_main:
            state = self.state_dict(rank_states)
            if self.config.keep_checkpoints > 0:
                numbered = ckpt.atomic_save(state, ckpt.step_path(self.run_dir, self.step))
                ckpt.link_or_copy(numbered, last)
                ckpt.prune(self.run_dir, self.config.keep_checkpoints)
            else:
                ckpt.atomic_save(state, last)
        barrier(self.dist)
        return last

    def load_checkpoint(self, path: str | Path) -> None:
        """Restore a run saved by `save_checkpoint` (before DDP wrapping; every rank reads the file)."""
        state = ckpt.load_training_state(path)
        load_state_dict_into(self.sam, state["model"], strict=True, source=f"training checkpoint {path}")
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        self.step = int(state["step"])
        ranks = state["rank_states"]
        if len(ranks) == self.dist.world_size:
            local = ranks[self.dist.rank]
            ckpt.set_rng_state(local["rng"])
        else:  # a different number of processes: continue the shared stream after the furthest rank
            local = max(ranks, key=lambda r: int(r["loader"]["position"]))
            self._note(
                f"resuming {len(ranks)}-process checkpoint with {self.dist.world_size} processes: "
                "the data order continues but steps are not bit-identical"
            )
        self.loader.load_state_dict(local["loader"])
        changed = sorted(
            k
            for k, v in state.get("config", {}).items()
            if k not in RESUMABLE_CHANGES and self.config.to_dict().get(k) != v
        )
        if changed:
            self._note(f"settings changed since the checkpoint: {', '.join(changed)}")

    def _note(self, message: str) -> None:
        if self.dist.is_main:
            tqdm.write(f"segany train: {message}", file=sys.stderr)

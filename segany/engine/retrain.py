"""Retrain: fine-tune a model version on a project's accepted masks and register the result as a new version.

The accepted masks go out as a COCO file next to copies of their images (`<out>/data/`), which the training
module reads as a `coco:` source; training runs in `<out>` with `resume="auto"` (run it again after a crash and
it continues from its last checkpoint). The new weights (`<out>/model.pt`) become a model version whose
`model` field is that path, so `segany engine serve PROJECT --model-version NAME` switches the server to it.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from segany.engine.errors import Invalid, NotFound
from segany.engine.models import SOURCES, ModelVersion, Project
from segany.engine.store import Store
from segany.engine.transfer import export_selected, unique_names
from segany.engine.versions import register_model_version

MODES = ("decoder", "finetune", "full")


@dataclass(frozen=True)
class RetrainResult:
    version_id: int
    version_name: str
    weights: Path
    masks: int
    metrics: dict[str, float]


def retrain(
    store: Store,
    project_name: str,
    base_model: str,
    out_dir: Path,
    new_name: str,
    mode: str = "decoder",
    steps: int = 200,
    sources: tuple[str, ...] = SOURCES,
    parent_id: int | None = None,
    device: str = "auto",
    overrides: dict[str, Any] | None = None,
) -> RetrainResult:
    """Fine-tune `base_model` (a `segany --model` value) on the accepted masks of `project_name`.

    Args:
        sources: which accepted masks to train on (e.g. ("automatic",) for self-training).
        overrides: further TrainConfig fields (batch size, learning rate, ...).
    """
    if mode not in MODES:
        raise Invalid(f"mode must be one of {MODES}, got {mode!r}", "mode")
    unknown = set(sources) - set(SOURCES)
    if unknown:
        raise Invalid(f"sources must be among {SOURCES}, got {sorted(unknown)}", "sources")
    from segany.cli.models import resolve_model
    from segany.training.config import TrainConfig
    from segany.training.trainer import MODEL_FILE, Trainer

    out_dir = Path(out_dir)
    masks = _write_training_data(store, project_name, out_dir / "data", sources)
    if masks == 0:
        raise Invalid(f"project {project_name!r} has no accepted masks from {sources} to train on", "project")
    base, description = resolve_model(base_model, "cpu")
    init = out_dir / "init.pt"
    if not init.exists():
        import torch

        torch.save(base.state_dict(), init)
    fields: dict[str, Any] = {
        "model": description.arch,
        "image_size": base.image_size,
        "mode": mode,
        "init_checkpoint": str(init),
        "steps": steps,
        "out_dir": str(out_dir),
        "data": [f"coco:{out_dir / 'data' / 'annotations.json'}:{out_dir / 'data' / 'images'}"],
        "resume": "auto",
        "device": device,
        "progress": False,
        "tensorboard": False,
        "warmup_steps": min(250, max(1, steps // 10)),
    }
    fields.update(overrides or {})  # the caller's values win (a given warmup_steps, batch size, ...)
    config = TrainConfig(**fields)
    trainer = Trainer(config)
    try:
        metrics = trainer.train()
    finally:
        trainer.close()
    weights = out_dir / MODEL_FILE
    trained, _ = resolve_model(str(weights), "cpu")
    from segany.training.embedding_cache import model_fingerprint

    version_id = register_model_version(
        store,
        str(weights.resolve()),
        model_fingerprint(trained, trained.image_size),
        new_name,
        parent_id,
        f"{mode} fine-tune of {base_model} on {masks} accepted masks ({', '.join(sources)}) of {project_name}, "
        f"{steps} steps",
    )
    with store.session() as db:  # the name registered (an earlier name when these weights were registered)
        registered = db.get(ModelVersion, version_id)
        name = registered.name if registered is not None else new_name
    return RetrainResult(version_id, name, weights, masks, {k: float(v) for k, v in metrics.items()})


def _write_training_data(store: Store, project_name: str, folder: Path, sources: tuple[str, ...]) -> int:
    with store.session() as db:
        project = db.scalar(select(Project).where(Project.name == project_name))
        if project is None:
            raise NotFound(f"unknown project {project_name!r}", "project")
        images_dir = folder / "images"
        images_dir.mkdir(parents=True, exist_ok=True)
        count, images = export_selected(db, project.id, folder / "annotations.json", sources)
        names = unique_names(images)
        for image in images:
            target = images_dir / names[image.id]
            if not target.exists():
                shutil.copyfile(store.blobs.path(image.blob_name), target)
        return count

"""Helpers for the `segany auto` tests: a tiny model, tiny photos, a slow worker, output comparisons."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from segany.auto import ImageWorker, ModelSource, RunSummary, read_manifest, run_auto

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))
from cli_testing import write_smooth_tiny_checkpoint

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
# Thresholds at which a random-weights model still yields masks (16 prompts per image).
GRID = {"points_per_side": 4, "pred_iou_thresh": 0.0, "stability_score_thresh": 0.0}
PHOTOS = ("chelsea.jpg", "astronaut.jpg", "dog.jpg", "rocket_portrait.jpg")


def write_tiny_checkpoint(path: Path) -> Path:
    """A vit_tiny checkpoint at a 128-pixel input whose masks come in few pieces (the CLI tests' recipe)."""
    return write_smooth_tiny_checkpoint(path, image_size=128)


def run_photos(photos: Path, out: Path, checkpoint: Path, shard_size: int, **kwargs: Any) -> RunSummary:
    """``run_auto`` over a folder with the tiny model and the low-threshold grid."""
    return run_auto(
        read_manifest(photos),
        out,
        ModelSource(str(checkpoint)),
        generator=GRID,
        shard_size=shard_size,
        **kwargs,
    )


def write_tiny_photos(folder: Path, count: int, corrupt: tuple[int, ...] = ()) -> Path:
    """``count`` small crops of the fixture photos (img_00.jpg ...); indices in ``corrupt`` get bad bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        path = folder / f"img_{index:02d}.png"
        if index in corrupt:
            path.write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
            continue
        with Image.open(FIXTURES / PHOTOS[index % len(PHOTOS)]) as photo:
            rgb = photo.convert("RGB")
        left, top = 7 * index, 5 * index
        rgb.crop((left, top, left + 72 + index, top + 56)).save(path)
    return folder


def output_bytes(out: Path) -> dict[str, bytes]:
    """Every result file of a run folder (shards, markers, index) by relative path; run_log and run.json
    are left out (the log varies by design, run.json names the model source)."""
    files = {}
    for path in sorted(out.rglob("*")):
        relative = path.relative_to(out).as_posix()
        if path.is_file() and (relative.startswith("shards/") or relative == "index.jsonl"):
            files[relative] = path.read_bytes()
    return files


def local_reference(
    folder: Path, out: Path, checkpoint: Path, shard_size: int, **kwargs: Any
) -> dict[str, bytes]:
    """A clean local run's output files."""
    run_auto(
        read_manifest(folder),
        out,
        ModelSource(str(checkpoint)),
        generator=GRID,
        shard_size=shard_size,
        **kwargs,
    )
    return output_bytes(out)


class SlowWorker(ImageWorker):
    """An ImageWorker that takes at least ``DELAY`` seconds per image, so that a run can be interrupted.

    With ``node_log`` set to a folder, each image also appends the Ray node id it ran on to a file there.
    """

    DELAY = 0.5
    node_log: str | None = None

    def document(self, task: Any, image: np.ndarray) -> dict[str, Any]:
        time.sleep(self.DELAY)
        if self.node_log is not None:
            import os

            import ray

            with open(Path(self.node_log) / f"{os.getpid()}.txt", "a", encoding="utf-8") as log:
                log.write(ray.get_runtime_context().get_node_id() + "\n")
        return super().document(task, image)

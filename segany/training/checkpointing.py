"""Training checkpoints: everything needed to continue a run bit for bit.

File layout (torch.save, loadable with weights_only=True): format, version, step, model (the bare `Sam`
state dict, so `segany.checkpoint.read_state_dict` and `--model FILE` read it as weights), optimizer,
scheduler, scaler, config (TrainConfig as a dict), world_size and rank_states: per rank its data-loader
position and RNG states. Rank 0 writes; files are written to a temporary name and renamed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

FORMAT = "segany-train"
VERSION = 1
LAST = "last.pt"
CHECKPOINT_DIR = "checkpoints"


def rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():  # type: ignore[no-untyped-call]
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def step_path(run_dir: Path, step: int) -> Path:
    return run_dir / CHECKPOINT_DIR / f"step_{step:07d}.pt"


def last_path(run_dir: Path) -> Path:
    return run_dir / CHECKPOINT_DIR / LAST


def atomic_save(obj: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)
    return path


def link_or_copy(source: Path, target: Path) -> None:
    """Make `target` hold the same bytes as `source` (a hard link when possible), atomically."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.link(source, tmp)
    except OSError:
        import shutil

        shutil.copyfile(source, tmp)
    os.replace(tmp, target)


def prune(run_dir: Path, keep: int) -> None:
    """Delete all but the newest `keep` numbered checkpoints (last.pt stays)."""
    numbered = sorted((run_dir / CHECKPOINT_DIR).glob("step_*.pt"))
    for path in numbered[: max(len(numbered) - keep, 0)]:
        path.unlink(missing_ok=True)


def load_training_state(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"training checkpoint not found: {path}")
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ValueError(
            f"{path} is not a segany training checkpoint (no format={FORMAT!r}); "
            "to start from plain weights use init_checkpoint"
        )
    if int(state.get("version", 0)) > VERSION:
        raise ValueError(
            f"{path} has checkpoint version {state.get('version')}, this segany reads <= {VERSION}"
        )
    return state

"""Which model and device a command runs: `resolve_model(spec, device)` and `resolve_device(name)`.

Default model (no --model): the best weights present offline, in `DEFAULT_PREFERENCE` order: the largest
official checkpoint in the cache, else our bundled `segany_small_v2`, else `segany_small` (bundled weights are
listed in segany/pretrained/manifest.json, as the package ships them). With neither: `vit_tiny` with seeded random weights
and a loud warning, so commands still run end to end (the masks are then meaningless).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from segany import weights as weights_lib
from segany.cli.common import CliError, warn

if TYPE_CHECKING:
    import torch

    from segany.modeling.sam import Sam

T = TypeVar("T")

# Weights names tried, best first, when no --model is given: official checkpoints, then our bundled model.
DEFAULT_PREFERENCE: tuple[str, ...] = ("vit_h", "vit_l", "vit_b", "segany_small_v2", "segany_small")
# Architecture built with random weights when nothing is present offline.
FALLBACK_ARCH = "vit_tiny"
RANDOM_SEED = 0
DEVICES = ("auto", "cpu", "cuda", "mps")


@dataclass(frozen=True)
class ModelDescription:
    """What `resolve_model` chose: `spec` reproduces it (`--model spec`), `source` says where weights came from."""

    arch: str  # registry architecture name (vit_b, ...)
    source: str  # "official" | "bundled" | "checkpoint" | "random"
    spec: str  # a --model value giving the same model
    weights: str | None = None  # weights file, None for random weights

    @property
    def is_random(self) -> bool:
        return self.source == "random"

    def __str__(self) -> str:
        if self.is_random:
            return f"{self.arch} (RANDOM weights, seed {RANDOM_SEED}: masks are meaningless)"
        return f"{self.arch} ({self.source} weights {self.weights})"

    def to_dict(self) -> dict[str, str | None]:
        return {"arch": self.arch, "source": self.source, "spec": self.spec, "weights": self.weights}


def catalog() -> list[weights_lib.WeightsInfo]:
    """The weights the CLI knows (download, list, default choice), best first."""
    known = weights_lib.all_weights()
    return [known[name] for name in DEFAULT_PREFERENCE if name in known]


def resolve_device(name: str | None) -> torch.device:
    """auto (or None) -> cuda if available, else mps, else cpu; an unavailable explicit device is a CliError."""
    import torch

    choice = (name or "auto").lower()
    cuda = torch.cuda.is_available()
    mps = bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()
    if choice == "auto":
        return torch.device("cuda" if cuda else "mps" if mps else "cpu")
    if choice == "cuda" and not cuda:
        raise CliError(
            f"--device cuda: CUDA is not available (torch {torch.__version__}, "
            f"built with CUDA {torch.version.cuda or 'none'}); use --device cpu or --device auto"
        )
    if choice == "mps" and not mps:
        raise CliError(
            "--device mps: Apple MPS is not available on this machine; use --device cpu or --device auto"
        )
    if choice not in DEVICES:
        raise CliError(f"--device must be one of {', '.join(DEVICES)}, got {name!r}")
    return torch.device(choice)


def resolve_model(
    spec: str | None, device: torch.device | str | None = None, arch: str | None = None
) -> tuple[Sam, ModelDescription]:
    """Build the model a command asked for, in eval mode on `device`.

    Args:
        spec: None (best available offline, see module docstring), a registry name (`vit_h`, `vit_l`,
            `vit_b`, `default`, `vit_tiny`) or a checkpoint file.
        arch: architecture of a checkpoint file (default: inferred from its tensor shapes).

    Raises:
        CliError: unknown name, official weights not in the cache, a checkpoint that does not fit.
    """
    from segany.registry import ALIASES, CONFIGS

    named = spec is not None and (spec in CONFIGS or spec in ALIASES or spec in _known_weights())
    if arch is not None and (spec is None or named):
        raise CliError("--arch applies to a checkpoint file given with --model PATH")
    if spec is None:
        sam, description = _default_model()
    elif named:
        sam, description = _named_model(ALIASES.get(spec, spec))
    else:
        sam, description = _checkpoint_model(Path(spec), arch)
    if device is not None:
        sam = sam.to(device)
    return sam.eval(), description


def default_weights() -> str | None:
    """The weights name used when no --model is given, or None (random `FALLBACK_ARCH`)."""
    known = weights_lib.all_weights()
    for name in DEFAULT_PREFERENCE:
        if name in known and weights_lib.find_local(name) is not None:
            return name
    return None


def _default_model() -> tuple[Sam, ModelDescription]:
    name = default_weights()
    if name is not None:
        info = weights_lib.weights_info(name)
        return _weights_model(info, weights_lib.weights_path(name))
    warn(
        f"no pretrained weights found in {weights_lib.cache_dir()}: falling back to {FALLBACK_ARCH} with RANDOM "
        f"weights (seed {RANDOM_SEED}), so the masks are meaningless. Get real weights with "
        "`segany weights download vit_b` (or pass --model PATH)"
    )
    return _random_model(FALLBACK_ARCH)


def _known_weights() -> dict[str, weights_lib.WeightsInfo]:
    return {info.name: info for info in catalog()}


def _named_model(name: str) -> tuple[Sam, ModelDescription]:
    """A weights name (vit_b, ...) loads its cached file; an architecture without weights is random."""
    info = _known_weights().get(name)
    if info is None:
        warn(
            f"{name} has no pretrained weights: using RANDOM weights (seed {RANDOM_SEED}), masks are meaningless"
        )
        return _random_model(name)
    path = weights_lib.find_local(info.name)
    if path is None:
        raise CliError(
            f"the {info.name} weights ({info.file_name}) are not in {weights_lib.cache_dir()}: run "
            f"`segany weights download {info.name}`, or pass a checkpoint file with --model PATH"
        )
    return _weights_model(info, path)


def _weights_model(info: weights_lib.WeightsInfo, path: Path) -> tuple[Sam, ModelDescription]:
    from segany.registry import build_sam, resolve_config

    sam = _build_checked(lambda: build_sam(resolve_config(info.model), checkpoint=path), path)
    source = "official" if info.name in weights_lib.OFFICIAL_WEIGHTS else "bundled"
    return sam, ModelDescription(info.model, source, info.name, str(path))


def random_model(arch: str) -> tuple[Sam, ModelDescription]:
    """Architecture `arch` (registry name) with seeded random weights, for tests and benchmarks.

    Raises:
        CliError: `arch` is not a registry architecture.
    """
    from segany.registry import ALIASES, CONFIGS

    name = ALIASES.get(arch, arch)
    if name not in CONFIGS:
        raise CliError(f"--random-weights needs an architecture ({', '.join(CONFIGS)}), got {arch!r}")
    return _random_model(name)


def _random_model(arch: str) -> tuple[Sam, ModelDescription]:
    import torch

    from segany.registry import build_sam, resolve_config

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(RANDOM_SEED)
        sam = build_sam(resolve_config(arch))
    return sam, ModelDescription(arch, "random", arch)


def _checkpoint_model(path: Path, arch: str | None) -> tuple[Sam, ModelDescription]:
    from segany.checkpoint import load_state_dict_into, read_state_dict
    from segany.registry import ALIASES, CONFIGS, PATCH_SIZE, build_sam, infer_model_name, resolve_config

    if not path.is_file():
        known = ", ".join(sorted([*CONFIGS, *ALIASES]))
        hint = f" ({path} is a folder)" if path.is_dir() else ""
        raise CliError(
            f"--model must be a registry name ({known}) or a checkpoint file; {str(path)!r} is neither{hint}"
        )
    state = _build_checked(lambda: read_state_dict(path), path)
    if arch is None:
        name, image_size = _build_checked(lambda: infer_model_name(state), path)
    else:
        try:
            config = resolve_config(arch)
        except ValueError as exc:
            raise CliError(f"--arch: {exc}") from exc
        name = ALIASES.get(arch, arch)
        pos = state.get("image_encoder.pos_embed")
        image_size = (
            int(pos.shape[1]) * PATCH_SIZE if pos is not None and pos.ndim == 4 else config.image_size
        )
    config = resolve_config(name)
    sam = build_sam(config.with_image_size(image_size))
    _build_checked(lambda: load_state_dict_into(sam, state, strict=True, source=f"checkpoint {path}"), path)
    resolved = str(path.resolve())
    return sam, ModelDescription(name, "checkpoint", resolved, resolved)


def _build_checked(step: Callable[[], T], path: Path) -> T:
    """Run a loading step; library errors about the file become one-line CliErrors."""
    try:
        return step()
    except FileNotFoundError as exc:
        raise CliError(str(exc)) from exc
    except ValueError as exc:  # CheckpointMismatchError, unreadable file, unknown architecture
        raise CliError(f"cannot use {path} as a model: {exc}") from exc

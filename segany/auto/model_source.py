"""How a process (the driver, or a Ray actor on another node) builds the model of a `segany auto` run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from segany.cli.models import ModelDescription
    from segany.modeling.sam import Sam


@dataclass(frozen=True)
class ModelSource:
    """How a process (the driver, or a Ray actor elsewhere) builds the run's model.

    ``spec`` and ``arch`` are the CLI's ``--model`` / ``--arch`` (None: the best weights present offline);
    ``device`` is the CLI's ``--device`` (auto, cpu, cuda, mps), resolved by the process that loads the model.
    Picklable, so it travels to Ray actors instead of the weights.
    """

    spec: str | None = None
    arch: str | None = None
    device: str = "auto"

    def load(self) -> tuple[Sam, ModelDescription]:
        """(model in eval mode on the device, what was loaded: ``str()`` describes it, ``.spec`` reproduces it)."""
        from segany.cli.models import resolve_device, resolve_model

        return resolve_model(self.spec, resolve_device(self.device), self.arch)

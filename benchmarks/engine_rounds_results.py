"""What `engine_rounds.py` measures for one model version, and the table it prints of all versions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class VersionResult:
    name: str
    noc85: list[int] = field(default_factory=list)
    noc90: list[int] = field(default_factory=list)
    iou1: list[float] = field(default_factory=list)
    iou3: list[float] = field(default_factory=list)
    semi85: list[int] = field(default_factory=list)
    semi90: list[int] = field(default_factory=list)
    prefilled: int = 0
    train_clicks: list[int] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        def mean(values: Sequence[float]) -> float | None:
            return float(np.mean(values)) if len(values) else None

        return {
            "version": self.name,
            "heldout_masks": len(self.noc90),
            "NoC@85": mean(self.noc85),
            "NoC@90": mean(self.noc90),
            "mIoU@1": mean(self.iou1),
            "mIoU@3": mean(self.iou3),
            "semi_clicks@85": mean(self.semi85),
            "semi_clicks@90": mean(self.semi90),
            "kept@85": mean([c == 0 for c in self.semi85]),
            "kept@90": mean([c == 0 for c in self.semi90]),
            "prefilled_masks": self.prefilled,
            "train_masks": len(self.train_clicks),
            "train_clicks_per_mask": mean(self.train_clicks),
            "seconds": self.seconds,
        }


def print_table(rows: list[dict[str, Any]]) -> None:
    def cell(value: Any) -> str:
        return f"{value:.2f}" if isinstance(value, float) else "-" if value is None else str(value)

    keys = (
        "version",
        "heldout_masks",
        "NoC@85",
        "NoC@90",
        "mIoU@1",
        "mIoU@3",
        "semi_clicks@85",
        "semi_clicks@90",
        "kept@85",
        "kept@90",
        "prefilled_masks",
        "train_masks",
        "train_clicks_per_mask",
    )
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for row in rows:
        print("| " + " | ".join(cell(row[key]) for key in keys) + " |")

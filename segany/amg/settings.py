"""GeneratorSettings: the validated parameters of SamAutomaticMaskGenerator (official names and defaults)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np

OUTPUT_MODES = ("binary_mask", "uncompressed_rle", "coco_rle")


def _integer(value: object, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _real(value: object, name: str, low: float, high: float, *, high_open: bool = False) -> float:
    number = float(value) if isinstance(value, Real) and not isinstance(value, bool) else math.nan
    inside = math.isfinite(number) and low <= number and (number < high if high_open else number <= high)
    if not inside:
        bracket = ")" if high_open else "]"
        raise ValueError(f"{name} must be a number in [{low}, {high}{bracket}, got {value!r}")
    return number


def _point_grids(grids: object, n_layers: int) -> tuple[np.ndarray, ...]:
    if isinstance(grids, np.ndarray) or not isinstance(grids, Sequence) or len(grids) < n_layers + 1:
        raise ValueError(
            f"point_grids must be a list of crop_n_layers + 1 = {n_layers + 1} arrays of N x 2 (x, y) points "
            f"in [0, 1], got {type(grids).__name__}"
            + (f" of length {len(grids)}" if isinstance(grids, Sequence) else "")
        )
    checked = []
    for layer, grid in enumerate(grids):
        array = np.asarray(grid, dtype=np.float64)
        if array.ndim != 2 or array.shape[1] != 2 or array.shape[0] == 0:
            raise ValueError(
                f"point_grids[{layer}] must be N x 2 (x, y) with N >= 1, got shape {array.shape}"
            )
        if not np.all((array >= 0) & (array <= 1)):
            raise ValueError(f"point_grids[{layer}] must hold normalised coordinates in [0, 1]")
        checked.append(array)
    return tuple(checked)


@dataclass(frozen=True, eq=False)  # eq=False: point_grids holds arrays
class GeneratorSettings:
    """Everything-mode parameters; construction validates them (ValueError naming the argument).

    The official parameters keep their names and defaults. Extras: ``points_per_batch=None`` lets the
    generator choose the decoder batch from the model's size, and ``max_mask_fraction`` drops masks covering
    at least that fraction of the image (the SAM paper used 0.95).
    """

    points_per_side: int | None = 32
    points_per_batch: int | None = 64
    pred_iou_thresh: float = 0.88
    stability_score_thresh: float = 0.95
    stability_score_offset: float = 1.0
    box_nms_thresh: float = 0.7
    crop_n_layers: int = 0
    crop_nms_thresh: float = 0.7
    crop_overlap_ratio: float = 512 / 1500
    crop_n_points_downscale_factor: int = 1
    point_grids: Sequence[np.ndarray] | None = None
    min_mask_region_area: float = 0
    output_mode: str = "binary_mask"
    max_mask_fraction: float | None = None

    def __post_init__(self) -> None:
        fix = object.__setattr__  # frozen: store the normalised values
        layers = _integer(self.crop_n_layers, "crop_n_layers", 0)
        fix(self, "crop_n_layers", layers)
        factor = _integer(self.crop_n_points_downscale_factor, "crop_n_points_downscale_factor", 1)
        fix(self, "crop_n_points_downscale_factor", factor)
        if (self.points_per_side is None) == (self.point_grids is None):
            raise ValueError(
                "exactly one of points_per_side or point_grids must be given (set the other to None), got "
                f"points_per_side={self.points_per_side!r} and point_grids "
                f"{'None' if self.point_grids is None else 'given'}"
            )
        if self.points_per_side is not None:
            side = _integer(self.points_per_side, "points_per_side", 1)
            if side // factor**layers < 1:
                raise ValueError(
                    f"points_per_side={side} leaves no points at crop layer {layers} with "
                    f"crop_n_points_downscale_factor={factor} ({side} // {factor}**{layers} = 0)"
                )
            fix(self, "points_per_side", side)
        else:
            fix(self, "point_grids", _point_grids(self.point_grids, layers))
        if self.points_per_batch is not None:
            fix(self, "points_per_batch", _integer(self.points_per_batch, "points_per_batch", 1))
        for name in ("pred_iou_thresh", "stability_score_thresh", "box_nms_thresh", "crop_nms_thresh"):
            fix(self, name, _real(getattr(self, name), name, 0.0, 1.0))
        fix(
            self,
            "stability_score_offset",
            _real(self.stability_score_offset, "stability_score_offset", 0.0, math.inf),
        )
        fix(
            self,
            "crop_overlap_ratio",
            _real(self.crop_overlap_ratio, "crop_overlap_ratio", 0.0, 1.0, high_open=True),
        )
        area = self.min_mask_region_area
        checked_area = _real(area, "min_mask_region_area", 0.0, math.inf)
        fix(self, "min_mask_region_area", int(area) if isinstance(area, Integral) else checked_area)
        if self.output_mode not in OUTPUT_MODES:
            raise ValueError(
                f"output_mode must be one of {', '.join(OUTPUT_MODES)}; got {self.output_mode!r}"
            )
        if self.max_mask_fraction is not None:
            fraction = _real(self.max_mask_fraction, "max_mask_fraction", 0.0, 1.0)
            if fraction == 0.0:
                raise ValueError("max_mask_fraction must be in (0, 1] (or None for no limit), got 0")
            fix(self, "max_mask_fraction", fraction)

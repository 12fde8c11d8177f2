"""Generator settings: argument validation, presets, the automatic points_per_batch, MaskData, block RLE."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from generator_testing import tiny_twins
from hypothesis import given, settings
from hypothesis import strategies as st

from segany.amg import (
    PRESETS,
    MaskData,
    SamAutomaticMaskGenerator,
    auto_points_per_batch,
    get_preset,
    masks_to_rle,
)
from segany.amg.block_rle import block_to_rle_counts, mask_to_rle_counts
from segany.amg.settings import GeneratorSettings
from segany.geometry import mask_box_xyxy

OFFICIAL_DEFAULTS = {
    "points_per_side": 32,
    "points_per_batch": 64,
    "pred_iou_thresh": 0.88,
    "stability_score_thresh": 0.95,
    "stability_score_offset": 1.0,
    "box_nms_thresh": 0.7,
    "crop_n_layers": 0,
    "crop_nms_thresh": 0.7,
    "crop_overlap_ratio": 512 / 1500,
    "crop_n_points_downscale_factor": 1,
    "point_grids": None,
    "min_mask_region_area": 0,
    "output_mode": "binary_mask",
}


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    return tiny_twins(blob_decoder=True)[1]


def test_signature_has_every_official_parameter_and_default() -> None:
    import inspect

    from segment_anything import SamAutomaticMaskGenerator as Oracle

    ours = inspect.signature(SamAutomaticMaskGenerator.__init__).parameters
    official = inspect.signature(Oracle.__init__).parameters
    assert list(official) == list(ours)[: len(official)]  # same names, same order
    for name, expected in OFFICIAL_DEFAULTS.items():
        assert ours[name].default == expected == official[name].default, name
    assert ours["max_mask_fraction"].default is None


def test_official_attributes(model: torch.nn.Module) -> None:
    generator = SamAutomaticMaskGenerator(model)
    for name, value in OFFICIAL_DEFAULTS.items():
        if name != "point_grids" and name != "points_per_side":
            assert getattr(generator, name) == value, name
    assert len(generator.point_grids) == 1 and generator.point_grids[0].shape == (32 * 32, 2)
    assert generator.predictor.model is model


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"points_per_side": 0}, "points_per_side"),
        ({"points_per_side": 2.5}, "points_per_side"),
        ({"points_per_side": True}, "points_per_side"),
        ({"points_per_side": None}, "points_per_side"),  # and no point_grids
        ({"point_grids": [np.full((4, 2), 0.5)]}, "point_grids"),  # and points_per_side
        ({"points_per_side": None, "point_grids": [np.full((4, 3), 0.5)]}, "point_grids"),
        ({"points_per_side": None, "point_grids": [np.full((4, 2), 1.5)]}, "point_grids"),
        ({"points_per_side": None, "point_grids": [np.full((4, 2), 0.5)], "crop_n_layers": 1}, "point_grids"),
        ({"points_per_batch": 0}, "points_per_batch"),
        ({"pred_iou_thresh": 1.5}, "pred_iou_thresh"),
        ({"pred_iou_thresh": float("nan")}, "pred_iou_thresh"),
        ({"pred_iou_thresh": "0.8"}, "pred_iou_thresh"),
        ({"stability_score_thresh": -0.1}, "stability_score_thresh"),
        ({"stability_score_offset": -1.0}, "stability_score_offset"),
        ({"box_nms_thresh": 2.0}, "box_nms_thresh"),
        ({"crop_nms_thresh": -0.5}, "crop_nms_thresh"),
        ({"crop_n_layers": -1}, "crop_n_layers"),
        ({"crop_overlap_ratio": 1.0}, "crop_overlap_ratio"),
        ({"crop_n_points_downscale_factor": 0}, "crop_n_points_downscale_factor"),
        ({"points_per_side": 4, "crop_n_layers": 3, "crop_n_points_downscale_factor": 2}, "points_per_side"),
        ({"min_mask_region_area": -5}, "min_mask_region_area"),
        ({"output_mode": "png"}, "output_mode"),
        ({"max_mask_fraction": 0.0}, "max_mask_fraction"),
        ({"max_mask_fraction": 1.2}, "max_mask_fraction"),
    ],
)
def test_bad_arguments_raise_value_error_naming_them(
    model: torch.nn.Module, kwargs: dict[str, Any], name: str
) -> None:
    with pytest.raises(ValueError, match=name):
        SamAutomaticMaskGenerator(model, **kwargs)


def test_model_must_be_a_sam() -> None:
    with pytest.raises(TypeError, match="model"):
        SamAutomaticMaskGenerator(torch.nn.Linear(2, 2))


def test_explicit_point_grids(model: torch.nn.Module) -> None:
    grids = [np.array([[0.25, 0.5], [0.75, 0.5]]), np.array([[0.5, 0.5]])]
    generator = SamAutomaticMaskGenerator(model, points_per_side=None, point_grids=grids, crop_n_layers=1)
    assert [g.tolist() for g in generator.point_grids] == [g.tolist() for g in grids]


def test_auto_points_per_batch(model: torch.nn.Module) -> None:
    assert auto_points_per_batch(model) == 16  # 256 x 64 x 64 embedding: ~32 MB of activations per point
    assert SamAutomaticMaskGenerator(model, points_per_batch=None).points_per_batch == 16
    assert GeneratorSettings(points_per_batch=None).points_per_batch is None


# ---------------------------------------------------------------------------------------------- presets
def test_presets() -> None:
    assert set(PRESETS) == {"official", "sa1b", "dense", "fast"}
    official = get_preset("official")
    not_in_presets = ("point_grids", "points_per_batch", "output_mode")
    assert official == {k: v for k, v in OFFICIAL_DEFAULTS.items() if k not in not_in_presets}
    sa1b = get_preset("sa1b")
    assert {k: sa1b[k] for k in sa1b if sa1b[k] != official.get(k)} == {
        "crop_n_layers": 2,
        "crop_n_points_downscale_factor": 2,
        "min_mask_region_area": 100,
        "max_mask_fraction": 0.95,
    }
    assert sa1b["points_per_side"] == 32 and sa1b["pred_iou_thresh"] == 0.88
    assert sa1b["stability_score_thresh"] == 0.95 and sa1b["box_nms_thresh"] == 0.7
    dense = get_preset("dense")
    assert {k: dense[k] for k in dense if dense[k] != official.get(k)} == {
        "pred_iou_thresh": 0.86,
        "stability_score_thresh": 0.92,
        "crop_n_layers": 1,
        "crop_n_points_downscale_factor": 2,
        "min_mask_region_area": 100,
    }
    fast = get_preset("fast")
    assert fast["points_per_side"] == 16 and fast["crop_n_layers"] == 0


def test_get_preset_returns_a_fresh_dict_and_presets_are_read_only() -> None:
    preset = get_preset("sa1b")
    preset["points_per_side"] = 4
    assert get_preset("sa1b")["points_per_side"] == 32
    with pytest.raises(TypeError):
        PRESETS["sa1b"]["points_per_side"] = 4  # type: ignore[index]


def test_unknown_preset_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="official, sa1b, dense, fast"):
        get_preset("sa2b")


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_from_preset(model: torch.nn.Module, name: str) -> None:
    generator = SamAutomaticMaskGenerator.from_preset(model, name, output_mode="coco_rle", points_per_side=4)
    preset = get_preset(name)
    assert generator.output_mode == "coco_rle" and generator.point_grids[0].shape == (16, 2)
    assert generator.crop_n_layers == preset["crop_n_layers"]
    assert generator.min_mask_region_area == preset["min_mask_region_area"]
    assert generator.max_mask_fraction == preset.get("max_mask_fraction")
    with pytest.raises(TypeError):
        SamAutomaticMaskGenerator.from_preset(model, name, not_an_argument=1)


# ---------------------------------------------------------------------------------------------- MaskData
def _mask_data(n: int) -> MaskData:
    rng = np.random.default_rng(n)
    masks = rng.random((n, 5, 7)) < 0.4
    return MaskData(
        image_size=(5, 7),
        rles=[np.asarray(masks_to_rle(torch.from_numpy(m)[None])[0]["counts"]) for m in masks],
        boxes=rng.integers(0, 5, (n, 4)),
        iou_preds=rng.random(n).astype(np.float32),
        stability=rng.random(n).astype(np.float32),
        points=rng.random((n, 2)),
        crop_boxes=np.tile([0, 0, 7, 5], (n, 1)),
    )


def test_mask_data_select_concat_areas() -> None:
    data = _mask_data(6)
    picked = data.select(np.array([4, 1]))
    assert len(picked) == 2 and picked.rles[0] is data.rles[4]
    assert picked.points[1].tolist() == data.points[1].tolist()
    assert data.select(data.iou_preds > 2).boxes.shape == (0, 4)
    both = MaskData.concat([data, picked], (5, 7))
    assert len(both) == 8 and both.iou_preds[-1] == data.iou_preds[1]
    assert len(MaskData.concat([], (5, 7))) == 0
    assert data.areas().tolist() == [int(c[1::2].sum()) for c in data.rles]


# ---------------------------------------------------------------------------------------------- block RLE
@settings(max_examples=150, deadline=None)
@given(
    st.integers(1, 9),
    st.integers(1, 9),
    st.integers(0, 3),
    st.integers(0, 3),
    st.integers(0, 3),
    st.integers(0, 3),
    st.floats(0.0, 1.0),
    st.integers(0, 2**32 - 1),
)
def test_block_rle_equals_full_image_rle(
    h: int, w: int, top: int, left: int, bottom: int, right: int, density: float, seed: int
) -> None:
    block = np.random.default_rng(seed).random((h, w)) < density
    height, width = top + h + bottom, left + w + right
    image = np.zeros((height, width), dtype=bool)
    image[top : top + h, left : left + w] = block
    expected = masks_to_rle(torch.from_numpy(image)[None])[0]["counts"]
    assert block_to_rle_counts(block, top, left, height, width).tolist() == expected
    counts, box = mask_to_rle_counts(image)
    assert counts.tolist() == expected
    if image.any():
        ys, xs = np.nonzero(image)
        assert box == (xs.min(), ys.min(), xs.max(), ys.max()) == mask_box_xyxy(image)
    else:
        assert box is None and mask_box_xyxy(image) is None


def test_block_rle_rejects_blocks_outside_the_image() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        block_to_rle_counts(np.ones((3, 3), dtype=bool), 2, 0, 4, 4)

"""Generator internals: the streaming full-resolution stage (exactness and memory bound), max_mask_fraction,
small-region clean-up, input forms and degenerate crops."""

from __future__ import annotations

import weakref
from collections.abc import Iterator

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from generator_testing import as_binary, tiny_twins
from segment_anything import SamAutomaticMaskGenerator as OracleGenerator
from segment_anything.utils import amg as oracle_amg

from segany.amg import SamAutomaticMaskGenerator, full_res, rle_to_mask
from segany.amg.full_res import CropGeometry, MaskRule, group_size, masks_from_low_res
from segany.amg.mask_data import MaskData
from segany.amg.small_regions import clean_small_regions
from segany.geometry import resized_shape


@pytest.fixture(autouse=True)
def _single_torch_thread() -> Iterator[None]:
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def blob_model() -> torch.nn.Module:
    return tiny_twins(blob_decoder=True)[1]


def _blob_logits(n: int, seed: int, size: int = 256) -> torch.Tensor:
    """N x size x size logits: one textured bump each, at a random place, ~10-60 low-res pixels across."""
    generator = torch.Generator().manual_seed(seed)
    centres = torch.rand(n, 2, generator=generator) * size
    radii = 5 + torch.rand(n, generator=generator) * 25
    ys, xs = torch.meshgrid(torch.arange(size) + 0.5, torch.arange(size) + 0.5, indexing="ij")
    distance = ((xs - centres[:, 0, None, None]) ** 2 + (ys - centres[:, 1, None, None]) ** 2).sqrt()
    texture = F.interpolate(torch.randn(n, 1, size // 8, size // 8, generator=generator), size=(size, size))
    return 8.0 * (1.0 - distance / radii[:, None, None]) + texture[:, 0]


# ------------------------------------------------------------------------------------- full-resolution stage
@pytest.mark.parametrize(
    ("image_size", "crop_box"),
    [((300, 451), (0, 0, 451, 300)), ((300, 451), (120, 40, 451, 260)), ((427, 280), (0, 100, 200, 427))],
)
def test_full_res_stage_equals_official_postprocessing(
    image_size: tuple[int, int], crop_box: tuple[int, int, int, int]
) -> None:
    """Stability scores, boxes, crop-edge decisions and RLEs equal the official batch computation exactly."""
    low_res = _blob_logits(16, seed=sum(crop_box))
    crop_h, crop_w = crop_box[3] - crop_box[1], crop_box[2] - crop_box[0]
    input_size = resized_shape(crop_h, crop_w, 1024)
    geometry = CropGeometry(crop_box, image_size, input_size, 1024)

    # The official computation, whole batch at once (Sam.postprocess_masks + utils.amg).
    full = F.interpolate(low_res[:, None], (1024, 1024), mode="bilinear", align_corners=False)
    cropped = full[..., : input_size[0], : input_size[1]]
    full = F.interpolate(cropped, (crop_h, crop_w), mode="bilinear", align_corners=False)[:, 0]
    stability = oracle_amg.calculate_stability_score(full, 0.0, 1.0)
    binary = full > 0.0
    boxes = oracle_amg.batched_mask_to_box(binary)
    image_h, image_w = image_size
    near = oracle_amg.is_box_near_crop_edge(boxes, list(crop_box), [0, 0, image_w, image_h])
    keep = torch.nonzero((stability >= 0.3) & ~near)[:, 0]
    uncropped = oracle_amg.uncrop_masks(binary[keep], list(crop_box), image_h, image_w)
    rles = oracle_amg.mask_to_rle_pytorch(uncropped)

    result = masks_from_low_res(low_res, geometry, MaskRule(0.0, 1.0, 0.3), max_group_bytes=1)  # groups of 1
    assert result.kept.tolist() == keep.tolist()
    assert 0 < len(keep) < len(low_res) and (crop_box[:2] == (0, 0) or near.any())  # both filters bite
    assert result.stability.tolist() == stability[keep].tolist()  # bit-identical
    assert result.boxes.tolist() == boxes[keep].tolist()
    assert [r.tolist() for r in result.rles] == [r["counts"] for r in rles]
    grouped = masks_from_low_res(low_res, geometry, MaskRule(0.0, 1.0, 0.3))  # default groups
    assert (
        grouped.kept.tolist() == result.kept.tolist()
        and grouped.stability.tolist() == result.stability.tolist()
    )


def test_full_res_stage_without_stability_filter_keeps_nan_scores() -> None:
    """An all-negative candidate is empty at every threshold: NaN stability, kept when the filter is off."""
    low_res = torch.full((1, 256, 256), -5.0)
    geometry = CropGeometry((0, 0, 40, 30), (30, 40), resized_shape(30, 40, 1024), 1024)
    kept = masks_from_low_res(low_res, geometry, MaskRule(0.0, 1.0, None))
    assert kept.kept.tolist() == [0] and np.isnan(kept.stability[0]) and kept.boxes.tolist() == [[0, 0, 0, 0]]
    assert kept.rles[0].tolist() == [30 * 40]
    assert len(masks_from_low_res(low_res, geometry, MaskRule(0.0, 1.0, 0.1)).kept) == 0


def test_group_size_bounds_memory() -> None:
    assert group_size((1500, 2250), 1024, 64 * 2**20) == 3
    assert group_size((6000, 9000), 1024, 64 * 2**20) == 1
    assert group_size((300, 451), 1024, 64 * 2**20) == 14


def test_peak_full_resolution_maps_stay_bounded(
    blob_model: torch.nn.Module, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a large image, at most one small group of full-resolution float maps is alive at any time."""
    alive: list[weakref.ref] = []
    peak = {"maps": 0, "calls": 0}
    real = full_res.upscale_mask_logits

    def counting(*args: object, **kwargs: object) -> torch.Tensor:
        out = real(*args, **kwargs)
        alive[:] = [ref for ref in alive if ref() is not None]
        alive.append(weakref.ref(out))
        peak["maps"] = max(peak["maps"], sum(ref().shape[1] for ref in alive if ref() is not None))
        peak["calls"] += 1
        return out

    monkeypatch.setattr(full_res, "upscale_mask_logits", counting)
    height, width = 1800, 2400
    ramp = np.linspace(0, 255, width, dtype=np.float32)[None, :, None]
    image = np.broadcast_to(ramp, (height, width, 3)).astype(np.uint8)
    generator = SamAutomaticMaskGenerator(
        blob_model, points_per_side=3, pred_iou_thresh=0.0, stability_score_thresh=0.0, output_mode="coco_rle"
    )
    records = generator.generate(image)
    expected_group = group_size((height, width), 1024, full_res.FULL_RES_GROUP_BYTES)
    assert peak["calls"] >= 27 // expected_group  # all 27 candidates went through, a group at a time
    assert peak["maps"] <= expected_group <= 4  # the official would hold all 27 (9 points x 3)
    assert len(records) > 0 and all(isinstance(r["segmentation"]["counts"], str) for r in records)


# ------------------------------------------------------------------------------------- generator extras
@pytest.fixture(scope="module")
def chelsea_runs(
    blob_model: torch.nn.Module, fixture_photos: dict[str, np.ndarray]
) -> tuple[list, list, float]:
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        kwargs = {"points_per_side": 6, "pred_iou_thresh": 0.0, "stability_score_thresh": 0.0}
        image = fixture_photos["chelsea.jpg"]
        everything = SamAutomaticMaskGenerator(blob_model, **kwargs).generate(image)
        fraction = 0.1
        limited = SamAutomaticMaskGenerator(blob_model, max_mask_fraction=fraction, **kwargs).generate(image)
    finally:
        torch.set_num_threads(previous)
    return everything, limited, fraction


def test_max_mask_fraction_drops_large_masks_only(chelsea_runs: tuple[list, list, float]) -> None:
    everything, limited, fraction = chelsea_runs
    height, width = everything[0]["segmentation"].shape
    expected = [r for r in everything if np.count_nonzero(r["segmentation"]) < fraction * height * width]
    assert 0 < len(expected) < len(everything)  # the case drops some masks and keeps some
    assert len(limited) == len(expected)
    for mine, ref in zip(limited, expected):
        assert np.array_equal(mine["segmentation"], ref["segmentation"])
        assert {k: v for k, v in mine.items() if k != "segmentation"} == {
            k: v for k, v in ref.items() if k != "segmentation"
        }


def test_records_are_consistent(chelsea_runs: tuple[list, list, float]) -> None:
    """area / bbox / crop_box agree with the mask itself; types are plain Python (JSON-ready)."""
    everything, _, _ = chelsea_runs
    for record in everything:
        mask = record["segmentation"]
        assert mask.dtype == np.bool_ and mask.flags.c_contiguous
        assert record["area"] == int(np.count_nonzero(mask)) and isinstance(record["area"], int)
        ys, xs = np.nonzero(mask)
        x0, y0 = int(xs.min()), int(ys.min())
        assert record["bbox"] == [x0, y0, int(xs.max()) - x0, int(ys.max()) - y0]
        assert record["crop_box"] == [0, 0, mask.shape[1], mask.shape[0]]
        assert all(isinstance(v, float) for v in (record["predicted_iou"], record["stability_score"]))
        assert len(record["point_coords"]) == 1 and len(record["point_coords"][0]) == 2


def test_clean_small_regions_semantics() -> None:
    """Changed masks lose NMS ties to unchanged ones; boxes and RLEs follow the cleaned masks."""
    height, width = 40, 50
    masks = np.zeros((3, height, width), dtype=bool)
    masks[0, 5:30, 5:30] = True  # clean: unchanged
    masks[1, 5:30, 5:30] = True
    masks[1, 35:37, 45:47] = True  # + a 4-px island: changed, box shrinks to mask 0's -> suppressed
    masks[2, 10:20, 32:48] = True
    masks[2, 14:16, 38:40] = True  # nothing small: a 4-px hole is filled below
    masks[2, 14:16, 38:40] = False
    data = MaskData(
        image_size=(height, width),
        rles=[
            np.asarray(oracle_amg.mask_to_rle_pytorch(torch.from_numpy(m)[None])[0]["counts"]) for m in masks
        ],
        boxes=oracle_amg.batched_mask_to_box(torch.from_numpy(masks)).numpy(),
        iou_preds=np.array([0.5, 0.9, 0.7], dtype=np.float32),
        stability=np.ones(3, dtype=np.float32),
        points=np.zeros((3, 2)),
        crop_boxes=np.tile([0, 0, width, height], (3, 1)),
    )
    cleaned = clean_small_regions(data, min_area=10, nms_thresh=0.7)
    assert cleaned.iou_preds.tolist() == [0.5, 0.699999988079071]  # mask 0 (unchanged) first, mask 2 kept
    filled = rle_to_mask({"size": [height, width], "counts": cleaned.rles[1]})
    assert filled[14:16, 38:40].all() and cleaned.boxes[1].tolist() == [32, 10, 47, 19]

    reference = oracle_amg.MaskData(
        rles=[{"size": [height, width], "counts": counts.tolist()} for counts in data.rles],
        boxes=data.boxes.copy(),
        iou_preds=data.iou_preds.copy(),
    )
    reference = OracleGenerator.postprocess_small_regions(reference, 10, 0.7)
    assert [r["counts"] for r in reference["rles"]] == [c.tolist() for c in cleaned.rles]
    assert np.asarray(reference["boxes"]).tolist() == cleaned.boxes.tolist()


def test_grayscale_and_tiny_images(
    blob_model: torch.nn.Module, fixture_photos: dict[str, np.ndarray]
) -> None:
    """Inputs go through the predictor's image conversion; empty crops of tiny images are skipped."""
    generator = SamAutomaticMaskGenerator(
        blob_model,
        points_per_side=2,
        pred_iou_thresh=0.0,
        stability_score_thresh=0.0,
        output_mode="uncompressed_rle",
    )
    gray = fixture_photos["astronaut.jpg"][:64, :96, 0]
    from_gray = generator.generate(gray)
    from_rgb = generator.generate(np.repeat(gray[..., None], 3, axis=2))
    assert from_gray == from_rgb and len(from_gray) > 0
    tiny = SamAutomaticMaskGenerator(
        blob_model, points_per_side=2, crop_n_layers=1, pred_iou_thresh=0.0, stability_score_thresh=0.0
    )
    records = tiny.generate(np.full((1, 4, 3), 128, dtype=np.uint8))  # 2 of the 5 crop boxes are empty
    assert all(r["segmentation"].shape == (1, 4) for r in records)
    assert all(as_binary(r["segmentation"]).sum() == r["area"] for r in records)

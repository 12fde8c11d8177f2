"""SamAutomaticMaskGenerator vs the official generator (segment-anything 1.0) on the fixture photos.

Each case runs both generators once (oracle in ``uncompressed_rle``; ours as MaskData), then every output
mode is compared: the oracle's other modes are its own conversions of those RLEs (``rle_to_mask`` /
``coco_encode_rle``, exactly what its ``generate`` does per mode), ours go through ``to_records``.
Thresholds are lowered so that tens of masks survive random weights; one case keeps the defaults.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import torch
from generator_testing import as_binary, compare_records, tiny_twins
from segment_anything import SamAutomaticMaskGenerator as OracleGenerator
from segment_anything.utils import amg as oracle_amg

from segany.amg import SamAutomaticMaskGenerator

OUTPUT_MODES = ("binary_mask", "uncompressed_rle", "coco_rle")

# name -> (photo, decoder, generator kwargs). "blob": BlobDecoder in both models (local masks: crops, NMS and
# clean-up are exercised); "sam": the real decoder with random weights (NMS off: its masks all span the image).
CASES: dict[str, tuple[str, str, dict[str, Any]]] = {
    "blob-crop0": (
        "chelsea.jpg",
        "blob",
        {"points_per_side": 8, "pred_iou_thresh": 0.0, "stability_score_thresh": 0.0},
    ),
    "blob-crop1-clean100": (
        "chelsea.jpg",
        "blob",
        {
            "points_per_side": 8,
            "pred_iou_thresh": 0.9,
            "stability_score_thresh": 0.95,
            "crop_n_layers": 1,
            "crop_n_points_downscale_factor": 2,
            "min_mask_region_area": 100,
            "points_per_batch": 24,
        },
    ),
    "blob-defaults": ("astronaut.jpg", "blob", {"points_per_side": 8}),
    "sam-clean100": (
        "rocket_portrait.jpg",
        "sam",
        {
            "points_per_side": 6,
            "pred_iou_thresh": 0.5,
            "stability_score_thresh": 0.5,
            "box_nms_thresh": 1.0,
            "min_mask_region_area": 100,
        },
    ),
    "sam-defaults": ("dog.jpg", "sam", {"points_per_side": 4}),
}


@pytest.fixture(autouse=True)
def _single_torch_thread() -> Iterator[None]:
    """One intra-op thread: the shared 2-core machines run much slower with spinning OpenMP threads."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def twins() -> dict[str, tuple[Any, Any]]:
    return {"blob": tiny_twins(noise=0.05, blob_decoder=True), "sam": tiny_twins(noise=0.1)}


@pytest.fixture(scope="module")
def runs(twins: dict[str, tuple[Any, Any]], fixture_photos: dict[str, np.ndarray]) -> Any:
    """runs(case) -> (oracle records in uncompressed_rle, our MaskData, our kwargs), once per case."""
    cache: dict[str, Any] = {}

    def get(case: str) -> Any:
        if case not in cache:
            photo, decoder, kwargs = CASES[case]
            oracle_model, our_model = twins[decoder]
            previous = torch.get_num_threads()
            torch.set_num_threads(1)
            try:
                oracle_kwargs = {**kwargs, "points_per_batch": kwargs.get("points_per_batch") or 64}
                reference = OracleGenerator(oracle_model, output_mode="uncompressed_rle", **oracle_kwargs)
                expected = reference.generate(fixture_photos[photo])
                data = SamAutomaticMaskGenerator(our_model, **kwargs).generate_mask_data(
                    fixture_photos[photo]
                )
            finally:
                torch.set_num_threads(previous)
            cache[case] = (expected, data, our_model, kwargs)
        return cache[case]

    return get


def _oracle_in_mode(records: list[dict], mode: str) -> list[dict]:
    converted = []
    for record in records:
        rle = record["segmentation"]
        if mode == "binary_mask":
            segmentation = oracle_amg.rle_to_mask(rle)
        elif mode == "coco_rle":
            segmentation = oracle_amg.coco_encode_rle(rle)
        else:
            segmentation = rle
        converted.append({**record, "segmentation": segmentation})
    return converted


@pytest.mark.parametrize("mode", OUTPUT_MODES)
@pytest.mark.parametrize("case", list(CASES))
def test_matches_official(case: str, mode: str, runs: Any) -> None:
    expected, data, model, kwargs = runs(case)
    generator = SamAutomaticMaskGenerator(model, output_mode=mode, **kwargs)
    ours = generator.to_records(data)
    reference = _oracle_in_mode(expected, mode)
    compare_records(ours, reference)
    if case != "sam-defaults":
        assert len(ours) >= 10, f"{case}: only {len(ours)} masks survive; the case should exercise tens"
    for mine, ref in zip(ours, reference):
        if mode == "uncompressed_rle":
            assert mine["segmentation"] == ref["segmentation"]  # exact runs, same layout
        elif mode == "coco_rle":
            assert mine["segmentation"] == ref["segmentation"]  # same str counts as pycocotools
        else:
            assert mine["segmentation"].shape == ref["segmentation"].shape
            assert mine["segmentation"].dtype == np.bool_


def test_crop_case_keeps_masks_from_crops(runs: Any) -> None:
    """The crop case really exercises crops: masks from layer-1 crops survive the edge filter and crop NMS."""
    _, data, _, _ = runs("blob-crop1-clean100")
    height, width = data.image_size
    crop_boxes = {tuple(box) for box in data.crop_boxes.tolist()}
    assert (0, 0, width, height) in crop_boxes and len(crop_boxes) >= 3, crop_boxes


def test_coco_rle_is_pycocotools_bytes(runs: Any) -> None:
    """coco_rle counts equal pycocotools.mask.encode of the binary mask (as str)."""
    from pycocotools import mask as coco_mask

    _, data, model, kwargs = runs("blob-crop0")
    ours = SamAutomaticMaskGenerator(model, output_mode="coco_rle", **kwargs).to_records(data)
    for record in ours[:10]:
        binary = as_binary(record["segmentation"])
        encoded = coco_mask.encode(np.asfortranarray(binary.astype(np.uint8)))
        assert record["segmentation"]["counts"] == encoded["counts"].decode()
        assert record["segmentation"]["size"] == [int(v) for v in encoded["size"]]

"""Copy-paste and orientation crops (segany.training.augment): pixels and masks stay consistent."""

from __future__ import annotations

import numpy as np
import pytest

from segany.data.sample import Sample
from segany.training.augment import (
    AugmentSettings,
    MaskSelection,
    MixSettings,
    copy_paste,
    mix_sample,
    orientation_crop,
    prepare_sample,
)

TARGET_COLOUR = (10, 200, 30)
OBJECT_COLOUR = (250, 5, 120)


def _target(height: int = 60, width: int = 90) -> Sample:
    image = np.zeros((height, width, 3), np.uint8)
    image[:] = TARGET_COLOUR
    left = np.zeros((height, width), bool)
    left[10:50, 5:40] = True
    right = np.zeros((height, width), bool)
    right[20:30, 60:85] = True
    return Sample(image, [left, right], {"id": "t", "image_path": "t.jpg"})


def _donor() -> Sample:
    # A uniformly coloured disc on a noisy background: every pasted pixel must carry the disc's colour.
    rng = np.random.default_rng(5)
    image = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    yy, xx = np.mgrid[:40, :50]
    disc = (yy - 20) ** 2 + (xx - 24) ** 2 <= 12**2
    image[disc] = OBJECT_COLOUR
    return Sample(image, [disc], {"id": "d", "image_path": "d.jpg"})


@pytest.mark.parametrize("seed", range(6))
def test_copy_paste_keeps_pixels_and_masks_consistent(seed: int) -> None:
    target, donor = _target(), _donor()
    settings = MixSettings(copy_paste_prob=1.0, paste_scale=(0.2, 0.6))
    image, masks, meta = copy_paste(target, donor, settings, np.random.default_rng(seed))
    pasted = masks[-1]
    assert pasted.shape == target.image.shape[:2] and pasted.any()
    # Inside the pasted mask: the donor object's colour (nearest-resized mask, so no background leaks in
    # except where bilinear resizing blends at the rim); outside: the target untouched.
    inside = image[pasted]
    exact = np.all(inside == OBJECT_COLOUR, axis=1).mean()
    assert exact > 0.6, f"only {exact:.2f} of pasted pixels carry the object's colour"
    assert np.array_equal(image[~pasted], target.image[~pasted])
    # The pasted disc is round: its area matches a disc of its bounding box's width within 25%.
    _rows, cols = np.nonzero(pasted)
    width = cols.max() - cols.min() + 1
    assert abs(pasted.sum() / (np.pi * width**2 / 4) - 1) < 0.25
    # Target masks lose exactly the pasted pixels (or are dropped when mostly hidden).
    for before in target.masks:
        after = before & ~pasted
        if after.sum() >= settings.min_visible * before.sum():
            assert any(np.array_equal(after, m) for m in masks[:-1])
    assert not any((m & pasted).any() for m in masks[:-1])
    assert meta == target.meta


def test_copy_paste_at_unit_scale_copies_the_donor_pixels_exactly() -> None:
    # Target and object of one size with paste_scale forcing factor 1: the pasted pixels are the donor's.
    donor = _donor()
    target = _target(40, 50)
    settings = MixSettings(copy_paste_prob=1.0, paste_scale=(25 / 50, 25 / 50))  # disc bbox is 25 x 25
    image, masks, _ = copy_paste(target, donor, settings, np.random.default_rng(0))
    pasted = masks[-1]
    assert pasted.sum() == donor.masks[0].sum()
    assert np.all(image[pasted] == OBJECT_COLOUR)


def test_copy_paste_without_usable_donor_mask_returns_the_target() -> None:
    donor = Sample(np.zeros((8, 8, 3), np.uint8), [np.eye(8, dtype=bool)], {"id": "d", "image_path": "d"})
    target = _target()
    out = copy_paste(target, donor, MixSettings(min_paste_pixels=64), np.random.default_rng(0))
    assert out is target


@pytest.mark.parametrize(("height", "width"), [(60, 90), (90, 60)])
def test_orientation_crop_flips_orientation_and_cuts_masks_alike(height: int, width: int) -> None:
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    masks = [rng.random((height, width)) < 0.5, np.zeros((height, width), bool)]
    masks[1][: height // 2, : width // 2] = True
    settings = MixSettings(orientation_crop_prob=1.0, crop_aspect=(0.5, 0.9), min_visible=0.0)
    out_image, out_masks, _ = orientation_crop(Sample(image, masks, {"id": "x"}), settings, rng)
    h, w = out_image.shape[:2]
    assert (h > w) == (width > height)  # the other orientation
    assert 0.5 <= min(h, w) / max(h, w) <= 0.9 + 1 / max(h, w)
    # Find the window by matching pixels: the crop must be a contiguous window of the original, masks alike.
    windows = [
        (top, left)
        for top in range(height - h + 1)
        for left in range(width - w + 1)
        if np.array_equal(image[top : top + h, left : left + w], out_image)
    ]
    assert len(windows) == 1
    top, left = windows[0]
    kept = [m[top : top + h, left : left + w] for m in masks if m[top : top + h, left : left + w].any()]
    assert len(kept) == len(out_masks) and all(np.array_equal(a, b) for a, b in zip(kept, out_masks))


def test_orientation_crop_drops_masks_left_mostly_outside() -> None:
    image = np.random.default_rng(0).integers(0, 256, (50, 100, 3), dtype=np.uint8)
    masks = [np.zeros((50, 100), bool) for _ in range(3)]
    masks[0][:, :10] = True
    masks[1][20:30, 45:55] = True
    masks[2][:, 85:] = True
    settings = MixSettings(orientation_crop_prob=1.0, crop_aspect=(0.9, 0.9), min_visible=0.5)
    for seed in range(10):
        out_image, out_masks, _ = orientation_crop(
            Sample(image, masks, {"id": "x"}), settings, np.random.default_rng(seed)
        )
        assert out_image.shape[:2] == (50, 45)
        # The window's left edge, found from the pixels, decides which masks keep half their area.
        left = next(x for x in range(56) if np.array_equal(image[:, x : x + 45], out_image))
        expected = [m[:, left : left + 45] for m in masks if m[:, left : left + 45].sum() >= 0.5 * m.sum()]
        assert len(out_masks) == len(expected)
        assert all(np.array_equal(a, b) for a, b in zip(out_masks, expected))


def test_mix_sample_is_seeded_and_off_by_default() -> None:
    target, donor = _target(), _donor()
    on = MixSettings(copy_paste_prob=1.0, orientation_crop_prob=1.0)
    a = mix_sample(target, lambda r: donor, on, np.random.default_rng(3))
    b = mix_sample(target, lambda r: donor, on, np.random.default_rng(3))
    assert np.array_equal(a.image, b.image) and all(np.array_equal(x, y) for x, y in zip(a.masks, b.masks))
    assert a.image.shape[0] > a.image.shape[1]  # landscape target -> portrait crop
    off = mix_sample(target, lambda r: donor, MixSettings(), np.random.default_rng(3))
    assert off is target


def test_mixed_sample_goes_through_prepare_sample() -> None:
    target, donor = _target(), _donor()
    mixed = mix_sample(target, lambda r: donor, MixSettings(copy_paste_prob=1.0), np.random.default_rng(0))
    prepared = prepare_sample(
        mixed, 64, AugmentSettings.none(), MaskSelection(max_masks=8), np.random.default_rng(0)
    )
    assert prepared is not None
    assert prepared.masks.shape[0] == len(mixed.masks)
    assert prepared.masks[-1].any()

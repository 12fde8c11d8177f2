"""The interactive prompt simulation: where points and boxes land, their labels, noise bounds, layout."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from segany.evaluation.metrics import mask_to_box_xyxy
from segany.training.prompt_simulation import (
    add_points,
    first_prompts,
    iteration_schedule,
    mask_boxes,
    noisy_boxes,
    prediction_masks,
    sample_error_points,
    sample_uniform_points,
    valid_region,
)


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def random_masks(n: int, size: int = 64, seed: int = 0) -> torch.Tensor:
    """n rectangles of random position and size."""
    rng = np.random.default_rng(seed)
    masks = torch.zeros(n, size, size, dtype=torch.bool)
    for k in range(n):
        y0, x0 = rng.integers(0, size - 4, size=2)
        h, w = rng.integers(2, size - max(y0, x0), size=2) if size - max(y0, x0) > 2 else (2, 2)
        masks[k, y0 : y0 + h, x0 : x0 + w] = True
    return masks


def test_uniform_points_lie_in_their_regions_and_flag_empty_ones():
    regions = random_masks(40, seed=1)
    regions[7] = False
    coords, found = sample_uniform_points(regions, gen(0))
    assert coords.shape == (40, 2) and found.dtype == torch.bool
    assert not found[7] and found[torch.arange(40) != 7].all()
    x, y = coords[:, 0].long(), coords[:, 1].long()
    inside = regions[torch.arange(40), y, x]
    assert inside[found].all()


def test_uniform_points_are_uniform_over_the_region():
    region = torch.zeros(1, 16, 16, dtype=torch.bool)
    cells = [(2, 3), (2, 4), (10, 1), (15, 15)]  # (x, y)
    for x, y in cells:
        region[0, y, x] = True
    counts = dict.fromkeys(cells, 0)
    coords, _ = sample_uniform_points(region.expand(2000, 16, 16), gen(3))  # 2000 independent draws
    for x, y in coords.long().tolist():
        counts[(x, y)] += 1
    assert sum(counts.values()) == 2000
    assert all(400 < c < 600 for c in counts.values()), counts  # 500 each; 5 sigma is ~ +-97


def test_error_points_sit_in_the_error_region_with_the_right_labels():
    gt = random_masks(200, seed=2)
    pred = random_masks(200, seed=3)
    coords, labels = sample_error_points(pred, gt, gen(1))
    rows = torch.arange(200)
    x, y = coords[:, 0].long(), coords[:, 1].long()
    miss = gt[rows, y, x] & ~pred[rows, y, x]
    spill = pred[rows, y, x] & ~gt[rows, y, x]
    assert torch.equal(labels == 1, miss)
    assert torch.equal(labels == 0, spill)
    assert (labels >= 0).all()
    assert (labels == 1).any() and (labels == 0).any()


def test_error_points_respect_the_valid_area_and_report_perfect_masks():
    gt = torch.zeros(2, 32, 32, dtype=torch.bool)
    gt[:, 4:10, 4:10] = True
    pred = gt.clone()
    pred[0, 20:30, 20:30] = True  # a spill that lies outside the valid area below
    pred[1, 4:10, 4:8] = False  # a miss inside it
    valid = valid_region(torch.tensor([[16, 16], [16, 16]]), (32, 32))
    coords, labels = sample_error_points(pred, gt, gen(0), valid)
    assert labels.tolist() == [-1, 1]
    assert 4 <= coords[1, 0] < 8 and 4 <= coords[1, 1] < 10
    coords, labels = sample_error_points(gt, gt, gen(0))
    assert labels.tolist() == [-1, -1]


def test_mask_boxes_match_the_evaluation_convention():
    masks = random_masks(10, seed=4)
    boxes = mask_boxes(masks)
    for k in range(10):
        np.testing.assert_array_equal(boxes[k].numpy(), mask_to_box_xyxy(masks[k].numpy()))


def test_box_noise_is_bounded_by_20_px_and_clamped_to_the_image():
    masks = torch.zeros(1500, 256, 256, dtype=torch.bool)
    masks[:500, 20:250, 10:240] = True  # 230 px sides: std 23 px, so the 20 px clamp bites
    masks[500:1000, 100:150, 120:170] = True  # 50 px sides: std 5 px
    masks[1000:, 0:100, 200:256] = True  # touches the top and right borders
    true = mask_boxes(masks)
    noisy = noisy_boxes(masks, gen(5))
    delta = noisy - true
    assert delta.abs().max() <= 20.0 + 1e-4
    assert torch.isclose(delta[:500].abs().max(), torch.tensor(20.0))  # the clamp is reached
    assert (noisy >= 0).all() and (noisy <= 255).all()
    assert (noisy[:, 0] <= noisy[:, 2]).all() and (noisy[:, 1] <= noisy[:, 3]).all()
    std_small = delta[500:1000].std().item()
    assert 4.5 < std_small < 5.5  # 10% of the 50 px side
    assert (noisy[1000:, 1] == 0).float().mean() > 0.3  # pushed past the top edge, clamped to it
    assert (noisy[1000:, 2] == 255).float().mean() > 0.3


def test_box_noise_is_clamped_to_the_valid_area():
    masks = torch.zeros(500, 64, 64, dtype=torch.bool)
    masks[:, 10:40, 10:40] = True
    valid_hw = torch.tensor([[40, 40]]).expand(500, 2)
    noisy = noisy_boxes(masks, gen(6), valid_hw=valid_hw)
    assert noisy.max() <= 39 and noisy.min() >= 0
    assert (noisy[:, 2] == 39).any()


def test_first_prompts_choose_box_or_point_half_the_time_with_the_right_layout():
    masks = random_masks(50, seed=5)
    fractions = []
    for seed in range(40):
        prompts = first_prompts(masks, gen(seed))
        fractions.append(prompts.is_box.float().mean().item())
        box, point = prompts.is_box, ~prompts.is_box
        assert prompts.coords.shape == (50, 2, 2) and prompts.labels.shape == (50, 2)
        assert (prompts.labels[box] == torch.tensor([2, 3])).all()
        assert (prompts.labels[point] == torch.tensor([1, -1])).all()
        x, y = prompts.coords[point, 0, 0].long(), prompts.coords[point, 0, 1].long()
        assert masks[point][torch.arange(int(point.sum())), y, x].all()  # points are foreground
    overall = float(np.mean(fractions))
    assert 0.45 < overall < 0.55, overall  # 2000 draws: sigma ~ 0.011
    assert min(fractions) < overall < max(fractions)  # not the same split every seed


def test_first_prompts_are_deterministic_per_seed():
    masks = random_masks(20, seed=6)
    a, b, c = first_prompts(masks, gen(9)), first_prompts(masks, gen(9)), first_prompts(masks, gen(10))
    assert torch.equal(a.coords, b.coords) and torch.equal(a.labels, b.labels)
    assert not torch.equal(a.coords, c.coords)


def test_add_points_keeps_the_pad_and_the_box_corners_last():
    masks = random_masks(64, seed=7)
    prompts = first_prompts(masks, gen(1))
    assert prompts.is_box.any() and (~prompts.is_box).any()
    new = torch.full((64, 2), 7.0)
    labels = torch.zeros(64, dtype=torch.long)
    grown = add_points(add_points(prompts, new, labels), new + 1, labels + 1)
    box, point = prompts.is_box, ~prompts.is_box
    assert grown.labels.shape == (64, 4)
    assert (grown.labels[point] == torch.tensor([1, 0, 1, -1])).all()
    assert (grown.labels[box] == torch.tensor([0, 1, 2, 3])).all()
    assert torch.equal(grown.coords[box][:, 2:], prompts.coords[box])
    assert (grown.coords[point][:, 1] == 7).all() and (grown.coords[box][:, 1] == 8).all()
    assert grown.num_clicks[point].eq(3).all() and grown.num_clicks[box].eq(2).all()


def test_schedule_has_eight_points_and_two_mask_only_iterations_one_at_the_end():
    gaps = set()
    for seed in range(200):
        schedule = iteration_schedule(8, 2, gen(seed))
        assert len(schedule) == 10 and sum(schedule) == 8 and schedule[-1] is False
        gaps.add(schedule.index(False))
    assert gaps == set(range(9))  # the inserted one lands in every gap


def test_prediction_masks_upscale_low_res_logits_bilinearly():
    logits = torch.randn(3, 8, 8)
    full = prediction_masks(logits, (32, 32))
    expected = (
        torch.nn.functional.interpolate(logits[:, None], (32, 32), mode="bilinear", align_corners=False) > 0
    )
    assert torch.equal(full, expected[:, 0])


def test_a_cuda_generator_or_a_bad_shape_is_refused():
    with pytest.raises(ValueError, match="N x H x W"):
        sample_uniform_points(torch.zeros(4, 4, dtype=torch.bool), gen(0))
    with pytest.raises(ValueError, match="probability"):
        first_prompts(random_masks(2), gen(0), box_probability=1.5)

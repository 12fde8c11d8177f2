"""The page's pure modules, run in Chromium and checked against independent Python computations."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from pycocotools import mask as mask_utils

from tests.browser.serve_process import ServeProcess

if TYPE_CHECKING:
    from playwright.sync_api import Page


def column_major_counts(mask: np.ndarray) -> list[int]:
    """Uncompressed COCO RLE counts of a 2-D 0/1 mask, written out here from the definition."""
    flat = mask.flatten(order="F").astype(np.int64)
    changes = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate([[0], changes, [flat.size]])
    runs = np.diff(bounds).tolist()
    return runs if flat[0] == 0 else [0, *runs]


def blob_mask(height: int, width: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:height, :width]
    mask = np.zeros((height, width), dtype=np.uint8)
    for _ in range(4):
        cy, cx, r = rng.uniform(0, height), rng.uniform(0, width), rng.uniform(3, 12)
        mask |= ((yy - cy) ** 2 + (xx - cx) ** 2 < r * r).astype(np.uint8)
    return mask


@pytest.fixture
def module_page(page: Page, server: ServeProcess) -> Page:
    page.goto(f"{server.url}/static/index.html")
    return page


def evaluate(page: Page, script: str, arg: Any = None) -> Any:
    return page.evaluate(script, arg)


@pytest.mark.parametrize("corner", [0, 1])
def test_rle_decode_and_encode_agree_with_pycocotools(module_page: Page, corner: int) -> None:
    mask = blob_mask(37, 53, seed=3)
    mask[0, 0] = corner  # runs that start with a background run of length 0, or not
    counts = column_major_counts(mask)
    decoded, reencoded = evaluate(
        module_page,
        """async ({size, counts}) => {
            const rle = await import('/static/js/rle.js');
            const mask = rle.rleToMask({size, counts});
            return [Array.from(mask.data), rle.maskToRle(mask)];
        }""",
        {"size": [37, 53], "counts": counts},
    )
    np.testing.assert_array_equal(np.array(decoded, dtype=np.uint8).reshape(37, 53), mask)
    assert reencoded["size"] == [37, 53]
    compressed = mask_utils.frPyObjects(reencoded, 37, 53)
    np.testing.assert_array_equal(mask_utils.decode(compressed), mask)


@pytest.mark.parametrize(
    ("low_res", "frame", "original"),
    [(128, 512, (300, 451)), (256, 1024, (534, 800)), (256, 1024, (427, 280))],
)
def test_browser_mask_upsampling_matches_torch(
    module_page: Page, low_res: int, frame: int, original: tuple[int, int]
) -> None:
    # Smooth logits with a zero crossing inside, as a decoder gives.
    generator = torch.Generator().manual_seed(low_res + original[0])
    coarse = torch.randn(1, 1, 8, 8, generator=generator) * 4
    logits = F.interpolate(coarse, (low_res, low_res), mode="bicubic", align_corners=False)
    scale = frame / max(original)
    input_size = (int(original[0] * scale + 0.5), int(original[1] * scale + 0.5))
    full = F.interpolate(logits, (frame, frame), mode="bilinear", align_corners=False)
    full = full[..., : input_size[0], : input_size[1]]
    reference = F.interpolate(full, original, mode="bilinear", align_corners=False)[0, 0].numpy()
    counts = evaluate(
        module_page,
        """async ({logits, original, inputSize, frame, lowRes}) => {
            const up = await import('/static/js/mask_upsample.js');
            const rle = await import('/static/js/rle.js');
            const plan = up.upsamplePlan(original, inputSize, frame, lowRes);
            return rle.maskToRle(up.upsampleMask(plan, Float32Array.from(logits))).counts;
        }""",
        {
            "logits": logits.flatten().tolist(),
            "original": list(original),
            "inputSize": list(input_size),
            "frame": frame,
            "lowRes": low_res,
        },
    )
    ours = mask_utils.decode(mask_utils.frPyObjects({"size": list(original), "counts": counts}, *original))
    differs = ours.astype(bool) != (reference > 0)
    # Float32 rounding may flip only pixels whose logit is within a hair of the threshold.
    assert np.all(np.abs(reference[differs]) < 1e-4), np.abs(reference[differs]).max()
    assert (reference > 0).sum() > 100 and (reference <= 0).sum() > 100


def test_action_log_undo_redo_and_derived_state(module_page: Page) -> None:
    result = evaluate(
        module_page,
        """async () => {
            const { ActionLog, deriveState } = await import('/static/js/actions.js');
            const log = new ActionLog();
            const snap = () => {
                const s = deriveState(log.done);
                const last = s.steps[s.steps.length - 1] ?? null;
                return { steps: s.steps.length, points: last?.points ?? [], labels: last?.labels ?? [],
                         box: last?.box ?? null, choice: last?.choice ?? null,
                         objects: s.objects.map((o) => [o.id, o.label, o.hidden]) };
            };
            const out = {};
            log.push({ type: 'point', x: 10, y: 20, label: 1 });
            log.push({ type: 'choose', index: 2 });
            log.push({ type: 'point', x: 30, y: 40, label: 0 });
            log.push({ type: 'box', box: [1, 2, 50, 60] });
            out.prompt = snap();
            log.push({ type: 'accept', objectId: 1, label: 'cat', rle: { size: [1, 1], counts: [0, 1] }, score: 0.9 });
            out.accepted = snap();
            log.push({ type: 'hide', objectId: 1 });
            out.hidden = snap();
            log.undo(); log.undo();
            out.undone = snap();
            log.redo();
            out.redone = snap();
            log.undo();
            log.push({ type: 'reset' });
            out.branch = { canRedo: log.canRedo, state: snap() };
            return out;
        }""",
    )
    assert result["prompt"] == {
        "steps": 3,
        "points": [[10, 20], [30, 40]],
        "labels": [1, 0],
        "box": [1, 2, 50, 60],
        "choice": None,
        "objects": [],
    }
    assert result["accepted"]["steps"] == 0 and result["accepted"]["objects"] == [[1, "cat", False]]
    assert result["hidden"]["objects"] == [[1, "cat", True]]
    assert result["undone"] == result["prompt"]
    assert result["redone"] == result["accepted"]
    # A new action after an undo drops what could have been redone.
    assert result["branch"]["canRedo"] is False and result["branch"]["state"]["steps"] == 0


def test_hover_controller_keeps_one_request_and_the_latest_position(module_page: Page) -> None:
    result = evaluate(
        module_page,
        """async () => {
            const { HoverController } = await import('/static/js/hover.js');
            const asked = [];
            const drawn = [];
            const pending = [];
            const hover = new HoverController(
                (target) => new Promise((resolve) => { asked.push(target.x); pending.push(() => resolve(target.x)); }),
                (value) => drawn.push(value),
                (error) => { throw error; });
            const settle = async () => { pending.shift()(); for (let i = 0; i < 5; i++) await Promise.resolve(); };
            hover.move('a', 1, 0, 0);
            for (let x = 2; x <= 6; x++) hover.move('a', x, 0, 0);  // while 1 is in flight
            const inFlightBefore = pending.length;
            await settle();            // 1 drawn, then only the latest (6) is asked
            await settle();            // 6 drawn
            hover.move('a', 6, 0, 0);  // the same position again (e.g. after a repaint): not asked
            hover.move('a', 7, 0, 0);
            hover.cancel();            // the reply to 7 must not be drawn
            await settle();
            return { asked, drawn, inFlightBefore, counts: hover.counts };
        }""",
    )
    assert result["inFlightBefore"] == 1
    assert result["asked"] == [1, 6, 7]
    assert result["drawn"] == [1, 6]
    assert result["counts"]["dropped"] == 1
    assert result["counts"]["repeats"] == 1

"""The bundled `segany_small` against OpenCV GrabCut on real held-out photos (tests/fixtures/heldout).

Both methods see the same objects and the same GT boxes, through the same evaluation code as `segany eval`
(its box protocol: the tight GT box, then one refinement pass; GrabCut runs on images shrunk to 512 px as
there). The fixture is a small fixed sample of the held-out splits, so these are regression guards on the
model that ships, not the model card's full-split figures.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from segany import SamPredictor, load_pretrained
from segany.data.folder import FolderReader
from segany.data.shared_splits import dataset_reader
from segany.evaluation import mean_iou
from segany.evaluation.grabcut import GrabCutPredictor
from segany.evaluation.protocol import evaluate_reader
from segany.pretrained import manifest

HELDOUT = Path(__file__).resolve().parent / "fixtures" / "heldout"
DATASETS = ("weizmann_horse", "davis", "camvid")
MAX_OBJECTS = 5  # per image, drawn with seed 0 as `segany eval --max-objects 5` does
# The bar on full splits is GrabCut-from-box + 10 mIoU; on this small sample the pooled margin must hold.
POOLED_MARGIN = 0.10


def heldout_reader(dataset: str) -> FolderReader:
    return dataset_reader(dataset, HELDOUT / dataset)


@pytest.fixture(scope="module")
def predictor() -> SamPredictor:
    assert "segany_small" in manifest(), "segany_small weights must ship in segany/pretrained"
    return SamPredictor(load_pretrained("segany_small"))


@pytest.fixture(scope="module")
def box_ious(predictor: SamPredictor) -> dict[tuple[str, str], list[float]]:
    """(dataset, "ours" | "grabcut") -> the box IoU of every sampled object."""
    grabcut = GrabCutPredictor(max_side=512, seed=0)
    found: dict[tuple[str, str], list[float]] = {}
    for dataset in DATASETS:
        reader = heldout_reader(dataset)
        for name, method in (("ours", predictor), ("grabcut", grabcut)):
            results = evaluate_reader(
                method, reader, name, dataset, selections=(), max_objects_per_image=MAX_OBJECTS, seed=0
            )
            found[dataset, name] = [r.box_iou for r in results if r.box_iou is not None]
    return found


def test_the_fixture_holds_the_expected_objects(box_ious: dict[tuple[str, str], list[float]]) -> None:
    counts = {dataset: len(box_ious[dataset, "ours"]) for dataset in DATASETS}
    assert counts == {"weizmann_horse": 6, "davis": 5, "camvid": 25}
    assert all(len(box_ious[d, "ours"]) == len(box_ious[d, "grabcut"]) for d in DATASETS)


def test_box_prompts_beat_grabcut_from_the_same_box(box_ious: dict[tuple[str, str], list[float]]) -> None:
    ours = {d: mean_iou(box_ious[d, "ours"]) for d in DATASETS}
    grabcut = {d: mean_iou(box_ious[d, "grabcut"]) for d in DATASETS}
    for dataset in DATASETS:
        assert ours[dataset] > grabcut[dataset], (dataset, ours, grabcut)
    pooled_ours = mean_iou([v for d in DATASETS for v in box_ious[d, "ours"]])
    pooled_grabcut = mean_iou([v for d in DATASETS for v in box_ious[d, "grabcut"]])
    assert pooled_ours >= pooled_grabcut + POOLED_MARGIN, (pooled_ours, pooled_grabcut)


def test_one_click_beats_grabcut_from_the_same_click(predictor: SamPredictor) -> None:
    # The protocol's first click (deepest interior point), most-confident mask; GrabCut gets the same click.
    grabcut = GrabCutPredictor(max_side=512, seed=0)
    for dataset in ("weizmann_horse", "davis"):
        reader = heldout_reader(dataset)
        scores = {}
        for name, method in (("ours", predictor), ("grabcut", grabcut)):
            results = evaluate_reader(
                method, reader, name, dataset, max_clicks=1, selections=("most_confident",), boxes=False
            )
            scores[name] = mean_iou([r.click_ious["most_confident"][0] for r in results])
        assert scores["ours"] > scores["grabcut"], (dataset, scores)

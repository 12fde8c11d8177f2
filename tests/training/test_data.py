"""Training data: source specs, the resumable weighted mix, sharding, prefetching, sample preparation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from training_testing import SEGDATA

from segany.data import FolderReader, Sample, weighted_indices
from segany.training.augment import AugmentSettings, MaskSelection, prepare_sample, select_masks
from segany.training.data import MixedSampler, TrainLoader, build_sources, parse_source


class SyntheticReader:
    """n images of 40 x 60 whose single mask is a square whose size encodes the index."""

    def __init__(self, n: int, tag: int = 0) -> None:
        self.n, self.tag = n, tag

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> Sample:
        image = np.full((40, 60, 3), 10 * i + self.tag, dtype=np.uint8)
        mask = np.zeros((40, 60), dtype=bool)
        mask[2 : 4 + i, 2 : 4 + i] = True
        return Sample(image, [mask], {"id": str(i), "image_path": "", "index": i, "tag": self.tag})

    def __iter__(self):
        return (self[i] for i in range(self.n))


def test_mixed_sampler_reproduces_weighted_indices_and_resumes_exactly():
    sizes, weights = [3, 5], [1.0, 2.0]
    reference = list(weighted_indices(sizes, weights, seed=4, num_samples=60))
    sampler = MixedSampler(sizes, weights, seed=4)
    first = [sampler.next() for _ in range(23)]
    state = sampler.state_dict()
    resumed = MixedSampler(sizes, weights, seed=999)  # the state, not the seed, decides
    resumed.load_state_dict(state)
    assert first + [resumed.next() for _ in range(37)] == reference
    assert resumed.position == 60


def test_source_specs(tmp_path):
    horses = parse_source("shared:horses:train@2.5", shared_root=SEGDATA)
    assert horses.weight == 2.5 and len(horses.reader) == 1
    camvid = parse_source(f"folder:{SEGDATA / 'camvid'}:semantic")
    assert isinstance(camvid.reader, FolderReader) and camvid.reader.mask_type == "semantic"
    obj = parse_source(
        {
            "kind": "folder",
            "images": str(SEGDATA / "davis" / "images"),
            "masks": str(SEGDATA / "davis" / "masks"),
            "weight": 0.5,
        }
    )
    assert obj.weight == 0.5 and len(obj.reader) == 2
    with pytest.raises(ValueError, match="kind must be"):
        parse_source("s3:bucket")
    with pytest.raises(ValueError, match="weight must be a number"):
        parse_source("shared:horses:train@lots", shared_root=SEGDATA)
    with pytest.raises(ValueError, match="at least one source"):
        build_sources([])


def take(loader: TrainLoader, n: int) -> list[tuple[int, int]]:
    return [(int(s.image[0, 0, 0]), int(s.masks.sum())) for s in loader.next_batch(n)]


def identity_prepare(size: int = 64):
    """No augmentation, so no sample is ever rejected and stream positions map 1:1 to samples."""

    def prepare(sample, rng):
        return prepare_sample(sample, size, AugmentSettings.none(), MaskSelection(), rng)

    return prepare


def test_ranks_read_disjoint_shards_of_one_stream():
    sources = build_sources_for_test()
    whole = TrainLoader(sources, identity_prepare(), seed=1)
    stream = take(whole, 12)
    rank0 = take(TrainLoader(sources, identity_prepare(), seed=1, rank=0, world_size=2), 6)
    rank1 = take(TrainLoader(sources, identity_prepare(), seed=1, rank=1, world_size=2), 6)
    assert rank0 == stream[0::2] and rank1 == stream[1::2]


def build_sources_for_test():
    from segany.data import SourceSpec

    return [SourceSpec("a", SyntheticReader(4, tag=1)), SourceSpec("b", SyntheticReader(3, tag=2), 2.0)]


def test_prefetching_threads_change_nothing_and_state_is_the_consumed_position():
    sources = build_sources_for_test()
    plain = TrainLoader(sources, identity_prepare(), seed=2)
    threaded = TrainLoader(sources, identity_prepare(), seed=2, num_workers=2)
    assert take(plain, 5) == take(threaded, 5)
    state = threaded.state_dict()
    assert state["position"] == 5  # not the prefetched position
    rest = take(threaded, 7)
    resumed = TrainLoader(sources, identity_prepare(), seed=2, num_workers=2)
    resumed.load_state_dict(state)
    assert take(resumed, 7) == rest
    threaded.close()
    resumed.close()


def test_large_and_surplus_masks_are_dropped():
    big = np.ones((10, 10), dtype=bool)
    big[0, :5] = False  # 95% of the image
    small = [np.eye(10, dtype=bool) for _ in range(6)]
    kept = select_masks([big, *small], MaskSelection(max_masks=4, max_fraction=0.9), np.random.default_rng(0))
    assert len(kept) == 4 and all(m.sum() == 10 for m in kept)


def test_flip_and_resize_apply_to_image_and_masks_alike():
    image = np.zeros((30, 60, 3), dtype=np.uint8)
    image[:, :20] = 200  # bright left third
    mask = np.zeros((30, 60), dtype=bool)
    mask[:, :20] = True
    sample = Sample(image, [mask], {"id": "x", "image_path": ""})
    flipped = prepare_sample(
        sample, 128, AugmentSettings(None, 1.0, 0.0), MaskSelection(), np.random.default_rng(0)
    )
    assert flipped is not None and flipped.flipped and tuple(flipped.image.shape) == (3, 64, 128)
    bright = flipped.image[0] > 100  # 64 x 128 content
    assert torch.equal(bright, flipped.masks[0, :64, :128])
    assert bright[:, -1].all() and not bright[:, 0].any()  # the bright third moved to the right
    assert not flipped.masks[0, 64:].any()  # nothing below the content


@pytest.mark.parametrize("seed", range(4))
def test_large_scale_jitter_keeps_masks_aligned_and_inside_the_content(seed):
    reader = FolderReader(SEGDATA / "weizmann_horse" / "images", SEGDATA / "weizmann_horse" / "masks")
    rng = np.random.default_rng(seed)
    out = prepare_sample(reader[0], 128, AugmentSettings((0.1, 2.0), 0.5, 0.2), MaskSelection(), rng)
    again = prepare_sample(
        reader[0], 128, AugmentSettings((0.1, 2.0), 0.5, 0.2), MaskSelection(), np.random.default_rng(seed)
    )
    if out is None:  # the crop missed the horse: allowed, and deterministic
        assert again is None
        return
    assert torch.equal(out.image, again.image) and torch.equal(out.masks, again.masks)
    h, w = out.image.shape[-2:]
    assert h <= 128 and w <= 128 and out.masks.shape[-2:] == (128, 128)
    assert not out.masks[:, h:].any() and not out.masks[:, :, w:].any()
    assert not out.cacheable


def test_scale_range_covers_small_and_large_scales():
    reader = FolderReader(SEGDATA / "weizmann_horse" / "images", SEGDATA / "weizmann_horse" / "masks")
    sides = []
    for seed in range(12):
        out = prepare_sample(
            reader[1],
            128,
            AugmentSettings((0.1, 2.0), 0.0, 0.0),
            MaskSelection(min_pixels=1),
            np.random.default_rng(seed),
        )
        if out is not None:
            sides.append(max(out.image.shape[-2:]))
    assert min(sides) < 64 and max(sides) == 128


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pycocotools vs numpy 2
def test_coco_and_sa1b_sources(tmp_path):
    import json

    import pycocotools.mask as mask_utils

    images = SEGDATA / "davis" / "images"
    square = [[40.0, 40.0, 140.0, 40.0, 140.0, 140.0, 40.0, 140.0]]  # 100 x 100 px polygon
    coco = {
        "images": [{"id": 7, "file_name": "camel_00020.jpg", "width": 427, "height": 240}],
        "annotations": [{"id": 1, "image_id": 7, "category_id": 3, "segmentation": square, "iscrowd": 0}],
        "categories": [{"id": 3, "name": "camel"}],
    }
    (tmp_path / "ann.json").write_text(json.dumps(coco))
    source = parse_source(f"coco:{tmp_path / 'ann.json'}:{images}@3")
    assert source.weight == 3.0 and len(source.reader) == 1
    assert source.reader[0].masks[0].sum() > 9000

    sa1b = tmp_path / "sa1b"
    sa1b.mkdir()
    (sa1b / "camel_00020.jpg").write_bytes((images / "camel_00020.jpg").read_bytes())
    mask = np.zeros((240, 427), dtype=np.uint8, order="F")
    mask[10:30, 20:60] = 1
    rle = mask_utils.encode(mask)
    rle["counts"] = rle["counts"].decode("ascii")
    record = {
        "image": {"image_id": 1, "file_name": "camel_00020.jpg", "width": 427, "height": 240},
        "annotations": [{"id": 5, "segmentation": rle, "bbox": [20, 10, 40, 20], "area": 800}],
    }
    (sa1b / "sa_1.json").write_text(json.dumps(record))
    source = parse_source(f"sa1b:{sa1b}")
    assert len(source.reader) == 1 and int(source.reader[0].masks[0].sum()) == 800

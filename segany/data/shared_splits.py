"""Fixed train/val/test splits of the project's shared data (CamVid, DAVIS 2016, Weizmann horses, BSDS500,
CCP, human_seg).

The layout is <root>/<dataset>/{images,masks}/<stem>.{jpg,png}; CamVid, BSDS500, CCP and human_seg also have
splits/{train,val,test}.txt (human_seg: train and test only). root defaults to $SEGANY_SHARED_DATA, else
/work/shared/data.

- camvid: the dataset's own train/val/test lists. Classes 0..10 are split into connected components
  (8-connectivity) of >= CAMVID_MIN_AREA pixels; 11 (void) is ignored.
- bsds500: its own 200/100/200 lists; every region of a partition (ids 1..N) is one object of >=
  BSDS_MIN_AREA pixels. The train split reads every annotator's partition (annotators/<stem>_<k>.png, one
  sample per (image, annotator): wholes from the coarse ones, parts from the fine ones); val and test read
  masks/ (one partition per image, the annotator with the median region count), as evaluation does.
- ccp: seeded 704/100/200 lists; the whole person (union of labels > 0) plus each garment / body part
  (connected components of one label > 0) of >= CCP_MIN_AREA pixels.
- human_seg: seeded 230/60 train/test lists; each connected component of the 0/255 person mask of >=
  HUMAN_SEG_MIN_AREA pixels is one object (touching people stay one).
- davis: split by sequence (stem = <sequence>_<frame>); DAVIS_TEST_SEQUENCES are held out whole.
- weizmann_horse: 80/20 train/test from a permutation (seed HORSE_SPLIT_SEED) of the sorted stems present.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from segany.data.folder import FolderReader, pair_files
from segany.data.partitions import AnnotatorPartitionReader, PartsAndWholeReader
from segany.data.sample import SampleReader

DEFAULT_SHARED_ROOT = Path("/work/shared/data")
SPLITS: dict[str, tuple[str, ...]] = {
    "camvid": ("train", "val", "test"),
    "davis": ("train", "test"),
    "weizmann_horse": ("train", "test"),
    "bsds500": ("train", "val", "test"),
    "ccp": ("train", "val", "test"),
    "human_seg": ("train", "test"),
}
# Datasets whose splits are the lists in <dataset>/splits/<split>.txt.
LISTED_SPLITS = ("camvid", "bsds500", "ccp", "human_seg")
CAMVID_VOID = 11
CAMVID_MIN_AREA = 200
# About 0.13% of a 481 x 321 photo: the finest annotators draw dozens of regions, many of them slivers.
BSDS_MIN_AREA = 200
BSDS_ANNOTATOR_SPLITS = ("train",)
# About 0.07% of a 550 x 832 photo: small accessories (rings, earrings) are mostly below it.
CCP_MIN_AREA = 300
HUMAN_SEG_MIN_AREA = 400
# Five of the 20 sequences (64 of 277 frames), picked by hand to span animals, vehicles, people and sport.
DAVIS_TEST_SEQUENCES: tuple[str, ...] = ("blackswan", "car-shadow", "dance-twirl", "goat", "kite-surf")
HORSE_SPLIT_SEED = 0
HORSE_TEST_FRACTION = 0.2

_DAVIS_STEM = re.compile(r"^(?P<sequence>.+)_(?P<frame>\d+)$")


def shared_data_root() -> Path:
    """$SEGANY_SHARED_DATA if set, else /work/shared/data."""
    return Path(os.environ.get("SEGANY_SHARED_DATA", str(DEFAULT_SHARED_ROOT)))


def _dataset_dir(dataset: str, split: str, root: str | Path | None) -> Path:
    if dataset not in SPLITS:
        raise ValueError(f"dataset must be one of {tuple(SPLITS)}, got {dataset!r}")
    if split not in SPLITS[dataset]:
        raise ValueError(f"split of {dataset} must be one of {SPLITS[dataset]}, got {split!r}")
    directory = (shared_data_root() if root is None else Path(root)) / dataset
    if not (directory / "images").is_dir():
        raise FileNotFoundError(f"no {dataset} images under {str(directory)!r} (expected images/ and masks/)")
    return directory


def _all_stems(directory: Path) -> list[str]:
    return [stem for stem, _, _ in pair_files(directory / "images", directory / "masks")]


def davis_sequence(stem: str) -> str:
    """Sequence name of a DAVIS stem "<sequence>_<frame digits>", e.g. "bmx-trees_00005" -> "bmx-trees"."""
    match = _DAVIS_STEM.match(stem)
    if match is None:
        raise ValueError(f"DAVIS stem must look like '<sequence>_<frame digits>', got {stem!r}")
    return match.group("sequence")


def _listed_stems(directory: Path, split: str) -> list[str]:
    list_file = directory / "splits" / f"{split}.txt"
    if not list_file.is_file():
        raise FileNotFoundError(f"{directory.name} split list {str(list_file)!r} is missing")
    return [line.strip() for line in list_file.read_text().splitlines() if line.strip()]


def _davis_stems(directory: Path, split: str) -> list[str]:
    held_out = set(DAVIS_TEST_SEQUENCES)
    stems = _all_stems(directory)
    return [s for s in stems if (davis_sequence(s) in held_out) == (split == "test")]


def _horse_stems(directory: Path, split: str) -> list[str]:
    stems = sorted(_all_stems(directory))
    n_test = round(HORSE_TEST_FRACTION * len(stems))
    if len(stems) >= 2:
        n_test = min(max(n_test, 1), len(stems) - 1)
    order = np.random.default_rng(HORSE_SPLIT_SEED).permutation(len(stems))
    chosen = order[:n_test] if split == "test" else order[n_test:]
    return sorted(stems[i] for i in chosen)


def split_stems(dataset: str, split: str, root: str | Path | None = None) -> list[str]:
    """Sorted file stems of one split of a shared dataset (one of `SPLITS`)."""
    directory = _dataset_dir(dataset, split, root)
    if dataset in LISTED_SPLITS:
        return sorted(_listed_stems(directory, split))
    if dataset == "davis":
        return _davis_stems(directory, split)
    return _horse_stems(directory, split)


def split_files(dataset: str, split: str, root: str | Path | None = None) -> list[tuple[Path, Path]]:
    """(image path, mask path) pairs of one split, sorted by stem; a listed file that is missing raises."""
    directory = _dataset_dir(dataset, split, root)
    stems = split_stems(dataset, split, root)
    return [(img, msk) for _, img, msk in pair_files(directory / "images", directory / "masks", stems)]


def split_reader(dataset: str, split: str, root: str | Path | None = None) -> SampleReader:
    """A reader over one split, configured for the dataset's mask type (see the module docstring)."""
    directory = _dataset_dir(dataset, split, root)
    stems = split_stems(dataset, split, root)
    if dataset == "bsds500" and split in BSDS_ANNOTATOR_SPLITS:
        return bsds_annotator_reader(directory, stems)
    return dataset_reader(dataset, directory, stems)


def bsds_annotator_reader(directory: str | Path, stems: list[str]) -> AnnotatorPartitionReader:
    """Every annotator's partition of each stem: <directory>/annotators/<stem>_<k>.png, k = 0, 1, ..."""
    folder = Path(directory)
    items = []
    for _, image_path, _ in pair_files(folder / "images", folder / "masks", stems):
        stem = image_path.stem
        partitions = sorted(
            (folder / "annotators").glob(f"{stem}_*.png"), key=lambda p: int(p.stem.rpartition("_")[2])
        )
        if not partitions:
            raise FileNotFoundError(
                f"no annotator partitions {stem}_<k>.png in {str(folder / 'annotators')!r}"
            )
        items.append((stem, image_path, partitions))
    return AnnotatorPartitionReader(items, min_area=BSDS_MIN_AREA)


def dataset_reader(dataset: str, directory: str | Path, stems: list[str] | None = None) -> SampleReader:
    """A reader over <directory>/{images,masks} (all stems, or `stems`), read as `dataset`'s masks are:
    CamVid class maps split into components of >= CAMVID_MIN_AREA px with void ignored, BSDS500 region ids
    (one partition per image), CCP parts plus the whole person, human_seg connected components, else
    binary."""
    if dataset not in SPLITS:
        raise ValueError(f"dataset must be one of {tuple(SPLITS)}, got {dataset!r}")
    folder = Path(directory)
    if dataset == "bsds500":
        return FolderReader(
            folder / "images", folder / "masks", mask_type="instance", stems=stems, min_area=BSDS_MIN_AREA
        )
    if dataset == "ccp":
        return PartsAndWholeReader(
            pair_files(folder / "images", folder / "masks", stems), min_area=CCP_MIN_AREA
        )
    if dataset == "human_seg":
        return FolderReader(
            folder / "images",
            folder / "masks",
            mask_type="semantic",
            stems=stems,
            min_area=HUMAN_SEG_MIN_AREA,
            ignore_labels=(0,),
        )
    if dataset == "camvid":
        return FolderReader(
            folder / "images",
            folder / "masks",
            mask_type="semantic",
            stems=stems,
            min_area=CAMVID_MIN_AREA,
            ignore_labels=(CAMVID_VOID,),
        )
    return FolderReader(folder / "images", folder / "masks", mask_type="binary", stems=stems)

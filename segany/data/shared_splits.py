"""Fixed train/val/test splits of the project's shared data (CamVid, DAVIS 2016, Weizmann horses).

The layout is <root>/<dataset>/{images,masks}/<stem>.{jpg,png}; CamVid also has splits/{train,val,test}.txt.
root defaults to $SEGANY_SHARED_DATA, else /work/shared/data.

- camvid: the dataset's own train/val/test lists. Classes 0..10 are split into connected components
  (8-connectivity) of >= CAMVID_MIN_AREA pixels; 11 (void) is ignored.
- davis: split by sequence (stem = <sequence>_<frame>); DAVIS_TEST_SEQUENCES are held out whole.
- weizmann_horse: 80/20 train/test from a permutation (seed HORSE_SPLIT_SEED) of the sorted stems present.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from segany.data.folder import FolderReader, pair_files

DEFAULT_SHARED_ROOT = Path("/work/shared/data")
SPLITS: dict[str, tuple[str, ...]] = {
    "camvid": ("train", "val", "test"),
    "davis": ("train", "test"),
    "weizmann_horse": ("train", "test"),
}
CAMVID_VOID = 11
CAMVID_MIN_AREA = 200
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


def _camvid_stems(directory: Path, split: str) -> list[str]:
    list_file = directory / "splits" / f"{split}.txt"
    if not list_file.is_file():
        raise FileNotFoundError(f"CamVid split list {str(list_file)!r} is missing")
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
    """Sorted file stems of one split of a shared dataset ("camvid" | "davis" | "weizmann_horse")."""
    directory = _dataset_dir(dataset, split, root)
    if dataset == "camvid":
        return sorted(_camvid_stems(directory, split))
    if dataset == "davis":
        return _davis_stems(directory, split)
    return _horse_stems(directory, split)


def split_files(dataset: str, split: str, root: str | Path | None = None) -> list[tuple[Path, Path]]:
    """(image path, mask path) pairs of one split, sorted by stem; a listed file that is missing raises."""
    directory = _dataset_dir(dataset, split, root)
    stems = split_stems(dataset, split, root)
    return [(img, msk) for _, img, msk in pair_files(directory / "images", directory / "masks", stems)]


def split_reader(dataset: str, split: str, root: str | Path | None = None) -> FolderReader:
    """FolderReader over one split, configured for the dataset's mask type (see the module docstring)."""
    directory = _dataset_dir(dataset, split, root)
    return dataset_reader(dataset, directory, split_stems(dataset, split, root))


def dataset_reader(dataset: str, directory: str | Path, stems: list[str] | None = None) -> FolderReader:
    """FolderReader over <directory>/{images,masks} (all stems, or `stems`), read as `dataset`'s masks are:
    CamVid class maps split into components of >= CAMVID_MIN_AREA px with void ignored, else binary."""
    if dataset not in SPLITS:
        raise ValueError(f"dataset must be one of {tuple(SPLITS)}, got {dataset!r}")
    folder = Path(directory)
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

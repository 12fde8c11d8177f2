"""Label images -> object masks: binary, instance-id and semantic (connected components)."""

from __future__ import annotations

import numpy as np
import pytest

from segany.data.masks import binary_to_masks, instance_to_masks, labels_to_masks, semantic_to_masks


def test_binary_threshold_and_min_area() -> None:
    labels = np.zeros((6, 8), np.uint8)
    labels[1:3, 1:4] = 255  # 6 px object
    labels[5, 7] = 100  # below the 128 threshold: background
    (mask,) = binary_to_masks(labels)
    assert mask.dtype == bool and mask.sum() == 6 and not mask[5, 7]
    assert binary_to_masks(labels, min_area=7) == []
    assert binary_to_masks(np.zeros((4, 4), np.uint8)) == []


def test_instance_ids_sorted_with_ignore_and_min_area() -> None:
    labels = np.array([[0, 3, 3, 0], [7, 7, 0, 9], [7, 0, 0, 255]], np.uint8)
    masks, ids = instance_to_masks(labels, ignore_labels=(255,), min_area=2)
    assert ids == [3, 7]  # 9 has one pixel, 255 ignored, 0 background
    assert masks[0].sum() == 2 and masks[1].sum() == 3
    assert masks[1][1, 0] and masks[1][2, 0] and not masks[1][0, 1]


def test_semantic_splits_classes_into_components() -> None:
    labels = np.full((10, 10), 11, np.uint8)  # void everywhere
    labels[0:3, 0:3] = 2  # two separate class-2 regions
    labels[6:9, 6:9] = 2
    labels[0:2, 7:10] = 5  # one class-5 region of 6 px
    masks, classes = semantic_to_masks(labels, ignore_labels=(11,), min_area=7)
    assert classes == [2, 2]  # class 5 too small, void ignored
    assert [int(m.sum()) for m in masks] == [9, 9]
    assert masks[0][0, 0] and masks[1][8, 8] and not (masks[0] & masks[1]).any()


def test_semantic_connectivity_four_vs_eight() -> None:
    labels = np.zeros((4, 4), np.uint8)
    labels[0, 0] = labels[1, 1] = 1  # diagonal neighbours
    _, eight = semantic_to_masks(labels, ignore_labels=(0,), connectivity=8)
    _, four = semantic_to_masks(labels, ignore_labels=(0,), connectivity=4)
    assert (len(eight), len(four)) == (1, 2)


def test_user_errors_name_the_argument() -> None:
    with pytest.raises(ValueError, match="mask_type"):
        labels_to_masks(np.zeros((2, 2), np.uint8), "panoptic")
    with pytest.raises(ValueError, match="H x W"):
        binary_to_masks(np.zeros((2, 2, 3), np.uint8))
    with pytest.raises(TypeError, match="integer"):
        instance_to_masks(np.zeros((2, 2), np.float32))
    with pytest.raises(ValueError, match="connectivity"):
        semantic_to_masks(np.zeros((2, 2), np.uint8), connectivity=6)

"""What the tracker keeps per object between frames, and what it hands out per frame.

Per object only the latest frame's mask and low-res logits are kept (plus a few numbers), so memory does not
grow with the video. Masks are H x W bool in frame pixels; logits are S x S in the model input frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class ObjectTrack:
    """One object's state on the frame last processed."""

    obj_id: int
    mask: np.ndarray  # H x W bool
    logits: np.ndarray  # S x S low-res logits, model input frame
    score: float  # SAM's predicted IoU for the current mask (carried masks keep the last one)
    uncertain: bool = False  # the current mask is the carried one: SAM's answer was rejected
    last_box: np.ndarray | None = None  # XYXY box of the last confident mask (for re-detection)
    last_area: int = 0  # pixels of the last confident mask
    doubt: float = 0.0  # share of the mask carried through inconsistent flow since SAM last confirmed it

    def remember_confident(self, box: np.ndarray | None) -> None:
        if box is not None:
            self.last_box = box
            self.last_area = int(np.count_nonzero(self.mask))


@dataclass
class Candidate:
    """A proposed mask for one object on the current frame, before overlaps between objects are resolved."""

    mask: np.ndarray  # H x W bool
    logits: np.ndarray  # S x S low-res logits
    score: float
    uncertain: bool
    probability: np.ndarray  # H x W float32 in [0, 1]: who wins a pixel claimed by several objects
    source: str  # "prompt", "sam", "carried", "redetected", "lost"
    doubt: float = 0.0  # for carried masks: the track's doubt after this frame's flow (see ObjectTrack)


@dataclass
class FrameResult:
    """The masks of every tracked object on one frame (overlaps already resolved: masks are disjoint)."""

    index: int
    masks: dict[int, np.ndarray] = field(default_factory=dict)  # obj_id -> H x W bool
    scores: dict[int, float] = field(default_factory=dict)
    uncertain: dict[int, bool] = field(default_factory=dict)
    sources: dict[int, str] = field(default_factory=dict)
    model_ran: bool = False  # the image encoder ran (or its cached embedding was used) on this frame

    def label_map(self, shape: tuple[int, int]) -> np.ndarray:
        """H x W uint8: 0 background, obj_id where that object's mask is (DAVIS's indexed layout)."""
        labels = np.zeros(shape, dtype=np.uint8)
        for obj_id, mask in self.masks.items():
            labels[mask] = obj_id
        return labels

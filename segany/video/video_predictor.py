"""VideoPredictor: prompt objects on any frame, propagate forwards or backwards, correct, propagate again.

    video = VideoPredictor(sam, "clip.mp4")                 # a video file, a folder of frames, or frames
    video.add_points(frame=0, obj_id=1, points=[[420, 250]], labels=[1])
    video.add_box(frame=30, obj_id=2, box=[100, 80, 260, 300])          # XYXY pixels
    for result in video.propagate():                         # forwards from the first prompted frame
        result.index, result.masks[1], result.uncertain[1]   # H x W bool per object
    video.add_points(frame=57, obj_id=1, points=[[400, 240], [380, 300]], labels=[1, 0])  # a correction
    for result in video.propagate(): ...                     # again, re-anchored on frame 57

Frames are read one at a time while propagating; per object only its latest mask and logits are kept, plus
the answers on prompted frames, so memory does not grow with the video's length. Object ids are 1..255 (the
values of DAVIS's indexed PNGs).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from segany.modeling.sam import Sam
from segany.predictor import SamPredictor
from segany.video.encoding import FrameEncoder, LiveEncoder
from segany.video.frames import ArrayFrames, FrameSource, open_frames
from segany.video.mask_prompts import mask_to_low_res_logits
from segany.video.objects import Candidate, FrameResult
from segany.video.refine import sam_answer
from segany.video.settings import TrackerSettings
from segany.video.tracker import Tracker

MAX_OBJECT_ID = 255


@dataclass
class _Prompt:
    """The prompts of one object on one frame and SAM's answer to them."""

    points: np.ndarray  # N x 2 (x, y) pixels
    labels: np.ndarray  # N, 1 foreground / 0 background
    box: np.ndarray | None  # XYXY pixels
    answer: Candidate


class VideoPredictor:
    def __init__(
        self,
        sam_model: Sam,
        video: str | Path | FrameSource | Sequence[np.ndarray] | np.ndarray,
        settings: TrackerSettings | None = None,
        encoder: FrameEncoder | None = None,
    ) -> None:
        if isinstance(video, FrameSource):
            self.source = video
        elif isinstance(video, (str, Path)):
            self.source = open_frames(video)
        else:
            self.source = ArrayFrames(video)
        self.settings = settings or TrackerSettings()
        self.encoder: FrameEncoder = encoder or LiveEncoder()
        self.predictor = SamPredictor(sam_model)
        self.tracker = Tracker(self.predictor, self.settings, self.encoder)
        self._prompts: dict[tuple[int, int], _Prompt] = {}  # (frame, obj_id) -> prompts and answer

    # ---------------------------------------------------------------- prompts
    def add_points(
        self, frame: int, obj_id: int, points: Any, labels: Any | None = None, box: Any | None = None
    ) -> np.ndarray:
        """Add clicks (N x 2 (x, y) pixels; labels 1 foreground, default, or 0) for `obj_id` on `frame`.

        Clicks add up with the object's earlier clicks on that frame, and SAM's previous answer there is fed
        back as `mask_input`, as in SAM's interactive use. Returns the object's mask on the frame (H x W bool).
        """
        coords = (
            np.asarray(points, dtype=np.float64).reshape(-1, 2) if points is not None else np.zeros((0, 2))
        )
        if labels is None:
            labels = np.ones(len(coords), dtype=np.int64)
        labels = np.asarray(labels).reshape(-1)
        if len(labels) != len(coords):
            raise ValueError(f"labels must hold one label per point ({len(coords)}), got {len(labels)}")
        return self._prompt(frame, obj_id, coords, labels, box, accumulate=True)

    def add_box(self, frame: int, obj_id: int, box: Any) -> np.ndarray:
        """A box (XYXY pixels) for `obj_id` on `frame`; replaces its earlier prompts there. Returns the mask."""
        return self._prompt(
            frame, obj_id, np.zeros((0, 2)), np.zeros(0, dtype=np.int64), box, accumulate=False
        )

    def add_mask(self, frame: int, obj_id: int, mask: Any) -> np.ndarray:
        """A mask (H x W, bool or 0/1 or 0/255) for `obj_id` on `frame`, taken as the object's mask there."""
        frame = self.source.check_index(frame)
        obj_id = _check_obj_id(obj_id)
        array = np.asarray(mask)
        if array.shape != self.source.size:
            raise ValueError(
                f"mask must be H x W = {self.source.size[0]} x {self.source.size[1]} (the video's frame size), "
                f"got shape {array.shape}"
            )
        binary = array > (127 if array.dtype == np.uint8 and array.max() > 1 else 0)
        model = self.predictor.model
        logits = mask_to_low_res_logits(
            binary, model.image_size, model.prompt_encoder.mask_input_size[0], self.settings.mask_prompt_logit
        )
        answer = Candidate(binary, logits, 1.0, False, binary.astype(np.float32), "prompt")
        self._prompts[(frame, obj_id)] = _Prompt(np.zeros((0, 2)), np.zeros(0, dtype=np.int64), None, answer)
        return binary

    def clear_prompts(self, frame: int | None = None, obj_id: int | None = None) -> None:
        """Drop the prompts of one object and/or one frame (all of them with no argument)."""
        for key in list(self._prompts):
            if (frame is None or key[0] == frame) and (obj_id is None or key[1] == obj_id):
                del self._prompts[key]

    @property
    def object_ids(self) -> list[int]:
        return sorted({obj_id for _, obj_id in self._prompts})

    def prompted_frames(self, obj_id: int | None = None) -> list[int]:
        return sorted({f for f, o in self._prompts if obj_id is None or o == obj_id})

    def _prompt(
        self, frame: int, obj_id: int, points: np.ndarray, labels: np.ndarray, box: Any, accumulate: bool
    ) -> np.ndarray:
        frame = self.source.check_index(frame)
        obj_id = _check_obj_id(obj_id)
        previous = self._prompts.get((frame, obj_id)) if accumulate else None
        mask_input = None
        if previous is not None:
            points = np.concatenate([previous.points, points])
            labels = np.concatenate([previous.labels, labels])
            box = previous.box if box is None else box
            mask_input = previous.answer.logits
        if len(points) == 0 and box is None:
            raise ValueError("give at least one point or a box")
        box_array = None if box is None else np.asarray(box, dtype=np.float64)
        self.encoder.set_frame(self.predictor, frame, self.source.read(frame))
        mask, probability, score, logits = sam_answer(
            self.predictor,
            box_array,
            points if len(points) else None,
            labels if len(points) else None,
            mask_input,
        )
        answer = Candidate(mask, logits, score, False, probability, "prompt")
        self._prompts[(frame, obj_id)] = _Prompt(points, labels, box_array, answer)
        return mask

    # ---------------------------------------------------------------- propagation
    def propagate(
        self, start_frame: int | None = None, reverse: bool = False, stop_frame: int | None = None
    ) -> Iterator[FrameResult]:
        """Walk the frames from `start_frame` (default: the first prompted frame, or the last one when
        `reverse`) to `stop_frame` (exclusive; default: the end, or frame 0 included when `reverse`).

        An object joins the walk on its first prompted frame met; on every prompted frame its prompted answer
        replaces what was carried. Yields one FrameResult per frame, as each is computed.
        """
        if not self._prompts:
            raise ValueError("no prompts yet: add points, a box or a mask on some frame before propagating")
        frames = self.prompted_frames()
        start = (frames[-1] if reverse else frames[0]) if start_frame is None else start_frame
        start = self.source.check_index(start, "start_frame")
        stop = (-1 if reverse else len(self.source)) if stop_frame is None else int(stop_frame)
        if reverse and not -1 <= stop <= start or not reverse and not start <= stop <= len(self.source):
            raise ValueError(
                f"stop_frame {stop_frame} is not {'before' if reverse else 'after'} start_frame {start} "
                f"within the video's {len(self.source)} frames"
            )
        interval = self.settings.keyframe_interval
        self.tracker.reset()
        for step, (index, frame) in enumerate(self.source.frames(start, stop)):
            conditioned = {o: p.answer for (f, o), p in self._prompts.items() if f == index}
            model_frame = interval > 0 and step % interval == 0
            yield self.tracker.step(index, frame, conditioned, model_frame)


def _check_obj_id(obj_id: Any) -> int:
    if (
        isinstance(obj_id, bool)
        or not isinstance(obj_id, (int, np.integer))
        or not 1 <= obj_id <= MAX_OBJECT_ID
    ):
        raise ValueError(f"obj_id must be an integer in 1..{MAX_OBJECT_ID} (a DAVIS label), got {obj_id!r}")
    return int(obj_id)

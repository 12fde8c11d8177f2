"""One walk through frames: carry every object's mask to the next frame, re-prompt SAM on model frames,
re-anchor on prompted frames, resolve overlaps.

A `Tracker` keeps only the previous frame (gray, for the flow) and one `ObjectTrack` per object, so a walk of
any length runs in bounded memory. The encoder is asked for a frame's embedding only when the model runs there,
once for all objects.
"""

from __future__ import annotations

import time

import numpy as np

from segany.predictor import SamPredictor
from segany.transforms import resized_shape
from segany.video.encoding import FrameEncoder
from segany.video.flow import FlowEstimator, inconsistent, to_gray, warp_low_res, warp_mask
from segany.video.mask_prompts import mask_box_xyxy
from segany.video.objects import Candidate, FrameResult, ObjectTrack
from segany.video.overlaps import resolve_overlaps
from segany.video.refine import redetect, reprompt
from segany.video.settings import TrackerSettings


class Tracker:
    def __init__(self, predictor: SamPredictor, settings: TrackerSettings, encoder: FrameEncoder) -> None:
        self.predictor = predictor
        self.settings = settings
        self.encoder = encoder
        self.flow = FlowEstimator(settings.flow_method, settings.flow_scale)
        self.tracks: dict[int, ObjectTrack] = {}
        self._previous_gray: np.ndarray | None = None
        self.seconds = {
            "flow": 0.0,
            "sam": 0.0,
        }  # time in optical flow and in SAM's decoder (not the encoder)

    def reset(self) -> None:
        """Forget every object and the previous frame (a new walk starts)."""
        self.tracks = {}
        self._previous_gray = None

    def step(
        self, index: int, frame: np.ndarray, conditioned: dict[int, Candidate], model_frame: bool
    ) -> FrameResult:
        """Process frame `index` (H x W x 3 uint8 RGB) right after the previous one of the walk.

        Args:
            conditioned: obj_id -> the prompted answer on this frame (it replaces what was carried).
            model_frame: whether the image encoder and SAM run here for the objects that were carried.
        """
        gray = to_gray(frame)
        flow = None
        doubtful_pixels = None  # H x W bool: where the forward-backward flow check fails
        carried_ids = [obj_id for obj_id in self.tracks if obj_id not in conditioned]
        if carried_ids and self.settings.motion == "flow" and self._previous_gray is not None:
            start = time.perf_counter()
            flow = self.flow.backward(gray, self._previous_gray)
            if self.settings.flow_check:
                forward = self.flow.backward(self._previous_gray, gray)
                doubtful_pixels = inconsistent(flow, forward)
            self.seconds["flow"] += time.perf_counter() - start
        candidates = {
            obj_id: self._carry(self.tracks[obj_id], flow, doubtful_pixels) for obj_id in carried_ids
        }
        model_ran = False
        if model_frame and carried_ids:
            self.encoder.set_frame(self.predictor, index, frame)
            model_ran = True
            start = time.perf_counter()
            for obj_id in carried_ids:
                candidates[obj_id] = self._refine(self.tracks[obj_id], candidates[obj_id])
            self.seconds["sam"] += time.perf_counter() - start
        candidates.update(conditioned)
        masks = resolve_overlaps(candidates)
        result = FrameResult(index, model_ran=model_ran)
        for obj_id, candidate in candidates.items():
            self._update(obj_id, candidate, masks[obj_id])
            result.masks[obj_id] = masks[obj_id]
            result.scores[obj_id] = candidate.score
            result.uncertain[obj_id] = candidate.uncertain
            result.sources[obj_id] = candidate.source
        self._previous_gray = gray
        return result

    def _carry(
        self, track: ObjectTrack, flow: np.ndarray | None, doubtful_pixels: np.ndarray | None
    ) -> Candidate:
        if flow is None:
            probability = track.mask.astype(np.float32)
            mask, logits = track.mask, track.logits
        else:
            probability = warp_mask(track.mask, flow)
            mask = probability >= 0.5
            image_size = self.predictor.model.image_size
            input_size = resized_shape(track.mask.shape[0], track.mask.shape[1], image_size)
            logits = warp_low_res(track.logits, flow, input_size, image_size)
        area = np.count_nonzero(mask)
        lost = area < max(1, self.settings.min_area)
        doubt = track.doubt
        if doubtful_pixels is not None and area:
            share = np.count_nonzero(doubtful_pixels & mask) / area
            doubt = 1.0 - (1.0 - doubt) * (1.0 - share)
        return Candidate(
            mask, logits, track.score, track.uncertain, probability, "lost" if lost else "carried", doubt
        )

    def _refine(self, track: ObjectTrack, carried: Candidate) -> Candidate:
        if carried.source != "lost":
            return reprompt(self.predictor, carried, self.settings, track.mask)
        if self.settings.redetect and track.last_box is not None:
            found = redetect(self.predictor, track.last_box, track.last_area, self.settings)
            if found is not None:
                return found
        return carried

    def _update(self, obj_id: int, candidate: Candidate, mask: np.ndarray) -> None:
        track = self.tracks.get(obj_id)
        if track is None:
            track = self.tracks[obj_id] = ObjectTrack(obj_id, mask, candidate.logits, candidate.score)
        track.mask, track.logits, track.score = mask, candidate.logits, candidate.score
        track.uncertain = candidate.uncertain
        confirmed = candidate.source in ("prompt", "sam", "redetected") and not candidate.uncertain
        track.doubt = 0.0 if confirmed else candidate.doubt
        if candidate.source in ("prompt", "sam", "redetected") and not candidate.uncertain:
            track.remember_confident(mask_box_xyxy(mask))

"""Masks through video: prompt objects on any frame, propagate them with optical flow and SAM, score on DAVIS.

Modules: `frames` (video files, frame folders), `flow` (optical flow and warping), `objects` (per-object state),
`refine` (SAM re-prompting, re-detection), `overlaps`, `tracker` (one walk), `video_predictor` (the API),
`sweep` (every frame, both directions), `metrics` (DAVIS J / F), `mask_io` (indexed PNGs), `encoding`
(live or cached embeddings), `settings` (options and the measured presets).
"""

from segany.video.frames import FrameSource, open_frames
from segany.video.metrics import boundary_f, jaccard, score_sequence, summarize
from segany.video.objects import FrameResult
from segany.video.settings import PRESETS, TrackerSettings
from segany.video.sweep import track_all_frames
from segany.video.video_predictor import VideoPredictor

__all__ = [
    "PRESETS",
    "FrameResult",
    "FrameSource",
    "TrackerSettings",
    "VideoPredictor",
    "boundary_f",
    "jaccard",
    "open_frames",
    "score_sequence",
    "summarize",
    "track_all_frames",
]

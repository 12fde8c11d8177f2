"""What `segany track` writes per frame: the indexed PNG, the SA-1B / COCO json and the overlay."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from segany.cli.common import CliError, warn, write_json_file
from segany.video.frames import FrameSource
from segany.video.mask_io import write_label_png
from segany.video.objects import FrameResult

DEFAULT_FPS = 24


class TrackWriter:
    def __init__(self, out: Path, source: FrameSource, overlay: str, fmt: str, fps: int | None) -> None:
        self.out, self.source, self.overlay, self.fmt = out, source, overlay, fmt
        self.fps = fps or _source_fps(source) or DEFAULT_FPS
        self.present: dict[int, int] = {}
        self.uncertain: dict[int, int] = {}
        self._video: Any = None
        self._pending: dict[int, np.ndarray] = {}  # overlay frames waiting for their turn in the video
        self._next_video_frame = 0

    def write(self, result: FrameResult) -> None:
        from segany.formats.coco import coco_document
        from segany.formats.sa1b import sa1b_document

        name = self.source.frame_name(result.index)
        height, width = self.source.size
        write_label_png(result.label_map((height, width)), self.out / "masks" / f"{name}.png")
        objects = sorted(obj for obj, mask in result.masks.items() if mask.any())
        records = [
            {"segmentation": result.masks[obj], "predicted_iou": result.scores[obj]} for obj in objects
        ]
        info = {"file_name": name, "width": width, "height": height, "image_id": result.index}
        if self.fmt == "coco":
            document = coco_document([(info, records)])
        else:
            document = sa1b_document(records, info)
        for annotation, obj in zip(document["annotations"], objects):
            annotation.update(
                id=obj, object_id=obj, uncertain=bool(result.uncertain[obj]), source=result.sources[obj]
            )
        write_json_file(document, self.out / "json" / f"{name}.json")
        for obj in objects:
            self.present[obj] = self.present.get(obj, 0) + 1
            self.uncertain[obj] = self.uncertain.get(obj, 0) + int(result.uncertain[obj])
        if self.overlay != "none":
            self._overlay(result, objects)

    def _overlay(self, result: FrameResult, objects: list[int]) -> None:
        from segany.cli.drawing import draw_overlay

        picture = draw_overlay(self.source.read(result.index), [result.masks[obj] for obj in objects])
        if self.overlay == "frames":
            name = self.source.frame_name(result.index)
            target = self.out / "overlay" / f"{name}.jpg"
            target.parent.mkdir(parents=True, exist_ok=True)
            picture.save(target, quality=90)
            return
        # The video needs frames in order; results may come backwards first (objects prompted late).
        self._pending[result.index] = np.asarray(picture)
        while self._next_video_frame in self._pending:
            self._video_writer().write(self._pending.pop(self._next_video_frame)[:, :, ::-1].copy())
            self._next_video_frame += 1

    def _video_writer(self) -> Any:
        import cv2

        if self._video is None:
            height, width = self.source.size
            path = self.out / "overlay.mp4"
            fourcc = cv2.VideoWriter_fourcc(*"mp4v")  # type: ignore[attr-defined]
            self._video = cv2.VideoWriter(str(path), fourcc, self.fps, (width, height))
            if not self._video.isOpened():
                raise CliError(f"OpenCV cannot write {path} here; use --overlay frames")
        return self._video

    def close(self) -> dict[str, Any]:
        if self._video is not None:
            self._video.release()
        if self._pending:
            warn(f"{len(self._pending)} overlay frames were not written (frames missing before them)")
        return {
            "frames": len(self.source),
            "objects": {
                str(obj): {"frames_present": self.present[obj], "frames_uncertain": self.uncertain[obj]}
                for obj in sorted(self.present)
            },
            "overlay": {"video": "overlay.mp4", "frames": "overlay/", "none": None}[self.overlay],
        }


def _source_fps(source: FrameSource) -> int | None:
    path = getattr(source, "path", None)
    if path is None:
        return None
    import cv2

    capture = cv2.VideoCapture(str(path))
    fps = capture.get(cv2.CAP_PROP_FPS)
    capture.release()
    return round(fps) if fps and 1 <= fps <= 240 else None

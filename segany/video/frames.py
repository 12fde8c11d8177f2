"""Frame sources: a folder of images, a video file or frames in memory, read one frame at a time.

Every source gives H x W x 3 uint8 RGB frames by index and iterates them forwards or backwards without holding
more than a small chunk of them: the tracker streams frames, so memory does not grow with the video's length.
`open_frames(path)` picks the source from the path.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from segany.io import load_image

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
REVERSE_CHUNK = 16  # frames a video file decodes at once when read backwards


class FrameSource:
    """Base class: subclasses implement `__len__`, `read` and may override `frames` for faster streaming."""

    name: str = "video"
    _size: tuple[int, int] = (0, 0)  # (H, W); (0, 0) until the first frame is known

    def __len__(self) -> int:
        raise NotImplementedError

    def read(self, index: int) -> np.ndarray:
        """Frame `index` as H x W x 3 uint8 RGB."""
        raise NotImplementedError

    def frame_name(self, index: int) -> str:
        """A file stem for outputs of frame `index` (the image's stem for folders, else the zero-padded index)."""
        return f"{index:05d}"

    @property
    def size(self) -> tuple[int, int]:
        """(H, W) of the frames (of the first frame; every frame is checked against it when read)."""
        return self._size

    def check_index(self, index: int, name: str = "frame") -> int:
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"{name} must be an integer frame index, got {type(index).__name__}")
        if not 0 <= int(index) < len(self):
            raise ValueError(
                f"{name} {index} does not exist: {self.name} has {len(self)} frames (indices 0..{len(self) - 1})"
            )
        return int(index)

    def frames(self, start: int, stop: int) -> Iterator[tuple[int, np.ndarray]]:
        """(index, frame) from `start` towards `stop` (exclusive), forwards when stop > start, else backwards."""
        step = 1 if stop >= start else -1
        for index in range(start, stop, step):
            yield index, self.read(index)

    def _checked(self, frame: np.ndarray, index: int) -> np.ndarray:
        if frame.shape[:2] != self._size:
            raise ValueError(
                f"frame {index} of {self.name} is {frame.shape[1]}x{frame.shape[0]} (WxH), but the video's "
                f"frames are {self._size[1]}x{self._size[0]}: all frames must have one size"
            )
        return frame


class ArrayFrames(FrameSource):
    """Frames already in memory (a list of H x W x 3 uint8 arrays, or a T x H x W x 3 array)."""

    def __init__(self, frames: Sequence[np.ndarray] | np.ndarray, name: str = "frames") -> None:
        if len(frames) == 0:
            raise ValueError("frames must hold at least one H x W x 3 frame, got none")
        first = np.asarray(frames[0])
        if first.ndim != 3 or first.shape[2] != 3 or first.dtype != np.uint8:
            raise ValueError(f"frames must be H x W x 3 uint8 RGB, got {first.dtype} of shape {first.shape}")
        self._frames = frames
        self._size = (int(first.shape[0]), int(first.shape[1]))
        self.name = name

    def __len__(self) -> int:
        return len(self._frames)

    def read(self, index: int) -> np.ndarray:
        index = self.check_index(index)
        return self._checked(np.asarray(self._frames[index]), index)


class FolderFrames(FrameSource):
    """A folder of images, ordered by file name (DAVIS's `00000.jpg, 00001.jpg, ...`)."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise FileNotFoundError(f"frames folder not found: {self.folder}")
        self.files = sorted(p for p in self.folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self.files:
            raise ValueError(
                f"{self.folder} holds no frames: expected images named in frame order ({', '.join(IMAGE_SUFFIXES)})"
            )
        self.name = str(self.folder)
        first = load_image(self.files[0])
        self._size = (int(first.shape[0]), int(first.shape[1]))

    def __len__(self) -> int:
        return len(self.files)

    def read(self, index: int) -> np.ndarray:
        index = self.check_index(index)
        return self._checked(load_image(self.files[index]), index)

    def frame_name(self, index: int) -> str:
        return self.files[self.check_index(index)].stem


class VideoFileFrames(FrameSource):
    """A video file decoded with OpenCV. Counting the frames decodes nothing (`grab` only) but reads the file
    once, so the count is exact even where the container's frame count is not."""

    def __init__(self, path: str | Path) -> None:
        import cv2

        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"video file not found: {self.path}")
        self.name = str(self.path)
        capture = self._open()
        count = 0
        while capture.grab():
            count += 1
        capture.release()
        if count == 0:
            raise ValueError(
                f"{self.path}: OpenCV could not decode any frame (not a video, or an unsupported codec)"
            )
        self._count = count
        self._cv2 = cv2
        height, width = self.read(0).shape[:2]  # unchecked: the size is not known yet
        self._size = (int(height), int(width))

    def _open(self) -> Any:
        import cv2

        capture = cv2.VideoCapture(str(self.path))
        if not capture.isOpened():
            raise ValueError(f"{self.path}: not a readable video file (OpenCV could not open it)")
        return capture

    def __len__(self) -> int:
        return self._count

    def read(self, index: int) -> np.ndarray:
        index = self.check_index(index)
        for _, frame in self._decode(index, index + 1):
            return frame
        raise ValueError(f"{self.path}: frame {index} could not be decoded")

    def frames(self, start: int, stop: int) -> Iterator[tuple[int, np.ndarray]]:
        if stop >= start:
            yield from self._decode(start, stop)
            return
        # Backwards: decode chunks of REVERSE_CHUNK frames forwards, then hand them out in reverse.
        high = start + 1
        while high > stop + 1:
            low = max(stop + 1, high - REVERSE_CHUNK)
            yield from reversed(list(self._decode(low, high)))
            high = low

    def _decode(self, start: int, stop: int) -> Iterator[tuple[int, np.ndarray]]:
        capture = self._open()
        try:
            capture.set(self._cv2.CAP_PROP_POS_FRAMES, start)
            for index in range(start, stop):
                ok, bgr = capture.read()
                if not ok:
                    raise ValueError(f"{self.path}: frame {index} could not be decoded")
                rgb = self._cv2.cvtColor(bgr, self._cv2.COLOR_BGR2RGB)
                yield index, (self._checked(rgb, index) if self._size != (0, 0) else rgb)
        finally:
            capture.release()


def open_frames(path: str | Path) -> FrameSource:
    """A folder of images or a video file; FileNotFoundError / ValueError with the path when unusable."""
    target = Path(path)
    if target.is_dir():
        return FolderFrames(target)
    if not target.exists():
        raise FileNotFoundError(f"video not found: {target} (give a video file or a folder of frames)")
    return VideoFileFrames(target)

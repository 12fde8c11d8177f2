"""Classical GrabCut baseline (OpenCV) behind the official SamPredictor interface.

Initialisation (documented decisions):
- box only: cv2.GC_INIT_WITH_RECT with the XYXY box (rounded outwards, inclusive max corner).
- points (optionally with a box): cv2.GC_INIT_WITH_MASK. Without a box every pixel starts as probable
  background and a disc of radius prior_radius * min(H, W) around each positive click as probable
  foreground; with a box, outside the box is definite background and inside probable foreground. Each
  click then paints a definite stroke: a disc of click_radius px, foreground for label 1, background for
  label 0.
GrabCut runs `iterations` rounds with OpenCV's RNG reseeded to `seed` before each call (deterministic).
predict returns ONE mask whatever multimask_output says, score 1.0, and low-res logits of zeros
(1 x 256 x 256): GrabCut has no logits. mask_input is accepted and ignored. When the prompt leaves no
foreground (or no background) pixels to fit a colour model, the mask is the initial foreground region.
"""

from __future__ import annotations

import cv2
import numpy as np

LOW_RES = 256


class GrabCutPredictor:
    """GrabCut with set_image / predict as in SamPredictor; see the module docstring."""

    def __init__(
        self,
        iterations: int = 5,
        click_radius: int = 5,
        prior_radius: float = 0.15,
        max_side: int | None = None,
        seed: int = 0,
    ) -> None:
        """max_side: if set, GrabCut runs on a copy resized so its longest side is at most max_side px
        (masks are resized back with nearest neighbour); radii are in the original image's pixels."""
        if not isinstance(iterations, int) or iterations < 1:
            raise ValueError(f"iterations must be an int >= 1, got {iterations!r}")
        if click_radius < 0 or not 0 < prior_radius <= 1:
            raise ValueError(
                f"click_radius must be >= 0 px and prior_radius in (0, 1], got {click_radius}, {prior_radius}"
            )
        if max_side is not None and max_side < 8:
            raise ValueError(f"max_side must be None or >= 8 px, got {max_side}")
        self.iterations = iterations
        self.click_radius = click_radius
        self.prior_radius = prior_radius
        self.max_side = max_side
        self.seed = seed
        self._bgr: np.ndarray | None = None  # image as fed to GrabCut (maybe resized), BGR
        self._orig_hw: tuple[int, int] = (0, 0)
        self._scale = 1.0

    def set_image(self, image: np.ndarray, image_format: str = "RGB") -> None:
        """image: H x W x 3 uint8 in image_format ("RGB" or "BGR")."""
        if (
            not isinstance(image, np.ndarray)
            or image.ndim != 3
            or image.shape[2] != 3
            or image.dtype != np.uint8
        ):
            got = getattr(image, "shape", type(image).__name__), getattr(image, "dtype", "")
            raise ValueError(f"image must be an H x W x 3 uint8 array, got {got}")
        if image_format not in ("RGB", "BGR"):
            raise ValueError(f"image_format must be 'RGB' or 'BGR', got {image_format!r}")
        bgr = image[..., ::-1] if image_format == "RGB" else image
        h, w = image.shape[:2]
        self._orig_hw = (h, w)
        self._scale = 1.0
        if self.max_side is not None and max(h, w) > self.max_side:
            self._scale = self.max_side / max(h, w)
            size = (max(1, round(w * self._scale)), max(1, round(h * self._scale)))
            bgr = cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)
        self._bgr = np.ascontiguousarray(bgr)

    def reset_image(self) -> None:
        """Forget the current image."""
        self._bgr = None

    def _init_mask(
        self, points: np.ndarray | None, labels: np.ndarray | None, box: np.ndarray | None
    ) -> np.ndarray:
        assert self._bgr is not None
        h, w = self._bgr.shape[:2]
        s = self._scale
        mask = np.full((h, w), cv2.GC_PR_BGD, dtype=np.uint8)
        if box is not None:
            x0, y0, x1, y1 = _box_pixels(box * s, w, h)
            mask[:] = cv2.GC_BGD
            mask[y0 : y1 + 1, x0 : x1 + 1] = cv2.GC_PR_FGD
        if points is not None and labels is not None:
            prior = max(1, round(self.prior_radius * min(h, w)))
            stroke = round(self.click_radius * s)
            centres = [(int(x), int(y)) for x, y in np.rint(points * s)]  # (x, y) in the GrabCut frame
            if box is None:
                for centre, label in zip(centres, labels):
                    if label == 1:
                        cv2.circle(mask, centre, prior, cv2.GC_PR_FGD, -1)
            for centre, label in zip(centres, labels):
                value = cv2.GC_FGD if label == 1 else cv2.GC_BGD
                cv2.circle(mask, centre, stroke, value, -1)
        return mask

    def predict(
        self,
        point_coords: np.ndarray | None = None,
        point_labels: np.ndarray | None = None,
        box: np.ndarray | None = None,
        mask_input: np.ndarray | None = None,
        multimask_output: bool = True,
        return_logits: bool = False,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """point_coords N x 2 (x, y) px, point_labels N (1 fg / 0 bg), box (4,) XYXY px ->
        (masks 1 x H x W bool, scores (1,) = 1.0, low-res logits 1 x 256 x 256 zeros)."""
        if self._bgr is None:
            raise RuntimeError("call set_image(image) before predict")
        points, labels, box_arr = _check_prompts(point_coords, point_labels, box)
        if points is None and box_arr is None:
            raise ValueError("predict needs point_coords with point_labels, or a box; got neither")
        init = self._init_mask(points, labels, box_arr)
        fg = (init == cv2.GC_FGD) | (init == cv2.GC_PR_FGD)
        if fg.any() and not fg.all():
            bgd_model = np.zeros((1, 65), np.float64)
            fgd_model = np.zeros((1, 65), np.float64)
            cv2.setRNGSeed(self.seed)
            if points is None and box_arr is not None:
                x0, y0, x1, y1 = _box_pixels(box_arr * self._scale, init.shape[1], init.shape[0])
                rect = (x0, y0, x1 - x0 + 1, y1 - y0 + 1)  # OpenCV rect is (x, y, w, h)
                mode = cv2.GC_INIT_WITH_RECT
            else:
                rect, mode = (0, 0, 0, 0), cv2.GC_INIT_WITH_MASK  # rect is unused in mask mode
            cv2.grabCut(self._bgr, init, rect, bgd_model, fgd_model, self.iterations, mode)
            fg = (init == cv2.GC_FGD) | (init == cv2.GC_PR_FGD)
        h, w = self._orig_hw
        if fg.shape != (h, w):
            fg = cv2.resize(fg.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST).astype(bool)
        return fg[None], np.ones(1, dtype=np.float32), np.zeros((1, LOW_RES, LOW_RES), dtype=np.float32)


def _box_pixels(box: np.ndarray, w: int, h: int) -> tuple[int, int, int, int]:
    """Integer inclusive XYXY pixel box, rounded outwards and clipped to a w x h image."""
    x0, y0 = int(np.floor(box[0])), int(np.floor(box[1]))
    x1, y1 = int(np.ceil(box[2])), int(np.ceil(box[3]))
    x0, x1 = min(max(x0, 0), w - 1), min(max(x1, 0), w - 1)
    y0, y1 = min(max(y0, 0), h - 1), min(max(y1, 0), h - 1)
    return x0, y0, max(x0, x1), max(y0, y1)


def _check_prompts(
    point_coords: np.ndarray | None, point_labels: np.ndarray | None, box: np.ndarray | None
) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    points = labels = box_arr = None
    if point_coords is not None:
        points = np.asarray(point_coords, dtype=np.float64)
        if points.ndim != 2 or points.shape[1] != 2:
            raise ValueError(f"point_coords must be N x 2 (x, y) pixels, got shape {points.shape}")
        if point_labels is None:
            raise ValueError("point_labels must be given with point_coords, got None")
        labels = np.asarray(point_labels).reshape(-1)
        if labels.shape[0] != points.shape[0]:
            raise ValueError(
                f"point_labels must have {points.shape[0]} entries (one per point), got {labels.shape}"
            )
    if box is not None:
        box_arr = np.asarray(box, dtype=np.float64).reshape(-1)
        if box_arr.shape != (4,):
            raise ValueError(f"box must be (4,) XYXY pixels, got shape {np.asarray(box).shape}")
    return points, labels, box_arr

"""Helpers to drive the editor like a user (mouse at image pixels, keys) and read what the page shows."""

from __future__ import annotations

import json
import urllib.request
from typing import TYPE_CHECKING, Any

import numpy as np
from pycocotools import mask as mask_utils

if TYPE_CHECKING:
    from playwright.sync_api import Page

STAGE = "#stage canvas.layer-overlay"


def list_images(url: str) -> dict[str, dict[str, Any]]:
    with urllib.request.urlopen(f"{url}/api/images", timeout=30) as response:
        return {image["name"]: image for image in json.load(response)}


def post_json(url: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "X-Segany-Client": "1"},
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        return dict(json.load(response))


def to_client(page: Page, x: float, y: float) -> tuple[float, float]:
    """Original-image pixel (x, y) -> page (CSS pixel) coordinates on the stage."""
    box = page.locator(STAGE).bounding_box()
    assert box is not None, "the stage is not laid out"
    width, height = page.evaluate(
        "[window.segany.editor.renderer.width, window.segany.editor.renderer.height]"
    )
    return box["x"] + x * box["width"] / width, box["y"] + y * box["height"] / height


def hover(page: Page, x: float, y: float) -> None:
    page.mouse.move(*to_client(page, x, y))


def count(page: Page, expression: str) -> int:
    return int(page.evaluate(expression))


def wait_count(page: Page, expression: str, at_least: int, timeout_ms: int = 60_000) -> None:
    page.wait_for_function(f"({expression}) >= {at_least}", timeout=timeout_ms)


def click(page: Page, x: float, y: float, negative: bool = False) -> None:
    """A click at image pixel (x, y) that waits for its mask to be drawn."""
    done = count(page, "window.seganyStats.predictions.length")
    page.mouse.move(*to_client(page, x, y))
    if negative:
        page.keyboard.down("Shift")
    page.mouse.down()
    page.mouse.up()
    if negative:
        page.keyboard.up("Shift")
    wait_count(page, "window.seganyStats.predictions.length", done + 1)


def drag_box(page: Page, x0: float, y0: float, x1: float, y1: float) -> None:
    done = count(page, "window.seganyStats.predictions.length")
    page.mouse.move(*to_client(page, x0, y0))
    page.mouse.down()
    page.mouse.move(*to_client(page, x1, y1), steps=8)
    page.mouse.up()
    wait_count(page, "window.seganyStats.predictions.length", done + 1)


def prompt(page: Page) -> dict[str, Any]:
    """The current prompt step as the page derived it: points, labels, box (original pixels), choice."""
    return dict(
        page.evaluate(
            """() => { const s = window.segany.editor.state.steps;
                   const last = s[s.length - 1];
                   return last ? { points: last.points, labels: last.labels, box: last.box,
                                   choice: last.choice } : null; }"""
        )
        or {}
    )


def current_mask(page: Page) -> np.ndarray:
    rle = page.evaluate("window.segany.currentRle()")
    assert rle is not None, "the page shows no current mask"
    return decode_rle(rle)


def decode_rle(rle: dict[str, Any]) -> np.ndarray:
    height, width = rle["size"]
    counts = rle["counts"]
    compressed = mask_utils.frPyObjects(rle, height, width) if isinstance(counts, list) else rle
    return mask_utils.decode(compressed).astype(bool)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


def painted_pixels(page: Page, layer: str) -> int:
    """Pixels with non-zero alpha on one of the stage's canvases."""
    return count(
        page,
        f"""(() => {{
        const canvas = document.querySelector('#stage canvas.layer-{layer}');
        const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        let n = 0;
        for (let i = 3; i < data.length; i += 4) n += data[i] > 0;
        return n;
    }})()""",
    )


def settled_hover(page: Page) -> tuple[float, float, np.ndarray]:
    """Waits until no hover request is pending, then the last hover mask drawn and its point (image pixels)."""
    page.wait_for_function(
        "(() => { const h = window.segany.editor.hover; return !h.inFlight && h.latest === null; })()"
    )
    shown = page.evaluate("window.segany.editor.lastHoverRle()")
    assert shown is not None, "no hover mask was drawn"
    return float(shown["x"]), float(shown["y"]), decode_rle(shown["rle"])


def server_hover(url: str, image_id: str, x: float, y: float) -> np.ndarray:
    """The server's /hover answer for (x, y), decoded here from its binary RLE by pycocotools."""
    request = urllib.request.Request(
        f"{url}/api/images/{image_id}/hover",
        data=json.dumps({"x": x, "y": y}).encode(),
        headers={"Content-Type": "application/json", "X-Segany-Client": "1"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        height, width = (int(v) for v in response.headers["X-Mask-Size"].split(","))
        counts = np.frombuffer(response.read(), dtype="<u4").tolist()
    return decode_rle({"size": [height, width], "counts": counts})

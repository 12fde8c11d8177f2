"""Browser decoding (onnxruntime-web in a worker, on the server's embedding) gives the server's masks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tests.browser.conftest import open_editor
from tests.browser.page_driver import (
    click,
    current_mask,
    decode_rle,
    hover,
    iou,
    list_images,
    post_json,
    prompt,
    server_hover,
    settled_hover,
    wait_count,
)
from tests.browser.serve_process import ServeProcess

if TYPE_CHECKING:
    from playwright.sync_api import Page

PHOTO = "dog.jpg"  # 800 x 534: a resize in both directions of the upsampling


def test_browser_masks_match_server_masks(page: Page, server: ServeProcess) -> None:
    image = list_images(server.url)[PHOTO]
    info = open_editor(page, server, f"?image={image['id']}&decoder=browser")
    assert "decoding: browser" in page.locator("#model-badge").inner_text()

    hover(page, 300, 250)
    hover(page, 310, 255)
    wait_count(page, "window.seganyStats.hover.length", 1, timeout_ms=120_000)
    assert page.evaluate("window.seganyStats.hover.every((h) => h.decoder === 'browser')")
    # The server lists the cached decoder pair: hovers (no previous logits) run its per-prompt graph.
    assert set(info["decoder_files"]) >= {"decoder_prep", "decoder_cached", "decoder_lowres"}
    graphs = page.evaluate("window.seganyStats.hover.map((h) => h.graph)")  # one read: hovers may still land
    assert graphs and all(graph == "cached" for graph in graphs), graphs
    assert page.evaluate("self.crossOriginIsolated"), "COOP/COEP headers missing: wasm threads unavailable"
    # The decoder was warmed up on a blank embedding before the first photo's prompts.
    warmup = page.evaluate("window.segany.editor.segmenter.browserDecoder.loadInfo.warmup")
    assert warmup["runs"] >= 1 and len(warmup["ms"]) == warmup["runs"], warmup
    # The hover mask drawn (browser-decoded, best candidate only) matches the server's /hover answer.
    hx, hy, hover_mask = settled_hover(page)
    assert 0 < hover_mask.sum() < hover_mask.size
    assert iou(hover_mask, server_hover(server.url, image["id"], hx, hy)) >= 0.99

    def server_prediction(previous: dict[str, object] | None, multimask: bool) -> dict[str, Any]:
        """The server's answer to the page's current prompt (server-side decoding, for comparison)."""
        step = prompt(page)
        body = {"points": step["points"], "labels": step["labels"], "box": None}
        return post_json(predict_url, {**body, "previous": previous, "multimask": multimask})

    predict_url = f"{server.url}/api/images/{image['id']}/predict"
    click(page, 310, 255)
    first = server_prediction(None, multimask=True)
    assert page.evaluate("window.segany.editor.current.index") == first["best"]
    assert iou(current_mask(page), decode_rle(first["masks"][first["best"]])) >= 0.99

    # A negative point refined with the first prediction's logits, on both sides.
    click(page, 520, 120, negative=True)
    refined = server_prediction({"prediction_id": first["prediction_id"], "index": first["best"]}, False)
    # The first click had no previous logits (cached graph); the refinement needs the full decoder.
    assert page.evaluate("window.seganyStats.predictions.map((p) => p.graph)") == ["cached", "decoder"]
    assert iou(current_mask(page), decode_rle(refined["masks"][0])) >= 0.99

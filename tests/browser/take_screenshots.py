"""Screenshots of the editor (hover, multimask choice, objects, everything) for the docs.

    python -m tests.browser.take_screenshots --out screens/ [--model segany_small] [--photos DIR]

Not a test: it drives the same page as tests/browser with Playwright and writes PNGs.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from tests.browser.page_driver import click, drag_box, hover, list_images, wait_count
from tests.browser.serve_process import serving
from tests.conftest import FIXTURES_DIR


def shoot(page: Page, out: Path, name: str) -> None:
    page.screenshot(path=str(out / f"{name}.png"))
    print(out / f"{name}.png")


def run(page: Page, url: str, photo_id: str, out: Path) -> None:
    page.goto(f"{url}/?image={photo_id}")
    page.wait_for_function(
        "document.getElementById('status').textContent.startsWith('Ready')", timeout=300_000
    )
    width, height = page.evaluate(
        "[window.segany.editor.renderer.width, window.segany.editor.renderer.height]"
    )
    hover(page, 0.40 * width, 0.45 * height)
    hover(page, 0.42 * width, 0.47 * height)
    wait_count(page, "window.seganyStats.hover.length", 1, 120_000)
    page.wait_for_timeout(300)
    shoot(page, out, "hover")

    click(page, 0.42 * width, 0.47 * height)
    page.keyboard.press("2")
    page.wait_for_selector("#candidates button.candidate.chosen[data-index='1']")
    shoot(page, out, "multimask")

    page.keyboard.press("1")
    page.fill("#label-input", "dog")
    page.keyboard.press("Enter")
    drag_box(page, 0.02 * width, 0.55 * height, 0.30 * width, 0.98 * height)
    page.fill("#label-input", "left corner")
    page.keyboard.press("Enter")
    click(page, 0.85 * width, 0.25 * height)
    page.keyboard.press("Enter")
    page.wait_for_function("window.segany.editor.state.objects.length === 3")
    shoot(page, out, "objects")

    page.fill("#everything-overrides input[data-override='points_per_side']", "16")
    page.fill("#everything-overrides input[data-override='pred_iou_thresh']", "0")
    page.fill("#everything-overrides input[data-override='stability_score_thresh']", "0")
    page.click("#everything-run")
    page.wait_for_function("window.segany.editor.session.everything !== null", timeout=600_000)
    hover(page, 0.5 * width, 0.5 * height)
    page.wait_for_timeout(300)
    shoot(page, out, "everything")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--model", default="segany_small")
    parser.add_argument("--photo", type=Path, default=FIXTURES_DIR / "dog.jpg")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        gallery = Path(tmp) / "photos"
        gallery.mkdir()
        shutil.copy(args.photo, gallery / args.photo.name)
        for name in ("chelsea.jpg", "astronaut.jpg"):
            shutil.copy(FIXTURES_DIR / name, gallery / name)
        with serving(
            ["--model", args.model], gallery, Path(tmp) / "cache", Path(tmp) / "serve.log"
        ) as server:
            photo_id = list_images(server.url)[args.photo.name]["id"]
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=shutil.which("chromium"), args=["--no-sandbox"]
                )
                page = browser.new_page(viewport={"width": 1400, "height": 860})
                run(page, server.url, photo_id, args.out)
                browser.close()


if __name__ == "__main__":
    main()

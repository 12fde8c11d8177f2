"""Screenshots of the data-engine page (project editor, review queue, dashboard) for the docs, as JPEGs.

    python -m tests.browser.take_engine_screenshots --out docs/engine [--model segany_small]

Not a test. It drives the page as the users would (log in, click masks, pre-fill, automatic, review) on a
project server with the bundled model. The dashboard's per-version bars also need earlier "rounds", which one
session cannot have: the script adds two scripted rounds of manual masks under two registered demo model
versions (fixed seconds / clicks per mask, squares on the third photo) through the API. Those bars are
demo numbers, not measurements; every other number on the pages comes from the session itself.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

import numpy as np
from playwright.sync_api import Page, sync_playwright

from tests.browser.engine_server import PASSWORD, copy_photos, engine_serving, seed_project
from tests.conftest import FIXTURES_DIR

PHOTOS = ("dog.jpg", "chelsea.jpg", "astronaut.jpg")
# Demo rounds for the per-version chart: (version name, [(seconds, clicks) per mask]).
DEMO_ROUNDS = (
    ("demo-round-1", [(36.0, 9), (31.0, 7), (35.0, 8)]),
    ("demo-round-2", [(22.0, 5), (19.0, 4), (21.0, 5)]),
)


def shoot(page: Page, out: Path, name: str) -> None:
    path = out / f"{name}.jpg"
    page.screenshot(path=str(path), type="jpeg", quality=62)
    print(path, path.stat().st_size // 1024, "KB")


def log_in(page: Page, url: str, username: str) -> None:
    page.goto(f"{url}/")
    page.wait_for_selector("body[data-started='1']")
    if page.is_visible("#logout"):
        page.click("#logout")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#view-projects:not([hidden])")


def go(page: Page, hash_: str) -> None:
    page.evaluate("(h) => { window.location.hash = h; }", hash_)
    page.wait_for_selector("body[data-ready='1']", timeout=600_000)


def at(page: Page, fx: float, fy: float) -> tuple[float, float]:
    box = page.locator("#stage canvas.layer-overlay").bounding_box()
    assert box is not None
    return box["x"] + fx * box["width"], box["y"] + fy * box["height"]


def click_mask(page: Page, fx: float, fy: float) -> None:
    page.mouse.click(*at(page, fx, fy))
    page.wait_for_function("window.seganyEngine.current !== null", timeout=300_000)
    page.keyboard.press("Enter")


def register_demo_versions(project_dir: Path) -> None:
    """The demo rounds' model versions, registered before the server's own (the chart orders by id)."""
    from segany.engine.server import register_model_version
    from segany.engine.store import open_store

    store = open_store(project_dir, create=False)
    try:
        for index, (name, _) in enumerate(DEMO_ROUNDS):
            register_model_version(store, f"{name}.pt", f"{index:064d}", name=name, notes="screenshot demo")
    finally:
        store.close()


def demo_rounds(url: str, app: Any, image_id: int, project_id: int) -> None:
    """Manual masks with fixed seconds/clicks under two demo model versions (see the module docstring)."""
    from segany.engine.server import register_model_version

    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

    def call(path: str, body: dict[str, Any], csrf: str = "") -> dict[str, Any]:
        request = urllib.request.Request(
            f"{url}{path}",
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Content-Type": "application/json", "X-Segany-Client": "1", "X-CSRF-Token": csrf},
        )
        with opener.open(request, timeout=60) as response:
            return dict(json.load(response))

    csrf = call("/api/engine/login", {"username": "ann", "password": PASSWORD})["csrf_token"]
    current = app.state.engine.model_version_id
    from PIL import Image

    width, height = Image.open(FIXTURES_DIR / PHOTOS[image_id - 1]).size
    for round_index, (name, masks) in enumerate(DEMO_ROUNDS):
        version = register_model_version(
            app.state.engine.store, f"{name}.pt", f"{round_index:064d}", name=name
        )
        app.state.engine.model_version_id = version
        for k, (seconds, clicks) in enumerate(masks):
            mask = np.zeros((height, width), dtype=bool)
            x0 = 20 + 60 * k + 200 * round_index
            mask[20 : 20 + 40, x0 : x0 + 40] = True
            flat = mask.T.reshape(-1).astype(np.int8)
            changes = np.flatnonzero(np.diff(np.concatenate([[0], flat, [1 - flat[-1]]])))
            counts = np.diff(np.concatenate([[0], changes])).tolist()
            body = {
                "idempotency_key": f"demo-{round_index}-{k}",
                "mask": {"size": [height, width], "counts": counts},
                "label": "demo",
                "clicks": clicks,
                "seconds": seconds,
            }
            call(f"/api/engine/projects/{project_id}/images/{image_id}/annotations", body, csrf)
    app.state.engine.model_version_id = current


def run(page: Page, url: str, app: Any, project_id: int, out: Path) -> None:
    demo_rounds(url, app, image_id=3, project_id=project_id)
    # the annotator: masks on the dog photo with the model
    log_in(page, url, "ann")
    go(page, f"#/p/{project_id}")
    page.wait_for_function(
        "document.getElementById('status').textContent.startsWith('Ready')", timeout=600_000
    )
    for fx, fy in ((0.45, 0.45), (0.82, 0.25), (0.15, 0.8)):
        page.mouse.click(*at(page, fx, fy))
        page.wait_for_function("window.seganyEngine.current !== null", timeout=300_000)
        page.wait_for_timeout(2500)  # an annotator looks at the mask before accepting
        page.keyboard.press("Enter")
        page.wait_for_function("window.seganyEngine.saving === 0")
    # the admin: automatic on photos 2 and 3 (keys N / P move between photos), pre-fill on photo 1
    log_in(page, url, "admin")
    go(page, f"#/p/{project_id}")
    # segany_small scores its masks low (median predicted IoU ~0.3-0.4 on these photos): low thresholds.
    page.fill("#job-points", "12")
    page.fill("#job-iou", "0.3")
    page.fill("#job-stability", "0.2")
    page.set_checked("#job-only-this", True)
    for keys, image_id, kind in (
        (["n"], 2, "automatic"),
        (["n"], 3, "automatic"),
        (["p", "p"], 1, "prefill"),
    ):
        page.evaluate("document.activeElement.blur()")  # keys typed into a field are the field's
        for key in keys:
            page.keyboard.press(key)
        page.wait_for_function(f"document.body.dataset.imageId === '{image_id}'")
        page.select_option("#job-kind", kind)
        page.click("#job-run")
        page.wait_for_selector("#job-status[data-state='done']", timeout=600_000)
        page.evaluate("document.getElementById('job-status').removeAttribute('data-state')")
    # keep one pre-filled mask, fix one with the brush, delete one (as the admin: the shot shows the jobs too)
    proposed = page.locator("#annotation-list li.proposed")
    if proposed.count() >= 3:
        proposed.nth(0).locator("button[data-action=keep]").click()
        page.wait_for_timeout(500)
        page.locator("#annotation-list li.proposed").nth(0).locator("button[data-action=delete]").click()
        page.wait_for_timeout(500)
        page.locator("#annotation-list li.proposed").nth(0).locator("button[data-action=fix]").click()
        page.evaluate("window.seganyEngine.radius = 10")
        page.mouse.move(*at(page, 0.30, 0.30))
        page.mouse.down()
        page.mouse.move(*at(page, 0.40, 0.33), steps=6)
        page.mouse.up()
        page.keyboard.press("Enter")
        page.wait_for_timeout(800)
    if page.locator("#annotation-list li.proposed").count():
        page.locator("#annotation-list li.proposed").nth(0).click()
    page.mouse.move(*at(page, 0.6, 0.6))
    page.wait_for_timeout(300)
    shoot(page, out, "project_editor")
    # the reviewer
    log_in(page, url, "rev")
    go(page, f"#/p/{project_id}/review")
    page.wait_for_selector("body[data-review-ready='1']")
    for k in range(min(6, page.locator(".review-card").count())):
        page.keyboard.press("r" if k == 2 else "a")
        page.wait_for_timeout(250)
    page.wait_for_timeout(500)
    shoot(page, out, "review_queue")
    go(page, f"#/p/{project_id}/dashboard")
    page.wait_for_selector("body[data-dashboard-ready='1']")
    shoot(page, out, "dashboard")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--model", default="segany_small", help="a bundled model name")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    from segany.pretrained.loading import load_pretrained

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        photos = copy_photos(PHOTOS, FIXTURES_DIR, root / "photos")
        ids = seed_project(root / "project", photos)
        register_demo_versions(root / "project")
        sam = load_pretrained(args.model).eval()
        serving = engine_serving(root / "project", sam, root / "cache", args.model, "bundled")
        with serving as (url, app), sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=shutil.which("chromium"), args=["--no-sandbox"]
            )
            page = browser.new_page(viewport={"width": 1360, "height": 820})
            run(page, url, app, ids["Photos"], args.out)
            browser.close()


if __name__ == "__main__":
    main()

"""One loop of the data engine in Chromium, on a project server with a tiny random model (tests/browser/
engine_server.py): log in, annotate 2 masks (one click, one box + brush; a lost answer retried without a
twin), pre-fill, fix one pre-filled mask (a concurrent save -> 409 shown, the fix kept and saved over it),
run automatic on the 2 photos, review, the dashboard, export SA-1B and COCO; every file decodes
(pycocotools) to the masks in the database, and each check compares with the database or numpy, not with
what the page says about itself."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from tests.browser.engine_server import PASSWORD, copy_photos, engine_serving, seed_project
from tests.browser.page_driver import decode_rle
from tests.conftest import FIXTURES_DIR

pytest.importorskip("sqlalchemy", reason='the engine needs the engine extra: pip install "segany[engine]"')

if TYPE_CHECKING:
    from playwright.sync_api import Page

PHOTOS = ("chelsea.jpg", "dog.jpg")
# Loose filters: a random tiny model scores low and its masks all overlap (NMS off); 2 x 2 points x 3 masks.
LOOSE = {"#job-points": "2", "#job-iou": "0", "#job-stability": "0", "#job-nms": "1"}


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any, dict[str, int]]]:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine"))
    from engine_client import tiny_model

    root = tmp_path_factory.mktemp("engine_page")
    photos = copy_photos(PHOTOS, FIXTURES_DIR, root / "photos")
    ids = seed_project(root / "project", photos)
    with engine_serving(root / "project", tiny_model(), root / "cache") as (url, app):
        yield url, app, ids


def rows(app: Any, **where: Any) -> list[Any]:
    from sqlalchemy import select

    from segany.engine.models import Annotation

    query = select(Annotation).order_by(Annotation.id)
    for name, value in where.items():
        query = query.where(getattr(Annotation, name) == value)
    with app.state.engine.store.session() as db:
        found = list(db.scalars(query))
        db.expunge_all()
    return found


def events(app: Any, kind: str) -> list[Any]:
    from sqlalchemy import select

    from segany.engine.models import AnnotationEvent

    with app.state.engine.store.session() as db:
        found = list(
            db.scalars(
                select(AnnotationEvent).where(AnnotationEvent.kind == kind).order_by(AnnotationEvent.id)
            )
        )
        db.expunge_all()
    return found


def stored(row: Any) -> np.ndarray:
    return np.asarray(
        mask_utils.decode({"size": [row.height, row.width], "counts": row.rle_counts.encode()}), dtype=bool
    )


def log_in(page: Page, url: str, username: str) -> None:
    page.goto(f"{url}/")
    page.wait_for_selector("body[data-started='1']")
    if page.is_visible("#logout"):
        page.click("#logout")
    page.wait_for_selector("#login-form", state="visible")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#view-projects:not([hidden])")


def open_page(page: Page, project_id: int, suffix: str = "") -> None:
    page.evaluate("(hash) => { window.location.hash = hash; }", f"#/p/{project_id}{suffix}")
    page.wait_for_selector("body[data-ready='1']", timeout=60_000)


def wait_ready(page: Page) -> None:
    page.wait_for_function(
        "document.getElementById('status').textContent.startsWith('Ready')", timeout=120_000
    )


def stage_point(page: Page, x: float, y: float) -> tuple[float, float]:
    box = page.locator("#stage canvas.layer-overlay").bounding_box()
    assert box is not None
    width, height = page.evaluate("[window.seganyEngine.renderer.width, window.seganyEngine.renderer.height]")
    return box["x"] + x * box["width"] / width, box["y"] + y * box["height"] / height


def stroke(page: Page, points: list[tuple[float, float]]) -> None:
    page.mouse.move(*stage_point(page, *points[0]))
    page.mouse.down()
    for point in points[1:]:
        page.mouse.move(*stage_point(page, *point), steps=4)
    page.mouse.up()


def disc(height: int, width: int, x: float, y: float, radius: float) -> np.ndarray:
    yy, xx = np.mgrid[:height, :width]
    return (xx + 0.5 - x) ** 2 + (yy + 0.5 - y) ** 2 <= (
        radius - 2.5
    ) ** 2  # slack: the mouse lands on whole CSS pixels


def inside_point(mask: np.ndarray, min_y: int) -> tuple[int, int]:
    """(x, y) with y >= min_y whose stroke to (x + 20, y), 8 px wide on each side, lies inside `mask`."""
    height, width = mask.shape
    for y in range(max(min_y, 8), height - 8, 4):
        for x in range(8, width - 28, 4):
            if mask[y - 8 : y + 9, x - 8 : x + 29].all():
                return x, y
    raise AssertionError("the pre-filled mask has no room for an eraser stroke")


def run_job(page: Page, kind: str, only_this: bool) -> None:
    page.select_option("#job-kind", kind)
    for selector, value in LOOSE.items():
        page.fill(selector, value)
    page.set_checked("#job-only-this", only_this)
    page.click("#job-run")
    page.wait_for_selector("#job-status[data-state='done']", timeout=120_000)
    page.evaluate("document.getElementById('job-status').removeAttribute('data-state')")


def test_one_loop_of_the_data_engine(page: Page, engine: tuple[str, Any, dict[str, int]]) -> None:
    url, app, ids = engine
    project = ids["Photos"]
    version_id = app.state.engine.model_version_id

    # --- an annotator: 2 masks on photo 1 -----------------------------------------------------------------
    log_in(page, url, "ann")
    assert page.locator("#project-list li").count() == 1  # not project "Other"
    open_page(page, project)
    wait_ready(page)
    lost = {"count": 0}

    def lose_first_answer(route: Any) -> None:  # the server saves, the page never hears back: it retries
        if route.request.method == "POST" and lost["count"] == 0:
            lost["count"] += 1
            route.fetch()
            route.abort()
        else:
            route.continue_()

    page.route("**/images/*/annotations", lose_first_answer)
    page.mouse.click(*stage_point(page, 200, 150))
    page.wait_for_function("window.seganyEngine.current !== null", timeout=60_000)
    first = decode_rle(page.evaluate("window.seganyEngine.currentRle()"))
    page.keyboard.press("Enter")
    page.wait_for_function("window.seganyEngine.stats.accepts.length === 1", timeout=60_000)
    page.unroute("**/images/*/annotations")
    assert lost["count"] == 1 and page.evaluate("window.seganyEngine.stats.retries") >= 1
    manual = rows(app, source="manual")
    assert len(manual) == 1, "a retried accept must not add a twin"
    np.testing.assert_array_equal(stored(manual[0]), first)
    assert manual[0].clicks == 1 and manual[0].model_version_id == version_id

    # mask 2: a box, then a brush stroke on the predicted mask before accepting
    page.mouse.move(*stage_point(page, 260, 40))
    page.mouse.down()
    page.mouse.move(*stage_point(page, 420, 200), steps=8)
    page.mouse.up()
    page.wait_for_function("window.seganyEngine.current !== null", timeout=60_000)
    predicted = decode_rle(page.evaluate("window.seganyEngine.currentRle()"))
    page.keyboard.press("b")
    page.evaluate("window.seganyEngine.radius = 8")
    stroke(page, [(40, 250), (120, 250)])
    painted = decode_rle(page.evaluate("window.seganyEngine.currentRle()"))
    page.keyboard.press("Enter")
    page.wait_for_function("window.seganyEngine.stats.accepts.length === 2", timeout=60_000)
    manual = rows(app, source="manual")
    assert len(manual) == 2
    second = stored(manual[1])
    np.testing.assert_array_equal(second, painted)
    height, width = second.shape
    assert (second | predicted).sum() == second.sum()  # the brush only adds
    for x in (40, 80, 120):
        assert second[disc(height, width, x, 250, 8)].all()
    assert manual[1].clicks == 2  # the box and the stroke
    prompts = events(app, "prompt")
    assert [event.payload["type"] for event in prompts] == ["point", "box", "brush"]
    assert {event.user_id for event in prompts} == {manual[0].created_by}
    page.keyboard.press("v")

    # --- an admin: pre-fill photo 1 ------------------------------------------------------------------------
    log_in(page, url, "admin")
    open_page(page, project)
    wait_ready(page)
    run_job(page, "prefill", only_this=True)
    prefilled = rows(app, source="prefilled")
    assert len(prefilled) >= 2 and all(row.status == "proposed" for row in prefilled)
    page.wait_for_function(
        f"document.querySelectorAll('#annotation-list li[data-source=prefilled]').length === {len(prefilled)}"
    )
    # the page decodes the stored (compressed) RLE to the same mask as pycocotools
    shown = decode_rle(page.evaluate(f"window.seganyEngine.maskRle({prefilled[0].id})"))
    np.testing.assert_array_equal(shown, stored(prefilled[0]))

    # --- the annotator fixes one pre-filled mask; someone saves it first: 409, the fix survives ------------
    log_in(page, url, "ann")
    open_page(page, project)
    wait_ready(page)
    target = prefilled[0]
    page.click(f"#annotation-list li[data-id='{target.id}'] button[data-action=fix]")
    page.evaluate("window.seganyEngine.radius = 6")
    page.keyboard.press("b")
    stroke(page, [(30, 30), (90, 30)])
    before = stored(target)
    ex, ey = inside_point(before, 60)  # an eraser stroke (ex, ey) -> (ex + 20, ey) inside the mask
    page.keyboard.press("e")
    stroke(page, [(ex, ey), (ex + 20, ey)])
    mine = decode_rle(page.evaluate("window.seganyEngine.fixingRle()"))
    brushed = disc(*mine.shape, 30, 30, 6) | disc(*mine.shape, 90, 30, 6)
    erased = disc(*mine.shape, ex, ey, 6) | disc(*mine.shape, ex + 20, ey, 6)
    assert mine[brushed].all() and not mine[erased].any()
    assert (mine & ~before).any()
    with app.state.engine.store.transaction() as db:  # another annotator's label change lands first
        from segany.engine import annotating

        annotating.update_mask(db, annotating.get(db, project, target.id), target.version, None, label="cat")
    page.keyboard.press("Enter")
    page.wait_for_selector("#conflict:not([hidden])")
    assert "409" in page.inner_text("#conflict-text")
    assert page.evaluate("window.seganyEngine.fixing !== null")  # not lost
    page.click("#conflict-save")
    page.wait_for_selector("#conflict", state="hidden")
    fixed = next(row for row in rows(app) if row.id == target.id)
    assert fixed.status == "accepted" and fixed.version == target.version + 2
    np.testing.assert_array_equal(stored(fixed), mine)
    edits = [event for event in events(app, "edit") if event.payload.get("mask_changed")]
    assert len(edits) == 1 and edits[0].payload["clicks"] == 2 and edits[0].payload["source"] == "prefilled"
    # keep one, delete one (buttons of the list)
    keep, drop = prefilled[1], prefilled[-1] if len(prefilled) > 2 else None
    page.click(f"#annotation-list li[data-id='{keep.id}'] button[data-action=keep]")
    page.wait_for_selector(f"#annotation-list li.accepted[data-id='{keep.id}']")
    if drop is not None:
        page.click(f"#annotation-list li[data-id='{drop.id}'] button[data-action=delete]")
        page.wait_for_selector(f"#annotation-list li[data-id='{drop.id}']", state="detached")
    # keyboard flow: next photo and back
    page.keyboard.press("n")
    page.wait_for_function("document.body.dataset.imageId === '2'")
    page.keyboard.press("ArrowLeft")
    page.wait_for_function("document.body.dataset.imageId === '1'")

    # --- the admin runs automatic on the 2 photos -------------------------------------------------------
    log_in(page, url, "admin")
    open_page(page, project)
    wait_ready(page)
    run_job(page, "automatic", only_this=False)
    automatic = rows(app, source="automatic")
    assert {row.image_id for row in automatic} == {1, 2}

    # --- a reviewer: the review queue -------------------------------------------------------------------
    log_in(page, url, "rev")
    open_page(page, project, "/review")
    page.wait_for_selector("body[data-review-ready='1']")
    cards = page.locator(".review-card").count()
    assert cards == min(12, len(automatic))
    for k in range(cards):
        page.keyboard.press("a" if k % 3 else "r")
        page.wait_for_selector(f".review-card[data-index='{k}'].{'accepted' if k % 3 else 'rejected'}")
    decided = [row for row in rows(app, source="automatic") if row.status != "proposed"]
    assert len(decided) == cards
    page.wait_for_function(
        f"document.querySelector('#precision-table tr[data-threshold=\"0.5\"] td:nth-child(2)')"
        f"?.textContent === '{sum((row.predicted_iou or 0) >= 0.5 for row in decided)}'"
    )
    for row_element in page.locator("#precision-table tbody tr").all():
        threshold = float(row_element.get_attribute("data-threshold") or "nan")
        above = [row for row in decided if row.predicted_iou is not None and row.predicted_iou >= threshold]
        kept = sum(row.status == "accepted" for row in above)
        cells = row_element.locator("td").all_inner_texts()
        assert cells[1:3] == [str(len(above)), str(kept)]
        if above:
            assert cells[3] == f"{100 * kept / len(above):.1f} %"

    # --- the dashboard ---------------------------------------------------------------------------------
    open_page(page, project, "/dashboard")
    page.wait_for_selector("body[data-dashboard-ready='1']")
    accepted = [row for row in rows(app, project_id=project) if row.status == "accepted"]
    tile = page.inner_text("#dashboard-tiles .tile[data-key=accepted] strong")
    assert tile == str(len(accepted))
    assert page.locator("#chart-seconds svg rect[data-series]").count() >= 1

    # --- export SA-1B and COCO through the page's links -------------------------------------------------
    open_page(page, project)
    wait_ready(page)
    by_image: dict[int, list[Any]] = {}
    for row in accepted:
        by_image.setdefault(row.image_id, []).append(row)
    coco = download(page, "coco")
    document = json.loads(next(coco[name] for name in coco if name.endswith(".json")))
    assert len(document["images"]) == 2 and len(document["annotations"]) == len(accepted)
    file_of = {image["id"]: image["file_name"] for image in document["images"]}
    decoded = sorted(
        (file_of[item["image_id"]], int(mask_utils.decode(frozen(item["segmentation"])).sum()))
        for item in document["annotations"]
    )
    expected = sorted((PHOTOS[row.image_id - 1], int(stored(row).sum())) for row in accepted)
    assert decoded == expected
    sa1b = download(page, "sa1b")
    files = [name for name in sa1b if name.endswith(".json")]
    assert len(files) == 2
    areas = []
    for name in files:
        record = json.loads(sa1b[name])
        for item in record["annotations"]:
            mask = mask_utils.decode(frozen(item["segmentation"]))
            assert int(mask.sum()) == item["area"]
            areas.append(item["area"])
    assert sorted(areas) == sorted(int(stored(row).sum()) for row in accepted)


def frozen(rle: dict[str, Any]) -> dict[str, Any]:
    counts = rle["counts"]
    return {"size": rle["size"], "counts": counts.encode() if isinstance(counts, str) else counts}


def download(page: Page, format_name: str) -> dict[str, bytes]:
    with page.expect_download() as info:
        page.click(f"#export-links a[data-format='{format_name}']")
    path = info.value.path()
    assert path is not None
    with zipfile.ZipFile(io.BytesIO(Path(path).read_bytes())) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_engine_page_modules_against_pycocotools_and_numpy(
    page: Page, engine: tuple[str, Any, dict[str, int]]
) -> None:
    """The page decodes the engine's compressed RLE strings itself, and paints brush discs: both checked here
    against pycocotools and a numpy disc."""
    url = engine[0]
    page.goto(f"{url}/static/engine.html#/none")
    rng = np.random.default_rng(5)
    for height, width in ((37, 53), (300, 451), (1, 7)):
        mask = np.zeros((height, width), dtype=np.uint8)
        for _ in range(6):  # blobs, and a long run (counts > 2^10 need several characters)
            y, x = rng.integers(0, height), rng.integers(0, width)
            mask[max(0, y - 20) : y + 20, max(0, x - 30) : x + 30] = 1
        mask[0, 0] = rng.integers(0, 2)
        compressed = mask_utils.encode(np.asfortranarray(mask))
        decoded = page.evaluate(
            """async ({size, counts}) => {
                const client = await import('/static/js/engine/client.js');
                const rle = await import('/static/js/rle.js');
                return Array.from(rle.rleToMask(client.uncompressedRle({size, counts})).data);
            }""",
            {"size": [height, width], "counts": compressed["counts"].decode()},
        )
        np.testing.assert_array_equal(np.array(decoded, dtype=np.uint8).reshape(height, width), mask)
    for cx, cy, radius, value in ((10.3, 7.8, 5.0, 1), (0.0, 0.0, 3.5, 1), (30.5, 20.5, 12.0, 0)):
        base = (rng.random((40, 60)) < 0.5).astype(np.uint8)
        painted, changed = page.evaluate(
            """async ({data, cx, cy, radius, value}) => {
                const brush = await import('/static/js/engine/brush.js');
                const mask = {width: 60, height: 40, data: Uint8Array.from(data)};
                const changed = brush.paintDisc(mask, cx, cy, radius, value);
                return [Array.from(mask.data), changed];
            }""",
            {"data": base.reshape(-1).tolist(), "cx": cx, "cy": cy, "radius": radius, "value": value},
        )
        yy, xx = np.mgrid[:40, :60]
        inside = (xx + 0.5 - cx) ** 2 + (yy + 0.5 - cy) ** 2 <= radius**2  # pixel centres in the disc
        expected = np.where(inside, value, base)
        np.testing.assert_array_equal(np.array(painted, dtype=np.uint8).reshape(40, 60), expected)
        assert changed == int((expected != base).sum())

"""Upload (file picker, a bad file), reset with Escape, and the objects panel's hide / delete with undo."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.browser.conftest import open_editor
from tests.browser.page_driver import click, painted_pixels
from tests.browser.serve_process import ServeProcess
from tests.conftest import FIXTURES_DIR

if TYPE_CHECKING:
    from pathlib import Path

    from playwright.sync_api import Page

OBJECTS = "document.querySelectorAll('#objects-list li.object').length"


def test_upload_opens_the_photo_and_a_bad_file_gets_its_reason(
    page: Page, server: ServeProcess, tmp_path: Path
) -> None:
    open_editor(page, server)
    before = page.locator("#gallery-list li").count()
    page.set_input_files("#file-input", str(FIXTURES_DIR / "rocket_portrait.jpg"))
    page.wait_for_function(f"document.querySelectorAll('#gallery-list li').length === {before + 1}")
    page.wait_for_function("window.segany.editor.session.image.name === 'rocket_portrait.jpg'")
    # The stage takes the photo's size once the browser decoded it (a moment after the session switched).
    page.wait_for_function(
        "(() => { const r = window.segany.editor.renderer; return r.width === 280 && r.height === 427; })()"
    )

    bad = tmp_path / "not_an_image.png"
    bad.write_bytes(b"this is text, not a PNG")
    page.set_input_files("#file-input", str(bad))
    page.wait_for_selector("#status.error")
    reason = page.locator("#status").inner_text()
    assert reason and "\n" not in reason
    assert page.locator("#gallery-list li").count() == before + 1  # nothing added, the page still works


def test_escape_resets_and_objects_hide_delete_undo(page: Page, server: ServeProcess) -> None:
    open_editor(page, server)
    click(page, 150, 150)
    page.keyboard.press("Escape")
    page.wait_for_function("window.segany.editor.state.steps.length === 0")
    assert painted_pixels(page, "mask") == 0

    click(page, 150, 150)
    page.keyboard.press("Enter")
    page.wait_for_function(f"{OBJECTS} === 1")
    shown = painted_pixels(page, "objects")
    assert shown > 0
    page.click("#objects-list li.object button.hide")
    page.wait_for_function("window.segany.editor.state.objects[0].hidden === true")
    assert painted_pixels(page, "objects") == 0
    assert page.evaluate("window.segany.editor.exportRequest().objects.length") == 0  # hidden: not exported
    page.keyboard.press("Control+z")
    page.wait_for_function("window.segany.editor.state.objects[0].hidden === false")
    assert painted_pixels(page, "objects") == shown
    page.click("#objects-list li.object button.delete")
    page.wait_for_function(f"{OBJECTS} === 0")
    page.keyboard.press("Control+z")
    page.wait_for_function(f"{OBJECTS} === 1")

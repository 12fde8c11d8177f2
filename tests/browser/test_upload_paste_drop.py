"""Uploads by paste (Ctrl+V of an image on the clipboard) and by drag and drop onto the page.

Paste goes through Chromium's real clipboard: the test writes a PNG there with the async Clipboard API and
presses Ctrl+V, so the page sees the paste event the browser itself makes. Drag and drop of a file from the
desktop cannot be driven headless; the test dispatches the dragover and drop events with a DataTransfer
holding the file, as the browser would. Either way the photo must arrive on the server byte for byte and open.
"""

from __future__ import annotations

import base64
import hashlib
import io
from typing import TYPE_CHECKING

from PIL import Image

from tests.browser.conftest import open_editor
from tests.browser.serve_process import ServeProcess
from tests.conftest import FIXTURES_DIR

if TYPE_CHECKING:
    from playwright.sync_api import Page

GALLERY_ITEMS = "document.querySelectorAll('#gallery-list li').length"


def photo_bytes(name: str, fmt: str) -> bytes:
    """A fixture photo mirrored (content no test uploaded before) and saved as `fmt`."""
    image = Image.open(FIXTURES_DIR / name).convert("RGB").transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def served_sha256(page: Page, server: ServeProcess) -> str:
    """The bytes the server stored for the open photo, fetched from its /file endpoint, hashed here."""
    image_id = page.evaluate("window.segany.editor.session.image.id")
    data = page.evaluate(
        """async (id) => {
          const bytes = new Uint8Array(await (await fetch(`/api/images/${id}/file`)).arrayBuffer());
          let text = '';
          for (const b of bytes) text += String.fromCharCode(b);
          return btoa(text);
        }""",
        image_id,
    )
    return hashlib.sha256(base64.b64decode(data)).hexdigest()


def test_paste_of_an_image_uploads_and_opens_it(page: Page, server: ServeProcess) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    open_editor(page, server)
    before = page.evaluate(GALLERY_ITEMS)
    png = photo_bytes("rocket_portrait.jpg", "PNG")
    page.evaluate(
        """async (b64) => {
          const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
          const blob = new Blob([bytes], { type: 'image/png' });
          await navigator.clipboard.write([new ClipboardItem({ 'image/png': blob })]);
        }""",
        base64.b64encode(png).decode(),
    )
    page.keyboard.press("Control+v")
    page.wait_for_function(f"{GALLERY_ITEMS} === {before + 1}", timeout=60_000)
    page.wait_for_function("window.segany.editor.session.image.width === 280", timeout=60_000)
    assert page.evaluate("window.segany.editor.session.image.height") == 427
    # The clipboard re-encodes images as PNG: compare the pixels, not the bytes.
    image_id = page.evaluate("window.segany.editor.session.image.id")
    served = page.evaluate(
        """async (id) => {
          const bytes = new Uint8Array(await (await fetch(`/api/images/${id}/file`)).arrayBuffer());
          let text = '';
          for (const b of bytes) text += String.fromCharCode(b);
          return btoa(text);
        }""",
        image_id,
    )
    got = Image.open(io.BytesIO(base64.b64decode(served))).convert("RGB")
    assert got.tobytes() == Image.open(io.BytesIO(png)).convert("RGB").tobytes()


def test_drop_of_a_file_uploads_and_opens_it(page: Page, server: ServeProcess) -> None:
    open_editor(page, server)
    before = page.evaluate(GALLERY_ITEMS)
    jpeg = photo_bytes("astronaut.jpg", "JPEG")
    transfer = page.evaluate_handle(
        """(b64) => {
          const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
          const transfer = new DataTransfer();
          transfer.items.add(new File([bytes], 'dropped.jpg', { type: 'image/jpeg' }));
          return transfer;
        }""",
        base64.b64encode(jpeg).decode(),
    )
    page.dispatch_event("body", "dragover", {"dataTransfer": transfer})
    assert page.evaluate("document.body.classList.contains('dropping')")
    page.dispatch_event("body", "drop", {"dataTransfer": transfer})
    page.wait_for_function(f"{GALLERY_ITEMS} === {before + 1}", timeout=60_000)
    page.wait_for_function("window.segany.editor.session.image.name === 'dropped.jpg'", timeout=60_000)
    assert not page.evaluate("document.body.classList.contains('dropping')")
    assert served_sha256(page, server) == hashlib.sha256(jpeg).hexdigest()
    page.wait_for_function(
        "document.getElementById('status').textContent.startsWith('Ready')", timeout=120_000
    )

"""Browser tests: a real `segany serve` (segany_small, fixture photos) driven by Playwright in Debian's chromium.

Skipped, with the reason, when chromium or Playwright is missing (`.ci/run` installs both).
"""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.browser.serve_process import ServeProcess, serving
from tests.conftest import FIXTURES_DIR

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

GALLERY = ("chelsea.jpg", "astronaut.jpg", "dog.jpg")
CHROMIUM = shutil.which("chromium")

HERE = Path(__file__).resolve().parent


def _missing() -> str | None:
    if CHROMIUM is None:
        return "chromium is not installed (apt-get install chromium)"
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed (pip install playwright)"
    return None


MISSING = _missing()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without a browser, every test of this folder is skipped with the reason (nothing else is)."""
    if MISSING is None:
        return
    for item in items:
        if HERE in item.path.resolve().parents:
            item.add_marker(pytest.mark.skip(reason=MISSING))


@pytest.fixture(scope="session")
def gallery_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("gallery")
    for name in GALLERY:
        shutil.copy(FIXTURES_DIR / name, folder / name)
    return folder


@pytest.fixture(scope="session")
def server(gallery_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    work = tmp_path_factory.mktemp("serve")
    with serving(["--model", "segany_small"], gallery_dir, work / "cache", work / "serve.log") as process:
        yield process


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(accept_downloads=True, viewport={"width": 1400, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


def open_editor(page: Page, server: ServeProcess, query: str = "") -> dict[str, Any]:
    """Loads the page and waits until the first photo is ready for prompts; returns /api/info."""
    page.goto(f"{server.url}/{query}")
    page.wait_for_selector("body[data-ready='1']", timeout=60_000)
    page.wait_for_function(
        "document.getElementById('status').textContent.startsWith('Ready')", timeout=120_000
    )
    return dict(server.info)

"""CLI tests: every command through `segany.cli.main.main`, with an empty weights cache and the bundled model
hidden in-process, so a command without --model falls back to random vit_tiny (fast, and independent of the
weights the package ships). Subprocess tests see the real package, bundled `segany_small` included."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_testing import write_smooth_tiny_checkpoint

import segany.pretrained


@pytest.fixture(scope="session", autouse=True)
def empty_weights_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """No test sees real downloaded weights: SEGANY_CACHE_DIR points at an empty folder."""
    cache = tmp_path_factory.mktemp("weights_cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SEGANY_CACHE_DIR", str(cache))
        patch.delenv("SEGANY_DEBUG", raising=False)
        yield cache


@pytest.fixture(autouse=True)
def no_bundled_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """In-process, each CLI test sees no bundled model (the manifest points at a missing file); undone after
    the test, so tests outside tests/cli see the package as shipped."""
    monkeypatch.setattr(segany.pretrained, "MANIFEST_PATH", tmp_path / "no_bundled_weights.json")
    segany.pretrained.manifest.cache_clear()
    yield
    segany.pretrained.manifest.cache_clear()


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh weights cache for one test."""
    folder = tmp_path / "cache"
    folder.mkdir()
    monkeypatch.setenv("SEGANY_CACHE_DIR", str(folder))
    return folder


@pytest.fixture(scope="session")
def smooth_tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fast vit_tiny checkpoint whose masks come in few pieces (see `write_smooth_tiny_checkpoint`)."""
    return write_smooth_tiny_checkpoint(tmp_path_factory.mktemp("models") / "smooth_tiny_256.pth")

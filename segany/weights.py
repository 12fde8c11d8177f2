"""Pretrained weights: one typed record per checkpoint, the cache location, download and verification.

Nothing is downloaded at import time. Offline, `download` fails fast and says which file to place where.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

OFFICIAL_URL_BASE = "https://dl.fbaipublicfiles.com/segment_anything/"
CACHE_ENV_VAR = "SEGANY_CACHE_DIR"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class WeightsInfo:
    name: str  # registry name of the weights, e.g. "vit_b"
    model: str  # registry name of the architecture they fit
    file_name: str
    url: str
    num_bytes: int
    sha256: str
    description: str = ""


OFFICIAL_WEIGHTS: dict[str, WeightsInfo] = {
    info.name: info
    for info in (
        WeightsInfo(
            "vit_h",
            "vit_h",
            "sam_vit_h_4b8939.pth",
            OFFICIAL_URL_BASE + "sam_vit_h_4b8939.pth",
            2_564_550_879,
            "a7bf3b02f3ebf1267aba913ff637d9a2d5c33d3173bb679e46d9f338c26f262e",
            "official SAM ViT-H (641M params)",
        ),
        WeightsInfo(
            "vit_l",
            "vit_l",
            "sam_vit_l_0b3195.pth",
            OFFICIAL_URL_BASE + "sam_vit_l_0b3195.pth",
            1_249_524_607,
            "3adcc4315b642a4d2101128f611684e8734c41232a17c648ed1693702a49a622",
            "official SAM ViT-L (312M params)",
        ),
        WeightsInfo(
            "vit_b",
            "vit_b",
            "sam_vit_b_01ec64.pth",
            OFFICIAL_URL_BASE + "sam_vit_b_01ec64.pth",
            375_042_383,
            "ec2df62732614e57411cdcf32a23ffdf28910380d03139ee0f4fcbe91eb8c912",
            "official SAM ViT-B (94M params)",
        ),
    )
}
WEIGHTS_ALIASES = {"default": "vit_h"}


def bundled_weights() -> dict[str, WeightsInfo]:
    """Weights shipped inside the package (`segany/pretrained`): nothing to download, never in the cache."""
    from segany.pretrained import manifest

    return {
        name: WeightsInfo(
            name,
            entry["model"],
            entry["file"],
            url="",
            num_bytes=int(entry["bytes"]),
            sha256=entry["sha256"],
            description=entry.get("description", ""),
        )
        for name, entry in manifest().items()
    }


def all_weights() -> dict[str, WeightsInfo]:
    """Official checkpoints and bundled weights by name."""
    return {**OFFICIAL_WEIGHTS, **bundled_weights()}


def is_bundled(name: str) -> bool:
    return WEIGHTS_ALIASES.get(name, name) in bundled_weights()


class WeightsDownloadError(RuntimeError):
    """A checkpoint could not be fetched or did not verify; the message says what to do instead."""


def weights_info(name: str) -> WeightsInfo:
    key = WEIGHTS_ALIASES.get(name, name)
    known_weights = all_weights()
    if key not in known_weights:
        known = ", ".join(sorted([*known_weights, *WEIGHTS_ALIASES]))
        raise ValueError(f"unknown weights name {name!r}; expected one of: {known}")
    return known_weights[key]


def cache_dir() -> Path:
    """$SEGANY_CACHE_DIR, else $XDG_CACHE_HOME/segany, else ~/.cache/segany."""
    override = os.environ.get(CACHE_ENV_VAR)
    if override:
        return Path(override).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "segany"


def weights_path(name: str) -> Path:
    """Where `download(name)` puts (or finds) the file; bundled weights live in the package."""
    info = weights_info(name)
    if is_bundled(info.name):
        from segany.pretrained import PRETRAINED_DIR

        return PRETRAINED_DIR / info.file_name
    return cache_dir() / info.file_name


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify(path: str | Path, info: WeightsInfo) -> bool:
    """True when the file has the recorded size and sha256."""
    path = Path(path)
    return path.is_file() and path.stat().st_size == info.num_bytes and file_sha256(path) == info.sha256


def find_local(name: str) -> Path | None:
    """The cached file if present (size checked only; `verify` hashes it)."""
    path = weights_path(name)
    if path.is_file() and path.stat().st_size == weights_info(name).num_bytes:
        return path
    return None


def download(
    name: str | WeightsInfo,
    destination: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    timeout: float = 30.0,
) -> Path:
    """Fetch a checkpoint into the cache (or `destination` folder), resuming a partial download, and verify sha256.

    Args:
        progress: called with (bytes done, bytes total) as data arrives.
    """
    info = name if isinstance(name, WeightsInfo) else weights_info(name)
    if is_bundled(info.name):
        path = weights_path(info.name)
        if not verify(path, info):
            raise WeightsDownloadError(
                f"{info.name} is shipped inside the package, but {path} is missing or damaged "
                f"(expected {info.num_bytes:,} bytes, sha256 {info.sha256}): reinstall segany"
            )
        return path
    folder = Path(destination) if destination is not None else cache_dir()
    target = folder / info.file_name
    if target.is_file() and verify(target, info):
        return target
    folder.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    try:
        _fetch(info, partial, progress, timeout)
    except (urllib.error.URLError, OSError, TimeoutError) as error:
        raise WeightsDownloadError(
            f"could not download {info.file_name} from {info.url} ({getattr(error, 'reason', error)}). "
            f"If this machine is offline, download it elsewhere and place it at {target} "
            f"(sha256 {info.sha256}, {info.num_bytes:,} bytes), or set {CACHE_ENV_VAR} to the folder holding it."
        ) from error
    if partial.stat().st_size != info.num_bytes or file_sha256(partial) != info.sha256:
        partial.unlink()
        raise WeightsDownloadError(
            f"downloaded {info.file_name} does not match its sha256 {info.sha256}; the partial file was removed, "
            "try again"
        )
    os.replace(partial, target)
    return target


def _fetch(
    info: WeightsInfo, partial: Path, progress: Callable[[int, int], None] | None, timeout: float
) -> None:
    done = partial.stat().st_size if partial.exists() else 0
    if done > info.num_bytes:
        partial.unlink()
        done = 0
    if done == info.num_bytes:
        return
    request = urllib.request.Request(info.url, headers={"Range": f"bytes={done}-"} if done else {})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        if done and response.status != 206:
            done = 0  # the server ignored the range: start over
        with open(partial, "ab" if done else "wb") as handle:
            while True:
                chunk = response.read(_CHUNK)
                if not chunk:
                    break
                handle.write(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done, info.num_bytes)
    # Leave a clean error for a truncated transfer; the next call resumes from here.
    if done != info.num_bytes:
        raise OSError(f"connection closed after {done:,} of {info.num_bytes:,} bytes (run again to resume)")


def copy_into_cache(path: str | Path, name: str) -> Path:
    """Put a checkpoint obtained elsewhere into the cache after verifying it."""
    info = weights_info(name)
    if is_bundled(info.name):
        raise ValueError(
            f"{info.name} is shipped inside the package: there is nothing to copy into the cache"
        )
    if not verify(path, info):
        raise WeightsDownloadError(
            f"{path} is not {info.file_name} (size or sha256 differs from {info.sha256})"
        )
    target = cache_dir() / info.file_name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, target)
    return target

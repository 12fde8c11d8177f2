"""load_image on good and bad files made on the fly, and iter_image_paths on files, folders and globs."""

from __future__ import annotations

import io
import struct
import time
import warnings
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from segany.io import ImageLoadError, iter_image_paths, load_image, resolve_max_pixels

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
PHOTO_SIZES = {  # (height, width) from tests/fixtures/README.md
    "chelsea.jpg": (300, 451),
    "astronaut.jpg": (384, 384),
    "dog.jpg": (534, 800),
    "rocket_portrait.jpg": (427, 280),
}


def _expect_error(path: Path, reason: str, **kwargs: object) -> ImageLoadError:
    with pytest.raises(ImageLoadError) as info:
        load_image(path, **kwargs)  # type: ignore[arg-type]
    message = str(info.value)
    assert "\n" not in message
    assert str(path) in message
    assert reason in message, message
    assert info.value.path == path
    assert isinstance(info.value, ValueError)
    return info.value


def _png_with_declared_size(path: Path, width: int, height: int) -> Path:
    """A real 1x1 PNG whose IHDR is patched to declare width x height (CRC recomputed)."""
    buffer = io.BytesIO()
    Image.new("L", (1, 1)).save(buffer, format="PNG")
    data = bytearray(buffer.getvalue())
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("name", sorted(PHOTO_SIZES))
def test_fixture_photos_load(name: str) -> None:
    out = load_image(FIXTURES / name)
    assert out.shape == (*PHOTO_SIZES[name], 3)
    assert out.dtype == np.uint8 and out.flags.c_contiguous
    np.testing.assert_array_equal(out, np.asarray(Image.open(FIXTURES / name).convert("RGB")))


def test_missing_file(tmp_path: Path) -> None:
    _expect_error(tmp_path / "nope.jpg", "file not found")


def test_directory(tmp_path: Path) -> None:
    _expect_error(tmp_path, "is a directory")


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    _expect_error(path, "file is empty (0 bytes)")


def test_text_file_named_png(tmp_path: Path) -> None:
    path = tmp_path / "notes.png"
    path.write_text("these are\nnot pixels\n")
    _expect_error(path, "not an image file")


def test_truncated_jpeg(tmp_path: Path) -> None:
    data = (FIXTURES / "dog.jpg").read_bytes()
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: len(data) // 2])
    _expect_error(path, "truncated or corrupt image data")


def test_corrupt_png_data(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    Image.fromarray(np.arange(64 * 64, dtype=np.uint16).reshape(64, 64).astype(np.uint8)).save(buffer, "PNG")
    data = bytearray(buffer.getvalue())
    start = data.index(b"IDAT") + 8
    data[start : start + 20] = bytes(20)  # zero the zlib stream's start (CRC no longer matches either)
    path = tmp_path / "broken.png"
    path.write_bytes(bytes(data))
    _expect_error(path, "corrupt")


def test_one_pixel_image_loads(tmp_path: Path) -> None:
    path = tmp_path / "dot.png"
    Image.new("RGB", (1, 1), (10, 20, 30)).save(path)
    np.testing.assert_array_equal(load_image(path), [[[10, 20, 30]]])


def test_sixteen_bit_png_is_scaled(tmp_path: Path) -> None:
    values = np.array([[0, 128, 129, 385], [32767, 32768, 65406, 65535]], dtype=np.uint16)
    path = tmp_path / "deep.png"
    assert cv2.imwrite(str(path), values)  # written by OpenCV, independent of Pillow
    out = load_image(path)
    expected = np.round(values / 257.0).astype(np.uint8)
    np.testing.assert_array_equal(out, np.repeat(expected[:, :, None], 3, axis=2))
    assert expected.tolist() == [[0, 0, 1, 1], [127, 128, 254, 255]]  # 65406 >> 8 would be 255


def test_cmyk_jpeg(tmp_path: Path) -> None:
    rgb = np.asarray(Image.open(FIXTURES / "chelsea.jpg").convert("RGB"))
    path = tmp_path / "cmyk.jpg"
    Image.fromarray(rgb).convert("CMYK").save(path, quality=95)
    assert Image.open(path).mode == "CMYK"
    out = load_image(path)
    assert out.shape == rgb.shape
    assert np.abs(out.astype(int) - rgb).mean() < 4.0  # JPEG loss only


def test_grayscale_palette_and_rgba_png(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    gray = rng.integers(0, 256, size=(5, 8), dtype=np.uint8)
    Image.fromarray(gray).save(tmp_path / "gray.png")
    np.testing.assert_array_equal(load_image(tmp_path / "gray.png"), np.repeat(gray[:, :, None], 3, axis=2))

    palette = rng.integers(0, 256, size=(16, 3), dtype=np.uint8)
    indices = rng.integers(0, 16, size=(5, 8), dtype=np.uint8)
    image = Image.new("P", (8, 5))
    image.putpalette(palette.ravel().tolist())
    image.putdata(indices.ravel().tolist())
    image.save(tmp_path / "palette.png", transparency=3)
    np.testing.assert_array_equal(load_image(tmp_path / "palette.png"), palette[indices])

    rgba = rng.integers(0, 256, size=(5, 8, 4), dtype=np.uint8)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    np.testing.assert_array_equal(load_image(tmp_path / "rgba.png"), rgba[:, :, :3])  # alpha dropped


@pytest.mark.parametrize(("orientation", "turns"), [(6, -1), (8, 1), (3, 2)])
def test_exif_orientation_is_applied(tmp_path: Path, orientation: int, turns: int) -> None:
    source = np.asarray(Image.open(FIXTURES / "chelsea.jpg").convert("RGB"))
    path = tmp_path / f"rotated{orientation}.jpg"
    exif = Image.Exif()
    exif[0x0112] = orientation  # 6: rotate 90 CW to display, 8: 90 CCW, 3: 180
    Image.fromarray(source).save(path, exif=exif, quality=95)
    stored = np.asarray(Image.open(path).convert("RGB"))  # decoded pixels, orientation not applied
    out = load_image(path)
    np.testing.assert_array_equal(out, np.rot90(stored, k=turns))  # np.rot90 k=-1 is clockwise
    assert out.shape[:2] == (np.rot90(source, k=turns)).shape[:2]


def test_huge_declared_png_is_refused_before_decoding(tmp_path: Path) -> None:
    path = _png_with_declared_size(tmp_path / "bomb.png", 100_000, 100_000)
    saved_limit = Image.MAX_IMAGE_PIXELS
    start = time.perf_counter()
    error = _expect_error(path, "too large: header declares 100000x100000 (WxH) = 10,000,000,000 pixels")
    assert time.perf_counter() - start < 1.0
    assert "178,956,970" in error.reason
    assert Image.MAX_IMAGE_PIXELS == saved_limit  # Pillow's global limit is left as it was


def test_limit_is_configurable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    photo = FIXTURES / "chelsea.jpg"  # 451 x 300 = 135,300 pixels
    _expect_error(photo, "above the limit of 135,299", max_pixels=135_299)
    assert load_image(photo, max_pixels=135_300).shape == (300, 451, 3)
    monkeypatch.setenv("SEGANY_MAX_IMAGE_PIXELS", "1000")
    _expect_error(photo, "above the limit of 1,000")
    assert load_image(photo, max_pixels=None).shape == (300, 451, 3)  # explicit argument wins
    monkeypatch.setenv("SEGANY_MAX_IMAGE_PIXELS", "none")
    assert resolve_max_pixels() is None
    # Above Pillow's own warning threshold (89,478,485): our limit decides, Pillow's warning is not raised.
    path = _png_with_declared_size(tmp_path / "mid.png", 10_000, 9_000)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        _expect_error(path, "corrupt", max_pixels=90_000_000)  # header accepted, then the data is missing


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        (0, ValueError, "max_pixels must be a positive int or None"),
        (-5, ValueError, "got -5"),
        (1.5, TypeError, "got float"),
        (True, TypeError, "got bool"),
    ],
)
def test_bad_max_pixels(value: object, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        load_image(FIXTURES / "dog.jpg", max_pixels=value)  # type: ignore[arg-type]


def test_bad_env_var(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEGANY_MAX_IMAGE_PIXELS", "lots")
    with pytest.raises(ValueError, match="SEGANY_MAX_IMAGE_PIXELS must be a positive integer.*got 'lots'"):
        load_image(FIXTURES / "dog.jpg")


def test_iter_image_paths(tmp_path: Path) -> None:
    for name in ("b.PNG", "a.jpg", "notes.txt", ".hidden.jpg", "sub/c.png", "sub/deeper/d.webp"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "folder.jpg").mkdir()  # a directory with an image-like name is not an image
    assert iter_image_paths(tmp_path) == [tmp_path / "a.jpg", tmp_path / "b.PNG"]
    assert iter_image_paths(str(tmp_path), recursive=True) == [
        tmp_path / "a.jpg",
        tmp_path / "b.PNG",
        tmp_path / "sub/c.png",
        tmp_path / "sub/deeper/d.webp",
    ]
    assert iter_image_paths(tmp_path / "*.*") == [tmp_path / "a.jpg", tmp_path / "b.PNG"]
    assert iter_image_paths(f"{tmp_path}/**/*.png", recursive=True) == [tmp_path / "sub/c.png"]
    assert iter_image_paths(tmp_path / "notes.txt") == [tmp_path / "notes.txt"]  # named explicitly
    assert iter_image_paths(tmp_path / "sub/deeper/*.jpg") == []
    with pytest.raises(ValueError, match="spec must be an image file, a directory or a glob pattern, got"):
        iter_image_paths(tmp_path / "missing.jpg")

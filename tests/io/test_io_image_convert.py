"""as_rgb_uint8: every accepted layout / dtype / PIL mode, the copy-free fast path, and the errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from segany.io import as_rgb_uint8

RNG = np.random.default_rng(0)
RGB = RNG.integers(0, 256, size=(7, 5, 3), dtype=np.uint8)


def _check_layout(out: np.ndarray, height: int, width: int) -> None:
    assert out.shape == (height, width, 3)
    assert out.dtype == np.uint8
    assert out.flags.c_contiguous


def test_fast_path_returns_the_input_itself() -> None:
    out = as_rgb_uint8(RGB)
    assert out is RGB


def test_non_contiguous_rgb_is_copied_contiguous() -> None:
    view = RGB[:, ::2]
    out = as_rgb_uint8(view)
    _check_layout(out, 7, 3)
    np.testing.assert_array_equal(out, view)


def test_bgr_is_reversed() -> None:
    out = as_rgb_uint8(RGB, image_format="BGR")
    _check_layout(out, 7, 5)
    np.testing.assert_array_equal(out[:, :, 0], RGB[:, :, 2])
    np.testing.assert_array_equal(out[:, :, 1], RGB[:, :, 1])
    np.testing.assert_array_equal(out[:, :, 2], RGB[:, :, 0])
    assert not np.shares_memory(out, RGB)


@pytest.mark.parametrize("shape", [(7, 5), (7, 5, 1)])
def test_gray_is_replicated(shape: tuple[int, ...]) -> None:
    gray = RGB[:, :, 0].reshape(shape)
    out = as_rgb_uint8(gray)
    _check_layout(out, 7, 5)
    for channel in range(3):
        np.testing.assert_array_equal(out[:, :, channel], RGB[:, :, 0])


@pytest.mark.parametrize(("image_format", "order"), [("RGB", [0, 1, 2]), ("BGR", [2, 1, 0])])
def test_four_channels_drop_alpha(image_format: str, order: list[int]) -> None:
    alpha = np.full((7, 5, 1), 9, dtype=np.uint8)
    out = as_rgb_uint8(np.concatenate([RGB, alpha], axis=2), image_format)
    _check_layout(out, 7, 5)
    np.testing.assert_array_equal(out, RGB[:, :, order])


def test_uint16_all_values_scaled_by_rounding_v_over_257() -> None:
    values = np.arange(65536, dtype=np.uint16).reshape(256, 256)
    out = as_rgb_uint8(values)
    expected = np.array([round(v / 257) for v in range(65536)], dtype=np.uint8).reshape(256, 256)
    np.testing.assert_array_equal(out[:, :, 1], expected)
    assert out[0, 0, 0] == 0 and out[-1, -1, 2] == 255


def test_big_endian_uint16_is_accepted() -> None:
    values = np.array([[0, 257, 65535]], dtype=">u2")
    np.testing.assert_array_equal(as_rgb_uint8(values)[0, :, 0], [0, 1, 255])


def test_bool_maps_to_0_and_255() -> None:
    mask = np.array([[True, False], [False, True]])
    out = as_rgb_uint8(mask)
    np.testing.assert_array_equal(out[:, :, 2], [[255, 0], [0, 255]])


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_float_in_unit_range_is_rounded(dtype: type) -> None:
    values = np.array([[0.0, 0.5, 1.0, 0.1, 1.0004]], dtype=dtype)
    out = as_rgb_uint8(values)
    expected = [0, 128, 255, round(float(dtype(0.1)) * 255), 255]
    np.testing.assert_array_equal(out[0, :, 0], expected)


def test_float_outside_unit_range_teaches() -> None:
    with pytest.raises(
        ValueError, match=r"image is a float array with values in \[0, 255\]; expected \[0, 1\]"
    ):
        as_rgb_uint8(np.array([[0.0, 255.0]], dtype=np.float32))


def test_nan_is_rejected() -> None:
    with pytest.raises(ValueError, match="image .*NaN"):
        as_rgb_uint8(np.array([[0.2, np.nan]]))


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.int8, np.uint32, np.complex64])
def test_unsupported_dtype_is_a_type_error(dtype: type) -> None:
    with pytest.raises(TypeError, match=f"image has dtype {np.dtype(dtype)}; expected uint8, uint16, bool"):
        as_rgb_uint8(np.zeros((2, 2, 3), dtype=dtype))


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        (
            (3, 8, 9),
            r"image must be H x W x C with C in \(1, 3, 4\), got shape \(3, 8, 9\) \(it looks like C x H",
        ),
        ((8, 9, 2), r"got shape \(8, 9, 2\)$"),
        ((2, 8, 9, 3), "image must be H x W or H x W x C .*got 4 dims"),
        ((8,), "got 1 dims"),
        ((0, 5, 3), r"non-zero height and width, got shape \(0, 5, 3\)"),
        ((4, 0), r"got shape \(4, 0\)"),
    ],
)
def test_bad_shapes(shape: tuple[int, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        as_rgb_uint8(np.zeros(shape, dtype=np.uint8))


@pytest.mark.parametrize("image_format", ["rgb", "RGBA", ""])
def test_bad_image_format(image_format: str) -> None:
    with pytest.raises(ValueError, match=f"image_format must be 'RGB' or 'BGR', got {image_format!r}"):
        as_rgb_uint8(RGB, image_format)


def test_non_image_objects_are_type_errors() -> None:
    with pytest.raises(TypeError, match="image must be a numpy array .* got builtins.list"):
        as_rgb_uint8(RGB.tolist())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="image_format must be"):
        as_rgb_uint8(RGB, None)  # type: ignore[arg-type]


def test_empty_pil_image_is_rejected() -> None:
    with pytest.raises(ValueError, match="non-zero height and width"):
        as_rgb_uint8(Image.new("RGB", (0, 4)))


# --- PIL images: values checked against numpy-built expectations -------------------------------------------


def test_pil_rgb_and_rgba_and_l() -> None:
    rgba = np.concatenate([RGB, np.full((7, 5, 1), 3, np.uint8)], axis=2)
    np.testing.assert_array_equal(as_rgb_uint8(Image.fromarray(RGB)), RGB)
    np.testing.assert_array_equal(as_rgb_uint8(Image.fromarray(rgba, "RGBA")), RGB)
    gray = as_rgb_uint8(Image.fromarray(RGB[:, :, 1], "L"))
    np.testing.assert_array_equal(gray, np.repeat(RGB[:, :, 1:2], 3, axis=2))


def test_pil_la_drops_alpha() -> None:
    la = np.stack([RGB[:, :, 0], RGB[:, :, 1]], axis=2)
    out = as_rgb_uint8(Image.fromarray(la, "LA"))
    np.testing.assert_array_equal(out, np.repeat(RGB[:, :, :1], 3, axis=2))


def test_pil_palette_expands_through_palette() -> None:
    palette = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [10, 20, 30]], dtype=np.uint8)
    indices = RNG.integers(0, 4, size=(6, 9), dtype=np.uint8)
    image = Image.fromarray(indices, "L")
    image = image.convert("P")
    image.putpalette(palette.ravel().tolist())
    image.putdata(indices.ravel().tolist())
    image.info["transparency"] = 1  # palette transparency must not change the colour values
    np.testing.assert_array_equal(as_rgb_uint8(image), palette[indices])


def test_pil_sixteen_bit_and_mode_i() -> None:
    values = np.array([[0, 128, 129, 65535]], dtype=np.uint16)
    expected = [0, 0, 1, 255]
    sixteen = Image.fromarray(values)
    assert sixteen.mode == "I;16"
    np.testing.assert_array_equal(as_rgb_uint8(sixteen)[0, :, 0], expected)
    as_int32 = Image.fromarray(values.astype(np.int32))
    assert as_int32.mode == "I"
    np.testing.assert_array_equal(as_rgb_uint8(as_int32)[0, :, 0], expected)


def test_pil_mode_f_uses_pillows_0_255_scale() -> None:
    values = np.array([[0.0, 127.6, 300.0, -4.0]], dtype=np.float32)
    image = Image.fromarray(values)
    assert image.mode == "F"
    np.testing.assert_array_equal(as_rgb_uint8(image)[0, :, 0], [0, 128, 255, 0])


def test_pil_mode_1_and_cmyk() -> None:
    bits = Image.fromarray(np.array([[True, False]])).convert("1")
    np.testing.assert_array_equal(as_rgb_uint8(bits)[0, :, 0], [255, 0])
    # Pillow's RGB -> CMYK is C = 255 - R, ..., K = 0, so going back must give the original exactly.
    cmyk = Image.fromarray(RGB).convert("CMYK")
    np.testing.assert_array_equal(np.asarray(cmyk)[:, :, 0], 255 - RGB[:, :, 0])
    np.testing.assert_array_equal(as_rgb_uint8(cmyk), RGB)


@pytest.mark.parametrize(
    "mode",
    [
        "1",
        "L",
        "LA",
        "La",
        "P",
        "PA",
        "RGB",
        "RGBA",
        "RGBa",
        "RGBX",
        "CMYK",
        "YCbCr",
        "LAB",
        "HSV",
        "I",
        "I;16",
        "I;16B",
        "I;16L",
        "F",
    ],
)
def test_every_pil_mode_gives_writable_rgb(mode: str) -> None:
    out = as_rgb_uint8(Image.new(mode, (6, 4)))
    _check_layout(out, 4, 6)
    assert out.flags.writeable


@settings(max_examples=25, deadline=None)
@given(arrays(np.uint8, st.tuples(st.integers(1, 6), st.integers(1, 6), st.sampled_from([3, 4]))))
def test_bgr_then_rgb_is_a_channel_reversal(image: np.ndarray) -> None:
    out = as_rgb_uint8(image, "BGR")
    np.testing.assert_array_equal(out, image[:, :, [2, 1, 0]])

"""The loader: every supported mode comes out as upright RGB, every bad file as an ImageError."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import quant
from tests.conftest import encode  # not `conftest`: tests/browser has its own conftest.py


def load(image: Image.Image, fmt: str = "PNG", **options) -> quant.LoadedImage:
    return quant.load_image(encode(image, fmt, **options))


def test_rgb_png_round_trips_exactly(photo):
    loaded = load(Image.fromarray(photo))
    assert loaded.rgb.dtype == np.uint8
    np.testing.assert_array_equal(loaded.rgb, photo)
    assert loaded.opaque is None
    assert loaded.format == "PNG"


def test_path_and_bytes_give_the_same_pixels(tmp_path, photo):
    path = tmp_path / "photo.png"
    Image.fromarray(photo).save(path)
    np.testing.assert_array_equal(quant.load_image(path).rgb, quant.load_image(path.read_bytes()).rgb)
    np.testing.assert_array_equal(quant.load_image(str(path)).rgb, photo)


def test_grayscale_becomes_three_equal_channels():
    gray = np.arange(60, dtype=np.uint8).reshape(6, 10)
    loaded = load(Image.fromarray(gray, "L"))
    assert loaded.rgb.shape == (6, 10, 3)
    for channel in range(3):
        np.testing.assert_array_equal(loaded.rgb[..., channel], gray)


def test_gray_with_alpha_keeps_transparency():
    la = Image.merge("LA", [Image.new("L", (4, 2), 200), Image.fromarray(np.array([[0, 255] * 2] * 2, np.uint8))])
    loaded = load(la)
    assert loaded.opaque is not None
    assert loaded.opaque.sum() == 4
    assert (loaded.rgb == 200).all()


def test_sixteen_bit_grayscale_keeps_its_tonal_range():
    wide = np.array([[0, 257 * 128, 65535]], dtype=np.uint16)
    image = Image.frombytes("I;16", (3, 1), wide.tobytes())
    assert image.mode == "I;16"
    loaded = load(image)
    np.testing.assert_array_equal(loaded.rgb[0, :, 0], [0, 128, 255])


def test_palette_png_with_transparency():
    image = Image.new("P", (3, 1))
    image.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * 759)
    image.putdata([0, 1, 2])
    loaded = load(image, transparency=1)
    np.testing.assert_array_equal(loaded.opaque, [[True, False, True]])
    np.testing.assert_array_equal(loaded.rgb[0, 0], [255, 0, 0])


def test_rgba_transparent_areas_are_masked():
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[0, 0] = [10, 20, 30, 255]
    rgba[1, 1] = [40, 50, 60, 255]
    loaded = load(Image.fromarray(rgba, "RGBA"))
    np.testing.assert_array_equal(loaded.opaque, [[True, False], [False, True]])


def test_fully_opaque_rgba_has_no_mask(photo):
    rgba = np.dstack([photo, np.full(photo.shape[:2], 255, np.uint8)])
    assert load(Image.fromarray(rgba, "RGBA")).opaque is None


def test_cmyk_jpeg_becomes_rgb():
    cmyk = Image.new("CMYK", (8, 8), (0, 255, 255, 0))  # pure red in CMYK
    loaded = load(cmyk, "JPEG", quality=95)
    red, green, blue = loaded.rgb[4, 4].astype(int)
    assert red > 200 and green < 60 and blue < 60


def test_exif_orientation_is_applied():
    wide = np.zeros((2, 4, 3), np.uint8)
    wide[0, 0] = [255, 255, 255]  # top-left marker
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    loaded = load(Image.fromarray(wide), "PNG", exif=exif)
    assert loaded.rgb.shape == (4, 2, 3)
    assert (loaded.rgb[0, 1] == 255).all()  # the marker moved to the top-right


def test_animated_gif_takes_the_first_frame_and_says_so():
    frames = [Image.new("RGB", (5, 5), color) for color in ((255, 0, 0), (0, 0, 255))]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:])
    loaded = quant.load_image(data)
    assert loaded.rgb[2, 2, 0] > 200 and loaded.rgb[2, 2, 2] < 50
    assert any("first" in notice and "2 frames" in notice for notice in loaded.notices)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "empty"),
        (bytes(range(256)) * 4, "not a recognised image"),
        (b"hello, this is just some text\n" * 10, "text file"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "PDF"),
        (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', "SVG"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "HEIC"),
    ],
)
def test_refusals_say_what_is_wrong(data, words):
    with pytest.raises(quant.ImageError, match=words):
        quant.load_image(data)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_files_are_refused(photo, fmt):
    data = encode(Image.fromarray(photo), fmt)
    with pytest.raises(quant.ImageError, match="truncated|corrupt"):
        quant.load_image(data[: len(data) // 2])


def test_pixel_limit_is_checked_before_decoding():
    data = encode(Image.new("RGB", (300, 200)))
    with pytest.raises(quant.ImageError, match=r"300×200 = 60,000 pixels, over the limit of 50,000"):
        quant.load_image(data, max_pixels=50_000)
    assert quant.load_image(data, max_pixels=60_000).rgb.shape == (200, 300, 3)


def test_decompression_bomb_is_refused_quickly():
    """A tiny PNG declaring 40000×40000 pixels must be refused from its header alone."""
    from cases import REFUSALS

    bomb = REFUSALS["decompression bomb"].data()
    assert len(bomb) < 500_000
    with pytest.raises(quant.ImageError, match="declares 1,600,000,000 pixels, over the limit"):
        quant.load_image(bomb)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(quant.ImageError, match="no such file"):
        quant.load_image(tmp_path / "nope.png")
    with pytest.raises(quant.ImageError, match="folder"):
        quant.load_image(tmp_path)


def test_image_error_is_a_value_error():
    assert issubclass(quant.ImageError, ValueError)

"""The bad-input matrix: files that must be refused, and awkward files that must work.

Shared by the engine, CLI and browser tests, so every layer faces the same files.
"""

from __future__ import annotations

import functools
import io
import struct
import zlib
from dataclasses import dataclass
from typing import Callable

import numpy as np
from PIL import Image


def encode(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def photo(height: int = 48, width: int = 64, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 / width, y * 255 / height, 128 + 60 * np.sin(x / 5)], axis=-1)
    return np.clip(base + rng.normal(0, 8, base.shape), 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class Refusal:
    """A file that must be refused with a message matching `words` (a regex)."""

    filename: str
    data: Callable[[], bytes]
    words: str


@dataclass(frozen=True)
class Awkward:
    """A file that must load; `check(loaded)` asserts it came out right."""

    filename: str
    data: Callable[[], bytes]
    check: Callable[[object], None]
    #: Distinct visible colors, when known: a quantizer at k ≥ this must reproduce the image exactly.
    colors: int | None = None


def _truncated(fmt: str) -> bytes:
    data = encode(Image.fromarray(photo()), fmt)
    return data[: len(data) // 2]


@functools.cache
def _bomb(side: int = 40_000) -> bytes:
    """A valid PNG of side×side black pixels that compresses to a few hundred kilobytes."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)  # 1-bit grayscale
    row = bytes(1 + (side + 7) // 8)  # filter byte + packed pixels
    squeezer = zlib.compressobj(9)
    body = b"".join(squeezer.compress(row * 1000) for _ in range(side // 1000)) + squeezer.flush()
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


def _over_limit() -> bytes:
    """A real, decodable image just over the default 50-megapixel limit."""
    return encode(Image.new("1", (10_000, 5_001)), optimize=True)


REFUSALS: dict[str, Refusal] = {
    "empty": Refusal("empty.png", lambda: b"", "empty"),
    "random bytes": Refusal("random.png", lambda: np.random.default_rng(1).bytes(4096), "not a recognised image"),
    "truncated JPEG": Refusal("cut.jpg", lambda: _truncated("JPEG"), "truncated|corrupt"),
    "truncated PNG": Refusal("half.png", lambda: _truncated("PNG"), "truncated|corrupt"),
    "text as JPEG": Refusal("notes.jpg", lambda: b"Shopping list:\n- milk\n- eggs\n" * 20, "text file"),
    "SVG": Refusal("drawing.svg", lambda: b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>', "SVG"),
    "PDF": Refusal("page.pdf", lambda: b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF", "PDF"),
    "HEIC": Refusal("phone.heic", lambda: b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64), "HEIC"),
    "over pixel limit": Refusal("huge.png", _over_limit, "over the limit"),
    "decompression bomb": Refusal("bomb.png", _bomb, "over the limit"),
}


# --- awkward inputs that must work ----------------------------------------------------------


def _rgb_equals(expected: np.ndarray):
    def check(loaded):
        np.testing.assert_array_equal(loaded.rgb, expected)
        assert loaded.opaque is None

    return check


_ONE_PIXEL = np.array([[[200, 30, 90]]], np.uint8)
_ROW = photo(1, 50)
_SINGLE = np.full((20, 30, 3), [17, 99, 230], np.uint8)
_TWO = np.where(np.arange(40)[None, :, None] < 20, [250, 250, 250], [5, 5, 5]).repeat(10, 0).astype(np.uint8)
_GRAY = np.arange(0, 240, 2, dtype=np.uint8).reshape(8, 15)


def _sixteen_bit() -> bytes:
    values = np.arange(96, dtype=np.uint16).reshape(8, 12) * 680
    return encode(Image.frombytes("I;16", (12, 8), values.tobytes()))


def _check_sixteen_bit(loaded):
    expected = np.rint(np.arange(96).reshape(8, 12) * 680 / 257).astype(np.uint8)
    np.testing.assert_array_equal(loaded.rgb[..., 0], expected)
    assert (loaded.rgb[..., 0] == loaded.rgb[..., 2]).all()


def _check_gray(loaded):
    assert loaded.rgb.shape == (8, 15, 3)
    for channel in range(3):
        np.testing.assert_array_equal(loaded.rgb[..., channel], _GRAY)


def _palette_with_transparency() -> bytes:
    image = Image.new("P", (6, 4))
    image.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * 759)
    image.putdata([0, 1, 2] * 8)
    return encode(image, transparency=1)


def _check_palette_transparency(loaded):
    assert loaded.opaque is not None
    assert loaded.opaque.sum() == 16
    assert set(map(tuple, loaded.rgb[loaded.opaque])) == {(255, 0, 0), (0, 0, 255)}


RGBA_HOLE = np.dstack([photo(32, 32, seed=3), np.full((32, 32), 255, np.uint8)])
RGBA_HOLE[8:24, 8:24] = [0, 0, 0, 0]  # a transparent window, with junk-free color underneath


def _check_rgba(loaded):
    np.testing.assert_array_equal(loaded.opaque, RGBA_HOLE[..., 3] > 0)
    np.testing.assert_array_equal(loaded.rgb[loaded.opaque], RGBA_HOLE[..., :3][RGBA_HOLE[..., 3] > 0])


def _check_cmyk(loaded):
    red, green, blue = loaded.rgb[8, 8].astype(int)
    assert red > 200 and green < 60 and blue < 60, (red, green, blue)


def _exif_rotated() -> bytes:
    wide = np.zeros((20, 40, 3), np.uint8)
    wide[:10, :10] = 255  # white block, top-left as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # camera held sideways: rotate 90° clockwise for display
    return encode(Image.fromarray(wide), "JPEG", quality=95, exif=exif)


def _check_exif(loaded):
    assert loaded.rgb.shape == (40, 20, 3)  # upright: portrait
    assert loaded.rgb[2, 17].min() > 200  # the block is now top-right
    assert loaded.rgb[37, 2].max() < 50


def _animated_gif() -> bytes:
    frames = [Image.new("RGB", (16, 16), color) for color in ((220, 20, 20), (20, 20, 220), (20, 220, 20))]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def _check_animated(loaded):
    red, green, blue = loaded.rgb[8, 8].astype(int)
    assert red > 180 and blue < 60
    assert any("first of its 3 frames" in notice for notice in loaded.notices)


_RAMP = np.linspace(0, 1, 96, dtype=np.float32).reshape(8, 12)


def _float_tiff(values: np.ndarray) -> bytes:
    return encode(Image.fromarray(values.astype(np.float32), "F"), "TIFF")


def _check_float_with_nan(loaded):
    expected = np.rint(_RAMP * 255).astype(np.uint8)
    expected[0, 5] = 0  # the NaN, shown black
    np.testing.assert_array_equal(loaded.rgb[..., 1], expected)
    assert any("NaN or infinite" in notice for notice in loaded.notices)


def _check_stretched(loaded):
    gray = loaded.rgb[..., 0]
    assert gray.min() == 0 and gray.max() == 255  # the actual range, not black nor saturated
    assert np.count_nonzero(gray == 255) == 1
    assert any("stretched" in notice for notice in loaded.notices)


def _with_nan(values: np.ndarray) -> np.ndarray:
    values = values.copy()
    values[0, 5] = np.nan
    return values


def _png_with(**options) -> bytes:
    return encode(Image.fromarray(_SINGLE), **options)


def _huge_text() -> bytes:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("comment", "x" * 30_000_000, zip=True)  # inflates to 30 MB, over Pillow's text limit
    return _png_with(pnginfo=info)


def _check_metadata_ignored(loaded):
    np.testing.assert_array_equal(loaded.rgb, _SINGLE)
    assert any("metadata" in notice for notice in loaded.notices)


AWKWARD: dict[str, Awkward] = {
    "1×1": Awkward("dot.png", lambda: encode(Image.fromarray(_ONE_PIXEL)), _rgb_equals(_ONE_PIXEL), colors=1),
    "1×N": Awkward("row.png", lambda: encode(Image.fromarray(_ROW)), _rgb_equals(_ROW)),
    "single color": Awkward("flat.png", lambda: encode(Image.fromarray(_SINGLE)), _rgb_equals(_SINGLE), colors=1),
    "two colors": Awkward("two.png", lambda: encode(Image.fromarray(_TWO)), _rgb_equals(_TWO), colors=2),
    "16-bit PNG": Awkward("deep.png", _sixteen_bit, _check_sixteen_bit),
    "grayscale": Awkward("gray.png", lambda: encode(Image.fromarray(_GRAY, "L")), _check_gray),
    "palette + transparency": Awkward("sprite.png", _palette_with_transparency, _check_palette_transparency, colors=2),
    "RGBA with holes": Awkward("window.png", lambda: encode(Image.fromarray(RGBA_HOLE, "RGBA")), _check_rgba),
    "CMYK JPEG": Awkward(
        "print.jpg", lambda: encode(Image.new("CMYK", (16, 16), (0, 255, 255, 0)), "JPEG"), _check_cmyk
    ),
    "EXIF-rotated JPEG": Awkward("sideways.jpg", _exif_rotated, _check_exif),
    "animated GIF": Awkward("anim.gif", _animated_gif, _check_animated),
    "float TIFF with NaN": Awkward("nan.tif", lambda: _float_tiff(_with_nan(_RAMP)), _check_float_with_nan),
    "float TIFF 0…1000": Awkward("thousand.tif", lambda: _float_tiff(_RAMP * 1000), _check_stretched),
    "32-bit TIFF": Awkward(
        "wide.tif",
        lambda: encode(Image.fromarray((np.arange(96, dtype=np.int32).reshape(8, 12) * 1_000_000), "I"), "TIFF"),
        _check_stretched,
    ),
    "PNG with a 30 MB zTXt": Awkward("chatty.png", _huge_text, _check_metadata_ignored, colors=1),
    "PNG with a 5 MB iCCP": Awkward(
        "profiled.png", lambda: _png_with(icc_profile=bytes(5_000_000)), _check_metadata_ignored, colors=1
    ),
}


# --- palette files (``--palette``, `quant.read_palette`) ------------------------------------------


def _many_colors_png() -> bytes:
    codes = np.arange(300, dtype=np.uint32) * 50_000
    pixels = np.stack([codes >> 16 & 255, codes >> 8 & 255, codes & 255], axis=-1).astype(np.uint8)
    return encode(Image.fromarray(pixels.reshape(15, 20, 3)))


#: Palette files that must be refused with a message matching `words`, naming the line at fault where there is one.
PALETTE_REFUSALS: dict[str, Refusal] = {
    "empty": Refusal("empty.gpl", lambda: b"", "empty"),
    "blank lines": Refusal("blank.txt", lambda: b"\n  \n\n", "empty"),
    "only comments": Refusal("notes.txt", lambda: b"; my colors\n# to do\n", "no colors"),
    "GIMP header only": Refusal("header.gpl", lambda: b"GIMP Palette\nName: none\n#\n", "no colors"),
    "bad hex": Refusal("brand.txt", lambda: b"#000000\n#12345g\n", r"line 2: '#12345g' is not a hex color"),
    "bad .gpl line": Refusal("bad.gpl", lambda: b"GIMP Palette\n0 0 0 black\n300 0 0 red\n", r"line 3: .*0 to 255"),
    "duplicate colors": Refusal("twice.txt", lambda: b"#ffffff\n#000\nFFFFFF\n", r"line 3: #ffffff .* line 1"),
    "duplicate on one line": Refusal(
        "pasted.txt", lambda: b"#ff0000, #00ff00 #ff0000\n", r"line 1, code 3: #ff0000 .* line 1, code 1"
    ),
    "bad hex among several": Refusal("pasted.txt", lambda: b"#ff0000 #00ff0\n", r"line 1, code 2: '#00ff0' is not"),
    "over 256 colors": Refusal("big.txt", lambda: "".join(f"#{i:06x}\n" for i in range(300)).encode(), "at most 256"),
    "broken JSON": Refusal("cut.json", lambda: b'["#000000", "#ff', "not valid JSON"),
    "JSON not a list": Refusal("odd.json", lambda: b'{"name": "x"}', "list of hex codes"),
    "JSON bad entry": Refusal("odd.json", lambda: b'["#000000", [1, 2]]', r"entry 2: .* is not a color"),
    "image with too many colors": Refusal("photo.png", _many_colors_png, "300 distinct colors"),
    "unreadable image": Refusal("cut.png", lambda: _truncated("PNG"), "not a palette: .*truncated|corrupt"),
}


#: Dither options the API and the CLI must refuse: (dither, strength, words of the message).
BAD_DITHER_OPTIONS = [
    ("ordered", 1.0, "unknown dither 'ordered'; choose one of: none, floyd-steinberg"),
    ("Floyd-Steinberg", 1.0, "unknown dither"),
    (None, 1.0, "unknown dither None"),
    ("floyd-steinberg", 1.5, "dither strength must be a number from 0 to 1, not 1.5"),
    ("floyd-steinberg", -0.1, "dither strength must be a number from 0 to 1"),
    ("floyd-steinberg", float("nan"), "dither strength must be a number from 0 to 1"),
    ("floyd-steinberg", "1", "dither strength must be a number from 0 to 1, not '1'"),
    ("floyd-steinberg", True, "dither strength must be a number from 0 to 1, not True"),
    ("none", 2.0, "dither strength must be a number from 0 to 1, not 2.0"),  # a usage error even without a dither
]

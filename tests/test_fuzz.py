"""Random and mutated bytes fed to the loader: only `ImageError` may escape.

`make test` runs a short fuzz; `make test-long` runs more than 10,000 cases.
Each run is seeded, so a failure names the case that reproduces it.
"""

from __future__ import annotations

import functools
import traceback

import numpy as np
import pytest
from PIL import Image

import quant
from cases import encode, photo

SHORT_RUN = 1_500
LONG_RUN = 12_000
FUZZ_MAX_PIXELS = 4_000_000  # mutated headers can declare big sizes; keep each case cheap


@functools.cache
def seed_files() -> tuple[bytes, ...]:
    """Valid files in every supported format and several modes: the material mutations start from."""
    rgb = Image.fromarray(photo(16, 24, seed=5))
    rgba = rgb.convert("RGBA")
    rgba.putalpha(Image.fromarray(np.tile(np.arange(0, 240, 10, dtype=np.uint8), (16, 1))))
    palette = rgb.quantize(16)
    frames = [rgb, rgb.transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    exif = Image.Exif()
    exif[0x0112] = 8
    return (
        encode(rgb), encode(rgba), encode(palette, transparency=3), encode(rgb.convert("L")),
        encode(Image.frombytes("I;16", (24, 16), np.arange(384, dtype=np.uint16).tobytes() * 1)),
        encode(rgb, "JPEG", quality=80), encode(rgb, "JPEG", progressive=True, exif=exif),
        encode(rgb.convert("CMYK"), "JPEG"),
        encode(frames[0], "GIF", save_all=True, append_images=frames[1:]),
        encode(rgb, "WEBP", quality=70), encode(rgba, "WEBP", lossless=True),
        encode(rgb, "BMP"), encode(rgb, "TIFF"), encode(rgba, "TIFF", compression="tiff_lzw"),
        encode(rgb, "PPM"), encode(rgb, "TGA"), encode(rgb, "ICO"),
    )


def mutate(data: bytes, rng: np.random.Generator) -> bytes:
    """One random corruption of `data`, of the kinds real files suffer."""
    if len(data) < 2:
        return data + rng.bytes(8)
    buffer = bytearray(data)
    kind = rng.integers(6)
    if kind == 0:  # bit flips
        for position in rng.integers(0, len(buffer), rng.integers(1, 12)):
            buffer[position] ^= 1 << int(rng.integers(8))
    elif kind == 1:  # truncation
        del buffer[int(rng.integers(1, len(buffer))):]
    elif kind == 2:  # garbage inserted
        position = int(rng.integers(len(buffer)))
        buffer[position:position] = rng.bytes(int(rng.integers(1, 64)))
    elif kind == 3:  # a run of bytes overwritten, often a header field
        position = int(rng.integers(min(len(buffer), 64)))
        length = int(rng.integers(1, 9))
        buffer[position : position + length] = rng.bytes(length)
    elif kind == 4:  # a slice repeated
        start = int(rng.integers(len(buffer)))
        buffer[start:start] = buffer[start : start + int(rng.integers(1, 200))]
    else:  # a range zeroed
        start = int(rng.integers(len(buffer)))
        buffer[start : start + int(rng.integers(1, 100))] = bytes(min(100, len(buffer) - start))
    return bytes(buffer)


def fuzz_case(index: int, seed: int) -> bytes:
    rng = np.random.default_rng([seed, index])
    if rng.random() < 0.1:
        return rng.bytes(int(rng.integers(0, 2048)))
    files = seed_files()
    data = files[int(rng.integers(len(files)))]
    for _ in range(int(rng.integers(1, 4))):
        data = mutate(data, rng)
    return data


def run_fuzz(cases: int, seed: int) -> tuple[int, int, list[str]]:
    """Feed `cases` inputs to the loader; return (loaded, refused, unexpected failures)."""
    loaded = refused = 0
    failures = []
    for index in range(cases):
        data = fuzz_case(index, seed)
        try:
            image = quant.load_image(data, max_pixels=FUZZ_MAX_PIXELS)
        except quant.ImageError as error:
            assert str(error), "a refusal must say why"
            refused += 1
            continue
        except Exception:  # noqa: BLE001 — this is what the fuzzer hunts for
            failures.append(f"case {index} (seed {seed}): {traceback.format_exc(limit=3)}")
            continue
        loaded += 1
        try:
            check_loaded(image, quantize=index % 25 == 0)
        except Exception:  # noqa: BLE001
            failures.append(f"case {index} (seed {seed}) loaded but broke later: {traceback.format_exc(limit=3)}")
    return loaded, refused, failures


def check_loaded(image: quant.LoadedImage, *, quantize: bool) -> None:
    assert image.rgb.dtype == np.uint8 and image.rgb.ndim == 3 and image.rgb.shape[2] == 3
    assert image.pixel_count <= FUZZ_MAX_PIXELS
    if image.opaque is not None:
        assert image.opaque.shape == image.rgb.shape[:2]
    if quantize:
        result = quant.quantize(image, 4)
        assert len(result.palette.colors) <= 4


def test_seed_files_are_all_valid():
    for data in seed_files():
        check_loaded(quant.load_image(data), quantize=True)


@pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow narrates the corruption it survives
def test_short_fuzz():
    loaded, refused, failures = run_fuzz(SHORT_RUN, seed=2026)
    assert not failures, "\n".join(failures[:5])
    assert loaded > 50 and refused > 50  # the fuzzer reaches both outcomes


@pytest.mark.long
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_long_fuzz():
    loaded, refused, failures = run_fuzz(LONG_RUN, seed=11)
    print(f"long fuzz: {LONG_RUN} cases, {loaded} loaded, {refused} refused, {len(failures)} failures")
    assert not failures, "\n".join(failures[:5])

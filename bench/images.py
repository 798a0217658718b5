"""The benchmark's images: the samples shipped with scikit-image and scikit-learn, and generated photos.

Tuning and verification use different images, so quality claims are made on
photos the tuning never saw:

* ``TUNE``: scikit-image samples, used while choosing kmeans' defaults;
* ``HOLDOUT``: scikit-learn's china and flower, and the generated photos,
  which are built from them; and the hardest cases, dark, low-key and
  scientific photos (``HARD``): Hubble's deep field, the moon, a retina, and
  china made low-key.

The generated images are deterministic: a sample upscaled with bicubic
interpolation, overlaid with smooth low-frequency light and colour gradients
and a little sensor-like noise, so that (like a phone photo) they have smooth
areas, edges, and millions of distinct colours.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

TUNE = ("chelsea", "astronaut", "coffee", "rocket", "immunohistochemistry")
#: Dark, low-key and gray scientific photos to tune on, none of them held out: a microscope's cells,
#: coins, the cameraman, and three tuning samples made low-key.
TUNE_HARD = ("cell", "coins", "camera", "chelsea-lowkey", "coffee-lowkey", "astronaut-lowkey")
#: Dark, low-key and scientific photos: long smooth gradients in few levels, where quantizers band.
HARD = ("hubble_deep_field", "moon", "retina", "china-lowkey")
HOLDOUT = ("china", "flower", "gen12mp", *HARD)
#: Low-key photos made from a sample: its light in linear terms scaled down to a fifth.
LOW_KEY = {"china-lowkey": "china", "chelsea-lowkey": "chelsea", "coffee-lowkey": "coffee",
           "astronaut-lowkey": "astronaut"}
#: Sizes of the generated photos, (width, height).
GENERATED = {"gen12mp": ((4000, 3000), "flower", 12), "gen1mp": ((1152, 864), "china", 1),
             "gen50mp": ((8160, 6120), "china", 50)}
#: The image the 12 MP targets are judged on.
BIG = "gen12mp"
#: The benchmark's default set: three tuning images, and the held-out ones.
ALL = TUNE[:3] + HOLDOUT


def load(name: str) -> np.ndarray:
    """H×W×3 uint8 RGB of a benchmark image."""
    if name in GENERATED:
        (width, height), base, seed = GENERATED[name]
        return generated_photo(load(base), width, height, seed=seed)
    if name in LOW_KEY:
        return low_key(load(LOW_KEY[name]))
    if name in ("china", "flower"):
        from sklearn.datasets import load_sample_image

        return np.ascontiguousarray(load_sample_image(f"{name}.jpg"))
    import skimage.data

    image = getattr(skimage.data, name)()
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    return np.ascontiguousarray(image[..., :3]).astype(np.uint8)


def generated_photo(base: np.ndarray, width: int, height: int, *, seed: int) -> np.ndarray:
    """`base` upscaled to width×height, with smooth gradients and mild noise added.

    Built in horizontal bands so that even 50 MP stays within a few hundred MB.
    """
    rng = np.random.default_rng(seed)
    up = Image.fromarray(base).resize((width, height), Image.Resampling.BICUBIC)
    up = np.asarray(up)
    out = np.empty((height, width, 3), np.uint8)
    # Smooth fields: a few low-frequency cosines per channel (light falloff, colour cast).
    freqs = rng.uniform(0.3, 2.0, size=(3, 3, 2))
    phases = rng.uniform(0, 2 * np.pi, size=(3, 3))
    amps = rng.uniform(6.0, 14.0, size=(3, 3))
    xs = np.linspace(0, np.pi, width)[None, :]
    band = 256
    for top in range(0, height, band):
        bottom = min(top + band, height)
        ys = np.linspace(0, np.pi, height)[top:bottom, None]
        block = up[top:bottom].astype(np.float32)
        vignette = 1.0 - 0.25 * ((xs / np.pi - 0.5) ** 2 + (ys / np.pi - 0.5) ** 2)
        block *= vignette[..., None].astype(np.float32)
        for c in range(3):
            field = sum(amps[c, j] * np.cos(freqs[c, j, 0] * xs + freqs[c, j, 1] * ys + phases[c, j])
                        for j in range(3))
            block[..., c] += field.astype(np.float32)
        block += rng.normal(0.0, 4.0, size=block.shape).astype(np.float32)
        out[top:bottom] = np.clip(np.rint(block), 0, 255).astype(np.uint8)
    return out


def low_key(rgb: np.ndarray, light: float = 0.2) -> np.ndarray:
    """`rgb` darkened as an underexposed photo is: its linear light times `light`, then re-encoded as sRGB."""
    x = rgb / 255.0
    linear = np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4) * light
    srgb = np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)
    return np.clip(np.rint(srgb * 255), 0, 255).astype(np.uint8)


RESULTS = Path(__file__).resolve().parent / "results"
#: Generated and converted images, made once and kept (git-ignored, like every result).
CACHE = RESULTS / "cache"


def image_files(name: str) -> tuple[Path, Path]:
    """The image as .npy (for the cases) and .png (for pngquant and the CLI), made once."""
    CACHE.mkdir(parents=True, exist_ok=True)
    npy, png = CACHE / f"{name}.npy", CACHE / f"{name}.png"
    if not npy.exists() or not png.exists():
        rgb = load(name)
        np.save(npy, rgb)
        Image.fromarray(rgb).save(png, compress_level=1)
        del rgb
    return npy, png

"""Stage 4 — remap: every pixel to its palette index, by lookup, or dithered.

The histogram already knows which entry each pixel is, and the palette stage
labelled every entry, so the undithered remap is one gather per pixel: no
nearest-color search over the pixels. Dithering (`quant.dither`) has to look
at each pixel in turn, since pixels of one color may then get different
indices; it finds each nudged pixel's nearest palette color through a grid of
candidates per cell of color space.
"""

from __future__ import annotations

import numpy as np

from .histogram import Histogram
from .palette import Palette


def remap(hist: Histogram, palette: Palette, *, dither: str = "none", strength: float = 1.0) -> np.ndarray:
    """Palette index of every pixel, shape (H, W), uint8.

    Transparent pixels get index ``len(palette.colors)``, the slot that
    export marks as transparent. `dither` is a name from `quant.DITHERS`;
    `strength` (0…1) scales it, and 0 is the same as no dithering.
    """
    if is_dithered(dither, strength):
        from .dither import dither_indices  # numba: compiled (or loaded from its cache) on first use

        return dither_indices(hist.pixel_index, hist.colors, palette.colors, dither, strength)
    transparent_slot = len(palette.colors)
    lookup = np.append(palette.labels, transparent_slot).astype(np.uint8)
    # pixel_index is -1 for transparent pixels, which picks the last lookup entry.
    return lookup[hist.pixel_index]


def is_dithered(dither: str, strength: float) -> bool:
    """Whether `dither` at `strength` changes anything (checking both: a ValueError if either is bad)."""
    from .dither import check_strength, get_dither

    kind, strength = get_dither(dither), check_strength(strength)  # both checked, even when one says "no"
    return kind.dithers and strength > 0


def render(indices: np.ndarray, palette: Palette, original: np.ndarray) -> np.ndarray:
    """The quantized image as H×W×3 uint8; transparent pixels keep their original color.

    Keeping the original color under transparency means metrics computed on
    the rendered image only see the error of visible pixels.
    """
    colors = np.vstack([palette.colors, np.zeros((1, 3), np.uint8)])
    rendered = colors[indices]
    transparent = indices == len(palette.colors)
    if transparent.any():
        rendered[transparent] = original[transparent]
    return rendered

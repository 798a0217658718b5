"""Stage 4 — remap: every pixel to its palette index, by lookup.

The histogram already knows which entry each pixel is, and the palette stage
labelled every entry, so the remap is one gather per pixel: no nearest-color
search over the pixels.
"""

from __future__ import annotations

import numpy as np

from .histogram import Histogram
from .palette import Palette


def remap(hist: Histogram, palette: Palette) -> np.ndarray:
    """Palette index of every pixel, shape (H, W), uint8.

    Transparent pixels get index ``len(palette.colors)``, the slot that
    export marks as transparent.
    """
    transparent_slot = len(palette.colors)
    lookup = np.append(palette.labels, transparent_slot).astype(np.uint8)
    # pixel_index is -1 for transparent pixels, which picks the last lookup entry.
    return lookup[hist.pixel_index]


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

"""Stage 5 — export: palette PNG, and the palette as hex, JSON and GIMP .gpl.

The PNG's PLTE holds the palette's colors in the palette's order (see
`quant.Palette`); the palette's text formats live with their readers in
`quant.palette_file` and are re-exported here.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from .palette_file import hex_colors, palette_gpl, palette_json, palette_text, write_palette

__all__ = ["hex_colors", "palette_gpl", "palette_json", "palette_text", "png_bytes", "to_pil", "write_palette"]


def to_pil(indices: np.ndarray, colors: np.ndarray) -> Image.Image:
    """A mode-P image holding `indices` over `colors`.

    Index ``len(colors)`` (if used) is written as a fully transparent entry;
    otherwise the palette is exactly `colors`, with no unused entry after them.
    """
    height, width = indices.shape
    image = Image.frombytes("P", (width, height), np.ascontiguousarray(indices, dtype=np.uint8).tobytes())
    # The transparent slot only exists below 256 colors; a full palette has no room for it.
    transparent = len(colors) < 256 and bool((indices == len(colors)).any())
    slots = np.vstack([colors, np.zeros((1, 3), np.uint8)]) if transparent else colors
    image.putpalette(np.asarray(slots, np.uint8).ravel().tolist())
    if transparent:
        image.info["transparency"] = len(colors)
    return image


def png_bytes(indices: np.ndarray, colors: np.ndarray) -> bytes:
    """Encode as an optimized palette PNG (PNG8).

    `indices` (H×W) are rows of `colors`, or ``len(colors)`` for a transparent pixel.
    """
    low, high = (int(indices.min()), int(indices.max())) if indices.size else (0, 0)
    if len(colors) > 256 or not 0 <= low <= high <= min(len(colors), 255):
        raise ValueError(
            f"indices must lie in 0…{len(colors)} (the palette's rows and the transparent slot) "
            f"for at most 256 colors; got {low}…{high} for {len(colors)} colors"
        )
    image = to_pil(indices, colors)
    buffer = io.BytesIO()
    save_args = {"optimize": True}
    if "transparency" in image.info:
        save_args["transparency"] = image.info["transparency"]
    image.save(buffer, format="PNG", **save_args)
    return buffer.getvalue()

"""Stage 5 — export: palette PNG, and the palette as hex, JSON and GIMP .gpl."""

from __future__ import annotations

import io
import json

import numpy as np
from PIL import Image


def to_pil(indices: np.ndarray, colors: np.ndarray) -> Image.Image:
    """A mode-P image holding `indices` over `colors`.

    Index ``len(colors)`` (if used) is written as a fully transparent entry.
    """
    height, width = indices.shape
    image = Image.frombytes("P", (width, height), np.ascontiguousarray(indices, dtype=np.uint8).tobytes())
    # The transparent slot only exists below 256 colors; a full palette has no room for it.
    slots = colors if len(colors) >= 256 else np.vstack([colors, np.zeros((1, 3), np.uint8)])
    image.putpalette(slots.ravel().tolist())
    if (indices == len(colors)).any():
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


def hex_colors(colors: np.ndarray) -> list[str]:
    return [f"#{r:02x}{g:02x}{b:02x}" for r, g, b in colors.tolist()]


def palette_json(colors: np.ndarray, counts: np.ndarray | None = None) -> str:
    """The palette as JSON: hex strings, RGB triples and, if given, pixel counts."""
    entries = [{"hex": h, "rgb": rgb} for h, rgb in zip(hex_colors(colors), colors.tolist(), strict=True)]
    if counts is not None:
        for entry, count in zip(entries, counts.tolist(), strict=True):
            entry["pixels"] = count
    return json.dumps({"colors": entries}, indent=2)


def palette_gpl(colors: np.ndarray, name: str = "quant palette") -> str:
    """The palette as a GIMP/Inkscape/Krita `.gpl` file."""
    safe_name = " ".join(name.split())  # a newline would end the header line
    lines = ["GIMP Palette", f"Name: {safe_name}", "Columns: 8", "#"]
    lines += [f"{r:3d} {g:3d} {b:3d}\t{h}" for (r, g, b), h in zip(colors.tolist(), hex_colors(colors), strict=True)]
    return "\n".join(lines) + "\n"

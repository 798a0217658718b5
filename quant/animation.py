"""Animated GIFs, every frame: one palette for the whole animation, written back as an animated GIF.

``quant anim.gif --frames all`` comes here (through `quant.batch.quantize_file`).
The frames are counted into one set of color counts (`quant.batch.merge_counts`),
one palette is clustered from them, exactly as ``--shared-palette`` does for a
set of files, and each frame is mapped to it (`quant.assign_palette`). One
global palette keeps colors from flickering between frames.

The first frame goes through `quant.load_image`, so a bad file is refused
with the same messages as anywhere else; the others are read with Pillow,
already composited (Pillow applies each frame's disposal), and the
animation's frame times and loop count are kept.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageSequence

from .errors import ImageError
from .load import ALPHA_THRESHOLD, LoadedImage, from_array, load_image

if TYPE_CHECKING:
    from .batch import Options


@dataclass(frozen=True)
class Animation:
    """The frames of an animation, as images, with how long each shows (ms) and how often it loops (0: forever)."""

    frames: tuple[LoadedImage, ...]
    durations: tuple[int, ...]
    loop: int | None


def load_animation(path: str, *, max_pixels: int) -> Animation:
    """Every frame of the GIF at `path`; `max_pixels` bounds all frames together (they are all held at once)."""
    load_image(path, max_pixels=max_pixels)  # the same checks and refusals as a single image
    try:
        with Image.open(path) as opened:
            count = getattr(opened, "n_frames", 1)
            if count * opened.width * opened.height > max_pixels:
                raise ImageError(
                    f"{count} frames of {opened.width}×{opened.height} make "
                    f"{count * opened.width * opened.height:,} pixels, over the limit of {max_pixels:,}; "
                    "use --frames first, or a higher --max-pixels"
                )
            frames, durations = [], []
            for frame in ImageSequence.Iterator(opened):
                rgba = np.asarray(frame.convert("RGBA"))
                frames.append(from_array(np.ascontiguousarray(rgba[..., :3]), rgba[..., 3] >= ALPHA_THRESHOLD))
                durations.append(int(frame.info.get("duration", 100)))
            loop = opened.info.get("loop")
    except ImageError:
        raise
    except Exception as exc:  # noqa: BLE001 — Pillow raises many types on a bad frame
        raise ImageError(f"a frame of the animation is truncated or corrupt ({exc})") from None
    return Animation(tuple(frames), tuple(durations), loop)


@dataclass(frozen=True)
class QuantizedAnimation:
    gif: bytes
    colors: np.ndarray
    frames: int


def quantize_animation(animation: Animation, options: Options) -> QuantizedAnimation:
    """Every frame mapped to one palette of at most `options.k` colors clustered from all frames' colors.

    With `options.palette`, every frame is mapped to those colors instead (nothing is clustered).
    """
    from .batch import ColorCounts, merge_counts, palette_from_counts
    from .histogram import build_histogram, pack_rgb
    from .methods import CUSTOM, get_method
    from .palette import assign_palette
    from .palette_file import as_colors
    from .remap import remap

    space = options.space
    chosen = CUSTOM if options.palette else get_method(options.method)
    params = chosen.resolve_params(None)
    weigh = getattr(chosen, "weigh", None)
    hists = [build_histogram(frame) for frame in animation.frames]
    merged: ColorCounts | None = None
    for frame, hist in zip(animation.frames, hists, strict=True):
        weights = hist.counts.astype(np.float64) if weigh is None else np.asarray(weigh(frame, hist, **params))
        codes = pack_rgb(hist.colors[None])[0].astype(np.uint32)
        counts = ColorCounts(codes, hist.counts, weights.astype(np.float64), frame.opaque is not None)
        merged = counts if merged is None else merge_counts(merged, counts)
    assert merged is not None, "an animation has at least one frame"
    colors = as_colors(options.palette) if options.palette else palette_from_counts(merged, options)
    if merged.transparent and len(colors) >= 256:
        raise ValueError("the animation has transparent pixels: a GIF palette for it holds at most 255 colors")
    transparent = len(colors)
    slots = colors if len(colors) >= 256 else np.vstack([colors, np.zeros((1, 3), np.uint8)])
    pictures = []
    for hist in hists:
        indices = remap(hist, assign_palette(hist, colors, space=space))
        picture = Image.frombytes("P", indices.shape[::-1], np.ascontiguousarray(indices, np.uint8).tobytes())
        picture.putpalette(slots.ravel().tolist())
        pictures.append(picture)
    buffer = io.BytesIO()
    extra = {} if animation.loop is None else {"loop": animation.loop}
    if merged.transparent:
        extra["transparency"] = transparent
    pictures[0].save(
        buffer,
        format="GIF",
        save_all=True,
        append_images=pictures[1:],
        duration=list(animation.durations),
        disposal=2,  # each frame is whole: clear to the background before the next
        optimize=False,  # keep the palette as it is: every frame shares it
        palette=slots.tobytes(),  # one global color table, and no frame gets a local one
        **extra,
    )
    return QuantizedAnimation(buffer.getvalue(), colors, len(pictures))

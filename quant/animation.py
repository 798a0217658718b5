"""Animations, every frame: one palette for the whole animation, written back as an animated GIF.

``quant anim.gif --frames all`` comes here (through `quant.batch.quantize_file`),
and so do animated WebP and PNG (APNG) files: GIF is the one animated format
with palettes. The frames are counted into one set of color counts
(`quant.batch.merge_counts`), one palette is clustered from them, exactly as
``--shared-palette`` does for a set of files, and each frame is mapped to it
(`quant.assign_palette`). One global palette keeps colors from flickering
between frames; ``--frame-palettes`` clusters each frame on its own instead
(each frame gets a local color table).

The first frame goes through `quant.load_image`, so a bad file is refused
with the same messages as anywhere else; the others are read with Pillow,
already composited (Pillow applies each frame's disposal and blending), and
the animation's frame times and loop count are kept.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageSequence

from .errors import ImageError
from .load import ALPHA_THRESHOLD, LoadedImage, from_array, load_image

if TYPE_CHECKING:
    from .batch import Options

#: Formats that may hold an animation. A GIF with --frames all is always written as a GIF (even with one
#: frame, as before); a WebP or PNG only when it has more than one frame: a still stays a PNG.
ANIMATED_SUFFIXES = (".gif", ".webp", ".png", ".apng")


def keeps_frames(path: Path) -> bool:
    """Whether ``--frames all`` writes `path` as an animated GIF: a GIF, or a WebP or PNG of several frames."""
    suffix = path.suffix.lower()
    if suffix == ".gif":
        return True
    if suffix not in ANIMATED_SUFFIXES:
        return False
    try:
        with Image.open(path) as opened:  # reads the header only
            return getattr(opened, "n_frames", 1) > 1
    except Exception:  # noqa: BLE001 — unreadable: treated as a still, and refused with the usual message later
        return False


@dataclass(frozen=True)
class Animation:
    """The frames of an animation, as images, with how long each shows (ms) and how often it loops (0: forever)."""

    frames: tuple[LoadedImage, ...]
    durations: tuple[int, ...]
    loop: int | None


def load_animation(path: str, *, max_pixels: int) -> Animation:
    """Every frame of the animation at `path`; `max_pixels` bounds all frames together (they are all held at once)."""
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
                durations.append(round(frame.info.get("duration", 100)))
            loop = opened.info.get("loop")
    except ImageError:
        raise
    except Exception as exc:  # noqa: BLE001 — Pillow raises many types on a bad frame
        raise ImageError(f"a frame of the animation is truncated or corrupt ({exc})") from None
    return Animation(tuple(frames), tuple(durations), loop)


@dataclass(frozen=True)
class QuantizedAnimation:
    """The animated GIF, the palette of each frame (the same array for all, unless one per frame), its frame count."""

    gif: bytes
    palettes: tuple[np.ndarray, ...]
    frames: int

    @property
    def colors(self) -> int:
        """Distinct palette colors over all frames."""
        return len(np.unique(np.vstack(self.palettes), axis=0))


def quantize_animation(animation: Animation, options: Options) -> QuantizedAnimation:
    """Every frame mapped to one palette of at most `options.k` colors clustered from all frames' colors.

    With `options.frame_palettes`, each frame is clustered on its own into at most `options.k`
    colors; with `options.palette`, every frame is mapped to those colors instead (nothing is clustered).
    """
    from .batch import color_counts, merge_counts, palette_from_counts
    from .histogram import build_histogram
    from .methods import CUSTOM, get_method
    from .palette import assign_palette
    from .palette_file import as_colors
    from .remap import remap

    space = options.space
    chosen = CUSTOM if options.palette else get_method(options.method)
    hists = [build_histogram(frame) for frame in animation.frames]
    counted = [color_counts(frame, hist, chosen) for frame, hist in zip(animation.frames, hists, strict=True)]
    transparent = any(counts.transparent for counts in counted)
    if options.palette:
        palettes = (as_colors(options.palette),) * len(counted)
    elif options.frame_palettes:
        palettes = tuple(palette_from_counts(_with_transparency(counts, transparent), options) for counts in counted)
    else:
        merged = counted[0]
        for counts in counted[1:]:
            merged = merge_counts(merged, counts)
        palettes = (palette_from_counts(merged, options),) * len(counted)
    # One transparent slot for every frame, after the longest palette (a palette keeps room for it).
    slot = max(len(colors) for colors in palettes)
    if transparent and slot >= 256:
        raise ValueError("the animation has transparent pixels: a GIF palette for it holds at most 255 colors")
    pictures = []
    for hist, colors in zip(hists, palettes, strict=True):
        indices = remap(hist, assign_palette(hist, colors, space=space))
        indices[indices == len(colors)] = slot
        picture = Image.frombytes("P", indices.shape[::-1], np.ascontiguousarray(indices, np.uint8).tobytes())
        picture.putpalette(_slots(colors, slot).ravel().tolist())
        pictures.append(picture)
    buffer = io.BytesIO()
    extra: dict = {} if animation.loop is None else {"loop": animation.loop}
    if transparent:
        extra["transparency"] = slot
    if not options.frame_palettes:
        extra["palette"] = _slots(palettes[0], slot).tobytes()  # one global color table, no local ones
    pictures[0].save(
        buffer,
        format="GIF",
        save_all=True,
        append_images=pictures[1:],
        duration=list(animation.durations),
        disposal=2,  # each frame is whole: clear to the background before the next
        optimize=False,  # keep each palette as it is
        **extra,
    )
    return QuantizedAnimation(buffer.getvalue(), palettes, len(pictures))


def _slots(colors: np.ndarray, slot: int) -> np.ndarray:
    """`colors` padded to `slot` + 1 entries (black), the last one the transparent slot, when there is room."""
    if slot >= 256:
        return colors
    return np.vstack([colors, np.zeros((slot + 1 - len(colors), 3), np.uint8)])


def _with_transparency(counts, transparent: bool):
    """`counts` marked as transparent if any frame is, so every frame's palette leaves the same slot free."""
    from dataclasses import replace

    return replace(counts, transparent=transparent)

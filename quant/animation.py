"""Animations, every frame: one palette for the whole animation, written back as an animated GIF.

``quant anim.gif --frames all`` comes here (through `quant.batch.quantize_file`),
and so do animated WebP and PNG (APNG) files: GIF is the one animated format
with palettes. The frames are counted into one set of color counts
(`quant.batch.merge_counts`), one palette is clustered from them, exactly as
``--shared-palette`` does for a set of files, and each frame goes through the
pipeline onto it as ``--palette`` takes a still onto your own colors
(`quant.prepare(frame, palette=colors)`), dithered if asked. One global
palette keeps colors from flickering between frames; ``--frame-palettes``
quantizes each frame on its own instead, as a still of it would be (each
frame gets a local color table).

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
    from .histogram import Histogram
    from .pipeline import Result

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

    @property
    def transparent(self) -> bool:
        """Whether any frame has transparent pixels: then the GIF marks one palette index transparent."""
        return any(frame.opaque is not None for frame in self.frames)


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
    Either way each frame goes through the pipeline (`quant.prepare` → `Prepared.quantize`), dithered
    as `options.dither` says, so a frame is what a still image of it would be with that palette.
    """
    from .histogram import build_histogram

    hists = [build_histogram(frame) for frame in animation.frames]
    if options.frame_palettes and not options.palette:
        results = _with_own_palettes(animation, hists, options)
    else:
        colors = _one_palette(animation, hists, options)
        # The palette is already in its order: each frame keeps it whole and as it is ("given").
        results = [_mapped(frame, hist, colors, options) for frame, hist in zip(animation.frames, hists, strict=True)]
    return QuantizedAnimation(
        _encode(animation, results, options), tuple(r.palette.colors for r in results), len(results)
    )


def _one_palette(animation: Animation, hists: list[Histogram], options: Options) -> np.ndarray:
    """The animation's one palette: your own (``--palette``) in ``--sort``'s order, or clustered from all frames."""
    from .batch import color_counts, merge_counts, palette_from_counts
    from .methods import get_method

    if options.palette:
        return _your_palette(animation, hists, options)
    method = get_method(options.method)
    counted = [color_counts(frame, hist, method) for frame, hist in zip(animation.frames, hists, strict=True)]
    merged = counted[0]
    for counts in counted[1:]:
        merged = merge_counts(merged, counts)
    return palette_from_counts(merged, options)


def _your_palette(animation: Animation, hists: list[Histogram], options: Options) -> np.ndarray:
    """``--palette``'s colors in ``--sort``'s order (``given`` by default), decided once for every frame.

    ``frequency`` counts the pixels of every frame, as a still's counts its own. The frames are then
    mapped again onto the sorted colors (`_mapped`), not renumbered from this count: a color equally
    near two palette colors goes to the first of them the nearest-color search meets, so the order
    decides, and a frame must be what a still of it gives with the sorted palette
    (tests/test_animation.py shows frames where renumbering differs).
    """
    from .palette import order_colors
    from .palette_file import as_colors
    from .pipeline import prepare

    colors = as_colors(options.palette)
    order = options.order or "given"
    if order == "given":
        return colors
    pixels = np.zeros(len(colors))
    if order == "frequency":
        for frame, hist in zip(animation.frames, hists, strict=True):
            mapped = prepare(frame, palette=colors, space=options.space, hist=hist).palette()
            pixels += mapped.pixel_counts(hist.counts)
    return colors[order_colors(colors, pixels, order)]


def _mapped(frame: LoadedImage, hist: Histogram, colors: np.ndarray, options: Options) -> Result:
    """`frame` mapped to `colors` by the pipeline, as ``--palette`` maps an image: nothing clustered."""
    from .pipeline import prepare

    prepared = prepare(frame, palette=colors, space=options.space, order="given", hist=hist)
    return prepared.quantize(seed=options.seed, **options.dither_keywords())


def _with_own_palettes(animation: Animation, hists: list[Histogram], options: Options) -> list[Result]:
    """Each frame quantized on its own (``--frame-palettes``), as a still image of it would be.

    If any frame has transparency, every frame keeps the same slot free for it (at most 255 colors),
    since the GIF marks one index transparent for the whole animation.
    """
    from .palette import K_MAX
    from .pipeline import prepare

    k = min(options.k, K_MAX - 1) if animation.transparent else options.k
    lock, order = options.lock or None, options.order
    return [
        prepare(frame, options.method, space=options.space, hist=hist, lock=lock, order=order).quantize(
            k, seed=options.seed, **options.dither_keywords()
        )
        for frame, hist in zip(animation.frames, hists, strict=True)
    ]


def _encode(animation: Animation, results: list[Result], options: Options) -> bytes:
    """The frames' indices and palettes as an animated GIF, with the animation's frame times and loop count."""
    palettes = [result.palette.colors for result in results]
    transparent = animation.transparent
    # One transparent slot for every frame, after the longest palette (the pipeline kept room for it).
    slot = max(len(colors) for colors in palettes)
    pictures = []
    for result, colors in zip(results, palettes, strict=True):
        indices = result.indices
        if transparent and len(colors) < slot:
            indices = np.where(indices == len(colors), slot, indices).astype(np.uint8)
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
    return buffer.getvalue()


def _slots(colors: np.ndarray, slot: int) -> np.ndarray:
    """`colors` padded to `slot` + 1 entries (black), the last one the transparent slot, when there is room."""
    if slot >= 256:
        return colors
    return np.vstack([colors, np.zeros((slot + 1 - len(colors), 3), np.uint8)])

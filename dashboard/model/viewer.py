"""The comparison viewer's pixels: crops of the full-resolution images, at any zoom, and ΔE2000 maps.

The browser holds only previews; whatever it shows sharper than a preview,
it asks the server for as a `Crop`: a region of the image and the scale it
is drawn at. Each panel (the original, a result, a result's ΔE map) is a
`Layer` that renders a crop by sampling its pixel grid, so the work and the
bytes sent grow with the pixels on screen, never with the image: a 12 MP
photo costs what its visible part costs.

An undithered result's pixels are not decoded from its PNG: the histogram's
per-pixel index and the palette's label per entry give them by lookup (what
the remap stage did to write that PNG), and a ΔE map looks up a ΔE2000
computed once per distinct color, the histogram's working set, not once per
pixel. A dithered result sends pixels of one color to different palette
colors, so its pixels are decoded from its PNG (`DecodedLayer`), and its
ΔE map is computed per pixel of each crop (`PixelDeltaELayer`). The same
palette's lookup shows it undithered, for side by side (the palette a dither
was fitted to, so not the method's own undithered result). Decoded
pixels and ΔE arrays are big (a byte a pixel, four bytes a distinct color): the
page keeps them in its cache bounded by bytes, and decodes only when a crop
needs it.

This module knows nothing about Streamlit, so it is tested on its own.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from PIL import Image

from quant.histogram import Histogram
from quant.load import LoadedImage
from quant.palette import Palette

from .memory import BoundedCache

#: The closest zoom: 8 screen pixels per image pixel.
MAX_ZOOM = 8.0
#: The most pixels one crop of one panel may have; a request for more is cut down around its center.
MAX_CROP_PIXELS = 3_000_000
#: The coarsest scale a crop is asked at (a whole 50 MP image on a 400-px panel is about 1/20).
MIN_SCALE = 1 / 64
#: Width of the previews the viewer renders itself (ΔE maps): two 480-px panels' worth; closer
#: zooms get crops. A result card's preview (`outcomes.PREVIEW_WIDTH`) is reused as it is.
RENDERED_PREVIEW_WIDTH = 960
#: ΔE2000 around which two colors side by side start to look different.
JUST_NOTICEABLE_DELTA_E = 2.3
#: The heat map's colors, dark (no difference) to bright (large): inferno, perceptually even.
HEAT_STOPS = (
    "#000004",
    "#1b0c41",
    "#4a0c6b",
    "#781c6d",
    "#a52c60",
    "#cf4446",
    "#ed6925",
    "#fb9b06",
    "#f7d13d",
    "#fcffa4",
)
#: Distinct colors per chunk when computing ΔE per entry: a big photo has millions.
_ENTRY_CHUNK = 1 << 19


@dataclass(frozen=True)
class Crop:
    """A region of the image, ``[x0, x1) × [y0, y1)`` in image pixels, rendered `width` × `height`.

    At scale 1 (zoom 1:1 and closer) ``width == x1 - x0``: each output pixel is one image pixel.
    """

    x0: int
    y0: int
    x1: int
    y1: int
    width: int
    height: int

    @property
    def scale(self) -> float:
        return self.width / (self.x1 - self.x0)

    def rows(self) -> np.ndarray:
        """The image row each output row samples: nearest neighbour, exact at scale 1."""
        return _samples(self.y0, self.y1, self.height)

    def columns(self) -> np.ndarray:
        return _samples(self.x0, self.x1, self.width)

    def as_dict(self) -> dict[str, int]:
        return {"x0": self.x0, "y0": self.y0, "x1": self.x1, "y1": self.y1, "width": self.width, "height": self.height}


def _samples(start: int, stop: int, count: int) -> np.ndarray:
    step = (stop - start) / count
    return np.minimum(start + ((np.arange(count) + 0.5) * step).astype(np.intp), stop - 1)


def crop_from_request(request: Mapping[str, Any] | None, width: int, height: int) -> Crop | None:
    """The crop a browser asked for, checked and clamped to a `width` × `height` image; None if unusable.

    The request comes from the page's script, so it is treated as untrusted
    input: numbers are checked, the region is clamped to the image, the scale
    to ``[MIN_SCALE, 1]`` (closer zooms magnify on the browser), and a region
    whose crop would exceed `MAX_CROP_PIXELS` is cut down around its center.

    Parameters
    ----------
    request : mapping or None
        ``{"x": left, "y": top, "w": width, "h": height, "scale": output pixels per image pixel}``.
    width, height : int
        The image's size.
    """
    if not isinstance(request, Mapping):
        return None
    try:
        x, y, w, h, scale = (float(request[name]) for name in ("x", "y", "w", "h", "scale"))
    except (KeyError, TypeError, ValueError):
        return None
    if not all(math.isfinite(v) for v in (x, y, w, h, scale)) or w <= 0 or h <= 0:
        return None
    scale = min(1.0, max(MIN_SCALE, scale))
    excess = math.sqrt(w * h * scale * scale / MAX_CROP_PIXELS)
    if excess > 1:  # keep the center, shrink the region
        x, y, w, h = x + w * (1 - 1 / excess) / 2, y + h * (1 - 1 / excess) / 2, w / excess, h / excess
    x0, y0 = max(0, math.floor(x)), max(0, math.floor(y))
    x1, y1 = min(width, math.ceil(x + w)), min(height, math.ceil(y + h))
    if x1 <= x0 or y1 <= y0:
        return None
    return Crop(x0, y0, x1, y1, max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale)))


def whole(width: int, height: int, *, max_width: int) -> Crop:
    """The whole image, at most `max_width` wide: a preview."""
    out_width = min(width, max_width)
    return Crop(0, 0, width, height, out_width, max(1, round(height * out_width / width)))


class Layer(Protocol):
    """One panel's picture: renders any crop of itself as H×W×4 uint8 RGBA."""

    @property
    def size(self) -> tuple[int, int]:
        """The full-resolution width and height."""
        ...

    def render(self, crop: Crop) -> np.ndarray: ...


class _Indexed:
    """A layer whose pixels are looked up through the histogram's per-pixel index."""

    hist: Histogram

    @property
    def size(self) -> tuple[int, int]:
        height, width = self.hist.pixel_index.shape
        return width, height

    def _entries(self, crop: Crop) -> tuple[np.ndarray, np.ndarray]:
        """The crop's histogram entries, and which of its pixels are visible (entry ≥ 0): only those
        are looked up, so transparent pixels (and an image with no visible pixel) index nothing."""
        entries = self.hist.pixel_index[np.ix_(crop.rows(), crop.columns())]
        return entries, entries >= 0


@dataclass(frozen=True)
class OriginalLayer:
    image: LoadedImage

    @property
    def size(self) -> tuple[int, int]:
        return self.image.width, self.image.height

    def render(self, crop: Crop) -> np.ndarray:
        grid = np.ix_(crop.rows(), crop.columns())
        opaque = None if self.image.opaque is None else self.image.opaque[grid]
        return _rgba(self.image.rgb[grid], opaque)


@dataclass(frozen=True)
class ResultLayer(_Indexed):
    """A result's pixels, by lookup: the palette color of each pixel's histogram entry."""

    hist: Histogram
    palette: Palette

    def render(self, crop: Crop) -> np.ndarray:
        entries, visible = self._entries(crop)
        rgb = np.zeros((*entries.shape, 3), np.uint8)
        rgb[visible] = self.palette.colors[self.palette.labels[entries[visible]]]
        return _rgba(rgb, visible)


@dataclass(frozen=True)
class DeltaELayer(_Indexed):
    """A result's ΔE2000 to the original per pixel, colored on the shared scale ``0 … limit``."""

    hist: Histogram
    delta_e: np.ndarray
    limit: float

    def render(self, crop: Crop) -> np.ndarray:
        entries, visible = self._entries(crop)
        values = np.zeros(entries.shape, np.float32)
        values[visible] = self.delta_e[entries[visible]]
        return _rgba(heat_colors(values, self.limit), visible)


def decode_indices(png: bytes) -> np.ndarray:
    """A PNG8's palette index of every pixel, (H, W) uint8: what the remap wrote (transparency its own index).

    One byte a pixel, a quarter of the decoded RGBA: the colors are looked up per crop.
    """
    picture = Image.open(io.BytesIO(png))
    if picture.mode != "P":
        raise ValueError(f"expected a palette PNG (PNG8), not a {picture.mode} image")
    return np.asarray(picture)


@dataclass(frozen=True)
class DecodedLayer:
    """A result's pixels as its PNG holds them: what a dithered result needs (see the module docstring).

    Nothing is decoded until a crop is rendered (a grid at fit shows the
    card's preview), and the decoded indices are kept in `store`, a cache
    bounded by bytes shared with every other image's data, under `key`: an
    evicted result is decoded again when next needed.

    Attributes
    ----------
    key : hashable
        Names the result in `store`.
    png : bytes
        The result's PNG8.
    colors : ndarray of uint8, shape (m, 3)
        Its palette; index m is transparent.
    store : BoundedCache
    """

    key: Hashable
    png: bytes
    colors: np.ndarray
    store: BoundedCache

    @property
    def size(self) -> tuple[int, int]:
        return Image.open(io.BytesIO(self.png)).size  # read from the header: nothing decoded

    def indices(self) -> np.ndarray:
        """Every pixel's palette index, decoded once while `store` keeps it."""
        return self.store.get_or_compute(self.key, lambda: decode_indices(self.png))

    def render(self, crop: Crop) -> np.ndarray:
        indices = self.indices()[np.ix_(crop.rows(), crop.columns())]
        visible = indices < len(self.colors)
        rgb = np.zeros((*indices.shape, 3), np.uint8)
        rgb[visible] = self.colors[indices[visible]]
        return _rgba(rgb, visible)


@dataclass(frozen=True)
class PixelDeltaELayer:
    """A decoded result's ΔE2000 to the original, computed pixel by pixel for each crop, on ``0 … limit``."""

    image: LoadedImage
    result: DecodedLayer
    limit: float

    @property
    def size(self) -> tuple[int, int]:
        return self.image.width, self.image.height

    def render(self, crop: Crop) -> np.ndarray:
        from quant.ciede2000 import ciede2000
        from quant.colorspace import rgb_to_lab

        original = self.image.rgb[np.ix_(crop.rows(), crop.columns())].reshape(-1, 3)
        rendered = self.result.render(crop)
        values = ciede2000(rgb_to_lab(original), rgb_to_lab(rendered[..., :3].reshape(-1, 3)))
        visible = rendered[..., 3] > 0
        return _rgba(heat_colors(values.reshape(visible.shape), self.limit), visible)


def _rgba(rgb: np.ndarray, opaque: np.ndarray | None) -> np.ndarray:
    alpha = np.full(rgb.shape[:2], 255, np.uint8) if opaque is None else np.where(opaque, 255, 0).astype(np.uint8)
    return np.dstack([rgb, alpha])


def delta_e_per_entry(hist: Histogram, palette: Palette) -> np.ndarray:
    """ΔE2000 between each histogram entry and its palette color, float32 (n,).

    A result's pixel is its entry's palette color, so this is every pixel's
    ΔE, computed once per distinct color; a map gathers it through
    `Histogram.pixel_index`. In chunks, so a photo with millions of colors
    needs no CIELAB copy of them all (`Histogram.lab` would keep one).
    """
    from quant.ciede2000 import ciede2000
    from quant.colorspace import rgb_to_lab

    palette_lab = rgb_to_lab(palette.colors)
    out = np.empty(len(hist), np.float32)
    for start in range(0, len(hist), _ENTRY_CHUNK):
        chunk = slice(start, start + _ENTRY_CHUNK)
        out[chunk] = ciede2000(rgb_to_lab(hist.colors[chunk]), palette_lab[palette.labels[chunk]])
    return out


def shared_limit(delta_es: list[np.ndarray], counts: np.ndarray, *, quantile: float = 0.99) -> float:
    """The top of the heat maps' shared scale: a round number at or above the `quantile` of every map's pixels.

    A few extreme pixels don't wash the others out (they are shown at the
    top color), and every map is colored the same way, so they compare.
    """
    highest = 0.0
    for values in delta_es:
        order = np.argsort(values)
        cumulative = np.cumsum(counts[order])
        if cumulative.size and cumulative[-1] > 0:
            at = np.searchsorted(cumulative, quantile * cumulative[-1])
            highest = max(highest, float(values[order[min(at, len(order) - 1)]]))
    return nice_ceiling(max(highest, 1.0))


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 5 × 10ⁿ that is ≥ `value`."""
    power = 10 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= value * (1 - 1e-9))


def _heat_table() -> np.ndarray:
    stops = np.array([[int(code[i : i + 2], 16) for i in (1, 3, 5)] for code in HEAT_STOPS], float)
    positions = np.linspace(0, 1, len(stops))
    steps = np.linspace(0, 1, 256)
    return np.stack([np.interp(steps, positions, stops[:, c]) for c in range(3)], axis=1).round().astype(np.uint8)


HEAT_TABLE = _heat_table()


def heat_colors(values: np.ndarray, limit: float) -> np.ndarray:
    """`values` from 0 to `limit` (and above, clipped) as heat-map RGB, uint8 (..., 3)."""
    index = np.clip(values * (255 / limit), 0, 255).astype(np.uint8)
    return HEAT_TABLE[index]


def legend_ticks(limit: float, count: int = 5) -> list[float]:
    """Evenly spaced values from 0 to `limit` for the legend."""
    return [limit * i / (count - 1) for i in range(count)]


def encode_png(rgba: np.ndarray) -> bytes:
    """A crop as PNG, dropping an alpha channel that is opaque everywhere. Fast settings: it is sent at once."""
    picture = Image.fromarray(rgba if (rgba[..., 3] < 255).any() else np.ascontiguousarray(rgba[..., :3]))
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def render_preview(layer: Layer, *, max_width: int = RENDERED_PREVIEW_WIDTH) -> bytes:
    """A PNG of the whole layer, at most `max_width` wide (sampled: a ΔE map's values stay values)."""
    return encode_png(layer.render(whole(*layer.size, max_width=max_width)))


@dataclass(frozen=True)
class Panel:
    """One picture in the viewer.

    Attributes
    ----------
    id : str
        Names the panel's content: equal ids show equal pixels, so the browser
        keeps a preview by it and crops are cached by it.
    label : str
        What the caption says.
    layer : Layer
        Renders any crop at full resolution.
    note : str
        A second, quieter caption (a mean ΔE).
    preview : bytes or None
        A ready PNG preview of the whole image (a result card's); None: the layer renders one.
    """

    id: str
    label: str
    layer: Layer
    note: str = ""
    preview: bytes | None = None


def viewer_data(
    image_id: str,
    size: tuple[int, int],
    mode: str,
    panels: Sequence[Panel],
    request: Mapping[str, Any] | None,
    *,
    preview_png: Callable[[Panel], bytes],
    crop_png: Callable[[Panel, Crop], bytes],
    legend: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """What the browser's viewer is sent: the panels, their previews, and the crop it asked for.

    A preview the browser says it holds (``request["have"]``) is named but
    not sent again; a crop is rendered only for a request about this image.

    Parameters
    ----------
    image_id : str
        The image's content key: a new one resets the browser's zoom.
    size : (int, int)
        The image's width and height.
    mode : str
        ``"grid"``, ``"split"`` (two panels) or ``"difference"``.
    panels : sequence of Panel
    request : mapping or None
        The browser's last request: ``{"crop": {...}, "have": [preview ids], "image": image_id}``.
    preview_png, crop_png : callable
        Encode a panel's preview, and a crop of it (the view caches both).
    legend : dict, optional
        The heat maps' scale, for the difference mode.
    """
    width, height = size
    request = request if isinstance(request, Mapping) else {}
    have = set(request.get("have") or ()) if isinstance(request.get("have"), list) else set()
    crop = crop_from_request(request.get("crop"), width, height) if request.get("image") == image_id else None
    described = []
    for panel in panels:
        png = preview_png(panel)
        preview_width, preview_height = Image.open(io.BytesIO(png)).size
        preview = {"id": panel.id, "width": preview_width, "height": preview_height}
        if panel.id not in have:
            preview["src"] = data_url(png)
        described.append({"id": panel.id, "label": panel.label, "note": panel.note, "preview": preview})
    return {
        "image": {"id": image_id, "width": width, "height": height},
        "mode": mode,
        "panels": described,
        "crop": None
        if crop is None
        else {
            "geometry": crop.as_dict(),
            "panels": [panel.id for panel in panels],
            "sources": [data_url(crop_png(panel, crop)) for panel in panels],
        },
        "legend": legend,
    }


def heat_legend(limit: float) -> dict[str, Any]:
    """The difference mode's legend: the heat colors, and their ΔE2000 from 0 to `limit`."""
    digits = 0 if limit >= 4 else 1
    ticks = [f"{value:.{digits}f}" for value in legend_ticks(limit)]
    ticks[-1] = f"≥ {ticks[-1]}"
    return {
        "title": "ΔE2000 to the original",
        "stops": list(HEAT_STOPS),
        "ticks": ticks,
        "note": f"One scale for every map. About {JUST_NOTICEABLE_DELTA_E} is just noticeable side by side.",
    }

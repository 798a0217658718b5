"""Linked selection: from points picked in a chart, or a palette color, to the pixels they are.

A selection travels in three steps:

1. **entries** — a boolean mask over histogram entries (distinct colors);
2. **pixels** — a boolean H×W mask, through ``hist.pixel_index``;
3. **picture** — the image with the selected pixels as they are and the
   others dimmed.

How a view uses it (`dashboard.views.linked.show_selected_pixels`, for every chart that picks
pixels or palette colors: Color space, Cluster maps, the compare view's palette strip)::

    event = st.plotly_chart(fig, key="projections", on_select="rerun",
                            selection_mode=("box", "lasso"))
    labels = {label: palette.labels for label, palette in palettes.items()}
    # a dithered result's palette colors pick the pixels its PNG draws in them (`indices_of`),
    # not those its labels give, the undithered assignment
    picked = selection.pixels_from_event(event, hist, labels, indices_of=decoded_or_none)
    if picked is not None:
        st.image(selection.highlight(image.rgb, picked.pixels), caption=picked.caption(hist))

    # a palette swatch clicked:
    entries = selection.entries_of_color(palette.labels, index)

The figures of `dashboard.model.figures` make this work: a pixel point's
``customdata[0]`` is its histogram entry, in legend group `PIXEL_GROUP`, and
a palette marker's is its palette index, in legend group
``palette_group(label)``. Both names are defined here, once, for the figures
that write them and the events that read them back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from quant.methods import get_method
from quant.numeric import is_integer

from .formatting import count_of

#: Legend group of every trace whose points are sampled pixels.
PIXEL_GROUP = "pixels"
_PALETTE_PREFIX = "palette:"
#: How much of its brightness an unselected pixel keeps in `highlight`.
DEFAULT_DIM = 0.25


def palette_group(label: str) -> str:
    """Legend group of a method's palette markers, e.g. ``"palette:k-means"``."""
    return _PALETTE_PREFIX + label


def method_palette_label(method: str) -> str:
    """The label a method's palette is drawn under and looked up by: its plain display label.

    ``page.palettes`` keys palettes by it, so a figure drawn for one method
    (the compare view's palette strip) must use it too. A card's title,
    "libimagequant · baseline", would put the bars in a group no palette is
    filed under, and a click on a baseline's color would select nothing.
    """
    return get_method(method).label  # quant.CUSTOM too


def palette_label(group: str) -> str | None:
    """The method label a legend group is the palette of (`palette_group` backwards), or None."""
    return group[len(_PALETTE_PREFIX) :] if group.startswith(_PALETTE_PREFIX) else None


def entries_from_event(
    event: Any,
    n_entries: int,
    *,
    labels_by_group: Mapping[str, np.ndarray] | None = None,
) -> np.ndarray:
    """The histogram entries a Streamlit plotly selection event picks.

    Parameters
    ----------
    event : mapping
        What ``st.plotly_chart(..., on_select="rerun")`` returns, i.e.
        ``{"selection": {"points": [...], ...}}``, or its ``"selection"``
        part, or ``None`` (nothing selected).
    n_entries : int
        ``len(hist)``.
    labels_by_group : mapping of str to ndarray, optional
        Each method's ``palette.labels``, keyed by the label its palette
        markers were drawn under. A selected palette marker then selects
        every color of its cluster; without it, palette markers are ignored.

    Returns
    -------
    ndarray of bool, shape (n_entries,)

    Notes
    -----
    A point whose legend group is a palette's reads ``customdata[0]`` as a
    palette index; any other point reads it as a histogram entry. Points
    without customdata (the knee's star, say) are skipped. Streamlit 1.67
    delivers a point as, for example, ``{"curve_number": 0, "point_index": 4,
    "x": 200, "y": 30, "customdata": {"0": 2, "1": 200, "2": 30, "3": 30,
    "4": 1800}, "marker_color": "#c81e1e", "legendgroup": "pixels"}``.
    """
    mask = np.zeros(_check_count(n_entries), dtype=bool)
    labels_by_group = labels_by_group or {}
    for point in _points(event):
        first = _first_customdata(point)
        if first is None:
            continue
        label = palette_label(point.get("legendgroup") or "")
        if label is not None:
            labels = labels_by_group.get(label)
            if labels is not None:
                mask |= np.asarray(labels) == first
        elif 0 <= first < n_entries:
            mask[first] = True
    return mask


def entries_of_color(labels: np.ndarray, index: int) -> np.ndarray:
    """The histogram entries that palette color `index` replaces.

    Parameters
    ----------
    labels : ndarray of int, shape (n,)
        ``palette.labels``.
    index : int
        A row of ``palette.colors``.

    Returns
    -------
    ndarray of bool, shape (n,)
    """
    labels = np.asarray(labels)
    colors = int(labels.max()) + 1 if labels.size else 0
    if not is_integer(index) or not 0 <= index < max(colors, 1):
        raise ValueError(f"index must be a palette row from 0 to {max(colors - 1, 0)}, not {index!r}")
    return labels == index


def palette_rows_from_event(event: Any, label: str) -> list[int]:
    """The palette rows picked in a selection event from the palette markers drawn under `label`."""
    group = palette_group(label)
    rows = (_first_customdata(point) for point in _points(event) if point.get("legendgroup") == group)
    return sorted({row for row in rows if row is not None})


def pixels_of_palette_rows(
    hist, labels: np.ndarray, rows: list[int], *, indices: np.ndarray | None = None
) -> np.ndarray:
    """Which pixels are drawn in the picked palette colors: a boolean H×W mask.

    Parameters
    ----------
    hist : Histogram
        The image's.
    labels : ndarray of int, shape (n,)
        ``palette.labels``: each distinct color's nearest palette row, the
        undithered assignment.
    rows : list of int
        The picked palette rows.
    indices : ndarray of uint8, shape (H, W), optional
        The result's palette index of every pixel, as its PNG holds it. A
        dithered result must pass it: dithering sends pixels of one color to
        different palette colors, so the labels would pick the pixels the
        undithered result gives that color, not those the image shows in it.

    Returns
    -------
    ndarray of bool, shape (H, W)
        Transparent pixels are never selected.
    """
    if indices is None:
        entries = np.isin(np.asarray(labels), rows)
        return pixel_mask(hist, entries)
    indices = np.asarray(indices)
    if indices.shape != hist.pixel_index.shape:
        raise ValueError(f"indices must have the image's shape {hist.pixel_index.shape}, not {indices.shape}")
    return np.isin(indices, rows) & (hist.pixel_index >= 0)


@dataclass(frozen=True)
class PixelSelection:
    """The pixels a chart selection picks.

    Attributes
    ----------
    pixels : ndarray of bool, shape (H, W)
    entries : ndarray of bool, shape (n,), or None
        The colors picked, when the selection is of whole colors; None when
        it holds a dithered result's palette colors, whose pixels are picked
        one by one (dithering splits one color's pixels between palette colors).
    """

    pixels: np.ndarray
    entries: np.ndarray | None

    def caption(self, hist) -> str:
        """What is selected, in words: colors and pixels, or only pixels when picked one by one."""
        if self.entries is not None:
            return describe(hist, self.entries)
        return f"{describe_pixels(hist, self.pixels)}, as the dithered result draws them"


def pixels_from_event(
    event: Any,
    hist,
    labels_by_group: Mapping[str, np.ndarray],
    *,
    indices_of: Callable[[str], np.ndarray | None] | None = None,
) -> PixelSelection | None:
    """The pixels a selection event picks, through its pixel points and palette markers; None if none is picked.

    Parameters
    ----------
    event : mapping
        As for `entries_from_event`.
    hist : Histogram
        The image's.
    labels_by_group : mapping of str to ndarray
        Each method's ``palette.labels``, keyed by the label its palette
        markers were drawn under.
    indices_of : callable, optional
        ``indices_of(label)``: that result's palette index of every pixel
        (`pixels_of_palette_rows`'s `indices`) if it is dithered, else None.
        Called only for a label whose markers are picked: it may decode a PNG.

    Returns
    -------
    PixelSelection or None
        None when the event picks no pixel point and no palette marker. A
        picked palette color no pixel is drawn in selects no pixel, but is a selection.
    """
    rows = {label: picked for label in labels_by_group if (picked := palette_rows_from_event(event, label))}
    shown = {label: indices for label in rows if indices_of and (indices := indices_of(label)) is not None}
    by_color = {label: labels for label, labels in labels_by_group.items() if label not in shown}
    entries = entries_from_event(event, len(hist), labels_by_group=by_color)
    if not rows and not entries.any():
        return None
    pixels = pixel_mask(hist, entries)
    for label, indices in shown.items():
        pixels |= pixels_of_palette_rows(hist, labels_by_group[label], rows[label], indices=indices)
    return PixelSelection(pixels, None if shown else entries)


def describe_pixels(hist, pixels: np.ndarray) -> str:
    """A caption such as ``"45,678 pixels (33.8 %) selected"``, for a selection made pixel by pixel."""
    count = int(np.count_nonzero(pixels))
    share = 100 * count / hist.total if hist.total else 0.0
    return f"{count_of(count, 'pixel')} ({share:.1f} %) selected"


def pixel_mask(hist, entries: np.ndarray) -> np.ndarray:
    """Which pixels have a selected color: a boolean H×W mask.

    Transparent pixels (``pixel_index == -1``) are never selected.
    """
    entries = np.asarray(entries, dtype=bool)
    if entries.shape != (len(hist),):
        raise ValueError(f"entries must be a boolean mask of shape ({len(hist)},), not {entries.shape}")
    # The appended False is what index -1, a transparent pixel, looks up.
    return np.append(entries, False)[hist.pixel_index]


def highlight(rgb: np.ndarray, pixels: np.ndarray, *, dim: float = DEFAULT_DIM) -> np.ndarray:
    """The image with the selected pixels unchanged and the others dimmed toward gray.

    Parameters
    ----------
    rgb : ndarray of uint8, shape (H, W, 3)
        The image (original or quantized).
    pixels : ndarray of bool, shape (H, W)
        From `pixel_mask`.
    dim : float
        How much of an unselected pixel's contrast is kept, 0…1: 0 paints it
        plain middle gray, 1 keeps its full brightness. Unselected pixels
        always lose their hue, so even a selection of gray pixels stands out.

    Returns
    -------
    ndarray of uint8, shape (H, W, 3)
    """
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"rgb must be an H×W×3 uint8 image, not shape {rgb.shape} of {rgb.dtype}")
    if pixels.shape != rgb.shape[:2]:
        raise ValueError(f"pixels must have the image's shape {rgb.shape[:2]}, not {pixels.shape}")
    if not 0 <= dim <= 1:
        raise ValueError(f"dim must lie in [0, 1], not {dim!r}")
    gray = rgb @ np.array([0.299, 0.587, 0.114])
    faded = 128 + dim * (gray[..., None] - 128)
    return np.where(pixels[..., None], rgb, np.rint(faded).astype(np.uint8))


def describe(hist, entries: np.ndarray) -> str:
    """A caption such as ``"1,234 colors, 45,678 pixels (33.8 %) selected"``."""
    entries = np.asarray(entries, dtype=bool)
    pixels = int(hist.counts[entries].sum())
    share = 100 * pixels / hist.total if hist.total else 0.0
    return f"{count_of(int(entries.sum()), 'color')}, {count_of(pixels, 'pixel')} ({share:.1f} %) selected"


def _check_count(n_entries: int) -> int:
    if not is_integer(n_entries) or n_entries < 0:
        raise ValueError(f"n_entries must be a non-negative integer (len(hist)), not {n_entries!r}")
    return int(n_entries)


def _points(event: Any) -> list[Mapping]:
    if not event:
        return []
    selection = event.get("selection", event)
    return list(selection.get("points") or [])


def _first_customdata(point: Mapping) -> int | None:
    """``customdata[0]`` of one selected point, in any of the forms it arrives in.

    plotly.py sends numeric arrays as typed arrays, and a row of a typed
    array reaches Python as ``{"0": 2, "1": 200, ...}``, not as a list.
    """
    data = point.get("customdata")
    if isinstance(data, Mapping):
        data = data.get("0", data.get(0))
    elif isinstance(data, (list, tuple)):
        data = data[0] if data else None
    if data is None:
        return None
    try:
        return int(data)
    except (TypeError, ValueError):
        return None

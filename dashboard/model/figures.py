"""Figure builders for the page's views: pure functions that return plotly figures.

Nothing here draws a widget; each builder takes engine objects and returns a
``plotly.graph_objects.Figure`` that ``st.plotly_chart`` shows. The views in
`dashboard.views` call them, for example::

    sample = embed.sample_pixels(hist, figures.DEFAULT_POINTS, seed=seed)
    event = st.plotly_chart(figures.projections_figure(hist, sample, palettes=page.palettes),
                            key="projections", on_select="rerun", selection_mode=("box", "lasso"))

Every point of a pixel trace carries ``customdata[0]`` = its histogram entry
and belongs to legend group `PIXEL_GROUP`; palette markers carry
``customdata[0]`` = their palette index and belong to ``palette_group(label)``.
`dashboard.model.selection` defines both and reads them back from a Streamlit
selection event.

Metrics are labelled, rounded and titled as `dashboard.model.metric_display`
says, as on the result cards.

Figures set ``uirevision``, so zoom and pan survive reruns while the value
stays the same; pass a new value (say, the image's name) to reset them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from quant.embed import Embedding, PixelSample
from quant.export import hex_colors
from quant.histogram import Histogram
from quant.palette import DOUBLING_KS, Palette

from .metric_display import COLUMN_BY_KEY, Column, sweep_values
from .selection import PIXEL_GROUP, palette_group

#: Points drawn in the color-space views by default: WebGL draws them at
#: once, and the page stays light to send.
DEFAULT_POINTS = 10_000
#: The three projections of the study, as (x channel, y channel).
PROJECTIONS = ((0, 1), (1, 2), (0, 2))
CHANNELS = ("Red", "Green", "Blue")
#: Middle gray, on which both dark and light colors stand out.
BACKGROUND = "#808080"
COLOR_BY = ("palette", "cluster")
DRAG_MODES = ("select", "lasso", "zoom", "pan")
#: Bars of the compare view's metric chart: clustering methods in the theme's primary, baselines quiet gray.
CLUSTERING_COLOR, BASELINE_COLOR = "#7c3aed", "#a8a3b8"

_PALETTE_SYMBOLS = ("circle", "diamond", "square", "cross", "x", "triangle-up", "star", "pentagon")
_PALETTE_SYMBOLS_3D = ("circle", "diamond", "square", "cross", "x", "circle-open", "diamond-open")
#: Each method's sweep keeps one color on every panel; the reference's curves are dashed gray.
_SWEEP_COLORS = qualitative.Plotly
REFERENCE_COLOR = "#6b7280"
_CLUSTER_COLORS = qualitative.Alphabet + qualitative.Dark24 + qualitative.Light24
_PIXEL_HOVER = (
    "rgb(%{customdata[1]}, %{customdata[2]}, %{customdata[3]})<br>"
    "#%{customdata[1]:02x}%{customdata[2]:02x}%{customdata[3]:02x}<br>"
    "%{customdata[4]:,} pixels<extra></extra>"
)


# --- color space -------------------------------------------------------------------------------


def projections_figure(
    hist: Histogram,
    sample: PixelSample,
    *,
    palettes: Mapping[str, Palette] | None = None,
    pixel_counts: Mapping[str, np.ndarray] | None = None,
    uirevision: str = "projections",
    dragmode: str = "select",
) -> go.Figure:
    """The three 2D projections of RGB space, R–G, G–B and R–B, side by side.

    Parameters
    ----------
    hist : Histogram
        The image's histogram.
    sample : PixelSample
        The pixels to draw, from `quant.embed.sample_pixels(hist, ...)`; each
        is drawn in its own color.
    palettes : mapping of str to Palette, optional
        Palettes to overlay as large outlined markers, keyed by the method's
        display label. Their ``labels`` must index `hist`.
    pixel_counts : mapping of str to ndarray, optional
        The pixels each palette color draws, by the same labels, which a
        marker's hover tells: a dithered result's, counted in its image, are
        not its labels' (the undithered assignment), the default.
    uirevision : str
        Zoom survives reruns while this stays the same.
    dragmode : {'select', 'lasso', 'zoom', 'pan'}
        What dragging does at first: box selection by default.

    Returns
    -------
    plotly.graph_objects.Figure
        One WebGL pixel trace per projection, then one palette trace per
        method per projection.
    """
    _check_sample(hist, sample)
    palettes = _check_palettes(hist, palettes)
    palette_data = _palette_customdata(hist, palettes, pixel_counts)
    titles = [f"{CHANNELS[x]}–{CHANNELS[y]}" for x, y in PROJECTIONS]
    fig = _unvalidated(make_subplots(rows=1, cols=3, subplot_titles=titles, horizontal_spacing=0.12))
    colors = hist.colors[sample.entries]
    pixel_data = _pixel_customdata(hist, sample.entries)
    point_colors = _hex_of_entries(hist, sample.entries)
    for col, (x, y) in enumerate(PROJECTIONS, start=1):
        fig.add_trace(
            go.Scattergl(
                x=colors[:, x],
                y=colors[:, y],
                mode="markers",
                name="pixels",
                legendgroup=PIXEL_GROUP,
                showlegend=col == 1,
                marker=go.scattergl.Marker(color=point_colors, size=4, opacity=0.6, **_TRUSTED),
                customdata=pixel_data,
                hovertemplate=_PIXEL_HOVER,
                **_TRUSTED,
            ),
            row=1,
            col=col,
        )
        for order, (label, palette) in enumerate(palettes.items()):
            fig.add_trace(
                _palette_trace_2d(label, palette, palette_data[label], x, y, order, showlegend=col == 1),
                row=1,
                col=col,
            )
        fig.update_xaxes(title_text=CHANNELS[x], range=[-8, 263], row=1, col=col)
        fig.update_yaxes(title_text=CHANNELS[y], range=[-8, 263], row=1, col=col)
    _finish(fig, "Pixels in RGB space: three projections", uirevision, dragmode)
    # The legend goes below, so the three squares get the page's whole width.
    fig.update_layout(
        height=460,
        plot_bgcolor=BACKGROUND,
        margin_b=90,
        legend=dict(orientation="h", yanchor="top", y=-0.22, xanchor="left", x=0),
    )
    return fig


def rgb_cube_figure(
    hist: Histogram,
    sample: PixelSample,
    *,
    palettes: Mapping[str, Palette] | None = None,
    pixel_counts: Mapping[str, np.ndarray] | None = None,
    uirevision: str = "rgb-cube",
) -> go.Figure:
    """The sampled pixels as a 3D scatter in the RGB cube, each in its own color.

    Parameters are those of `projections_figure`. The first trace is the
    pixels, then one palette trace per method. Dragging orbits the cube;
    plotly has no box or lasso selection in 3D, so linked selection goes
    through the projections and the cluster maps.
    """
    _check_sample(hist, sample)
    palettes = _check_palettes(hist, palettes)
    palette_data = _palette_customdata(hist, palettes, pixel_counts)
    colors = hist.colors[sample.entries]
    fig = _unvalidated(go.Figure())
    fig.add_trace(
        go.Scatter3d(
            x=colors[:, 0],
            y=colors[:, 1],
            z=colors[:, 2],
            mode="markers",
            name="pixels",
            legendgroup=PIXEL_GROUP,
            marker=go.scatter3d.Marker(color=_hex_of_entries(hist, sample.entries), size=2, opacity=0.8, **_TRUSTED),
            customdata=_pixel_customdata(hist, sample.entries),
            hovertemplate=_PIXEL_HOVER,
            **_TRUSTED,
        )
    )
    for order, (label, palette) in enumerate(palettes.items()):
        pc = palette.colors
        fig.add_trace(
            go.Scatter3d(
                x=pc[:, 0],
                y=pc[:, 1],
                z=pc[:, 2],
                mode="markers",
                name=label,
                legendgroup=palette_group(label),
                marker=dict(
                    color=hex_colors(pc),
                    size=7,
                    symbol=_PALETTE_SYMBOLS_3D[order % len(_PALETTE_SYMBOLS_3D)],
                    line=dict(color="black", width=2),
                ),
                customdata=palette_data[label],
                hovertemplate=_palette_hover(label),
            )
        )
    # A scene's panes are painted only with showbackground: without it the pale pixels sat on white.
    axis = dict(range=[0, 255], backgroundcolor=BACKGROUND, showbackground=True, gridcolor="#a0a0a0")
    fig.update_layout(
        scene=dict(
            xaxis=dict(title=dict(text="Red"), **axis),
            yaxis=dict(title=dict(text="Green"), **axis),
            zaxis=dict(title=dict(text="Blue"), **axis),
            aspectmode="cube",
        ),
        height=560,
    )
    _finish(fig, "Pixels in the RGB cube", uirevision, "orbit")
    # A 3D scene keeps its camera under its own uirevision.
    fig.update_layout(scene_uirevision=uirevision)
    return fig


# --- cluster maps ------------------------------------------------------------------------------


def cluster_map_figure(
    embedding: Embedding,
    hist: Histogram,
    palettes: Mapping[str, Palette],
    *,
    color_by: str = "palette",
    uirevision: str = "cluster-map",
    dragmode: str = "select",
) -> go.Figure:
    """One map of the shared embedding per method, each point colored by its cluster.

    Parameters
    ----------
    embedding : Embedding
        From `quant.embed.embed(hist, ...)`: one per image, shared by all methods.
    hist : Histogram
        The histogram the embedding's sample was drawn from.
    palettes : mapping of str to Palette
        One map per entry, keyed by the method's display label, in order.
    color_by : {'palette', 'cluster'}
        ``'palette'`` paints each point in its cluster's palette color;
        ``'cluster'`` in a distinct color per cluster id. Palettes are sorted
        by RGB code, so equal ids of two methods are usually similar colors.
    uirevision, dragmode
        As in `projections_figure`.

    Returns
    -------
    plotly.graph_objects.Figure
        One WebGL trace per method, at most three maps per row; the maps
        zoom and pan together.
    """
    if color_by not in COLOR_BY:
        raise ValueError(f"color_by must be one of: {', '.join(COLOR_BY)}, not {color_by!r}")
    _check_sample(hist, embedding.sample)
    palettes = _check_palettes(hist, palettes)
    if not palettes:
        raise ValueError("cluster_map_figure needs at least one palette to color by")
    columns = min(3, len(palettes))
    rows = -(-len(palettes) // columns)
    fig = _unvalidated(
        make_subplots(
            rows=rows,
            cols=columns,
            subplot_titles=list(palettes),
            horizontal_spacing=0.08,
            vertical_spacing=0.12 if rows > 1 else 0.0,
        )
    )
    entries = embedding.sample.entries
    axis_name = "UMAP" if embedding.method == "umap" else "PC"
    for number, (label, palette) in enumerate(palettes.items()):
        row, col = divmod(number, columns)
        clusters = palette.labels[entries]
        if color_by == "palette":
            colors = np.asarray(hex_colors(palette.colors), dtype=object)[clusters]
        else:
            colors = np.asarray(_CLUSTER_COLORS, dtype=object)[clusters % len(_CLUSTER_COLORS)]
        fig.add_trace(
            go.Scattergl(
                x=embedding.points[:, 0],
                y=embedding.points[:, 1],
                mode="markers",
                name=label,
                legendgroup=PIXEL_GROUP,
                showlegend=False,
                marker=go.scattergl.Marker(color=colors, size=4, opacity=0.7, **_TRUSTED),
                customdata=np.column_stack([_pixel_customdata(hist, entries), clusters]),
                hovertemplate=_PIXEL_HOVER.replace("<extra>", "<br>cluster %{customdata[5]}<extra>"),
                **_TRUSTED,
            ),
            row=row + 1,
            col=col + 1,
        )
        fig.update_xaxes(title_text=f"{axis_name} 1", showticklabels=False, row=row + 1, col=col + 1)
        fig.update_yaxes(title_text=f"{axis_name} 2", showticklabels=False, row=row + 1, col=col + 1)
    fig.update_xaxes(matches="x")
    fig.update_yaxes(matches="y")
    title = f"Cluster maps: {'UMAP' if embedding.method == 'umap' else 'PCA'} of {len(entries):,} pixels"
    _finish(fig, title, uirevision, dragmode)
    fig.update_layout(height=380 * rows, showlegend=False, plot_bgcolor=BACKGROUND)
    return fig


# --- quality versus k --------------------------------------------------------------------------

#: The panels of `quality_figure`, as `COLUMNS` show them, two to a row: the blurred ΔE2000 is the
#: one that sees dithering as a viewer does (SSIM and per-pixel ΔE2000 punish its grain).
QUALITY_PANELS = tuple(COLUMN_BY_KEY[key] for key in ("ssim", "psnr", "delta_e", "blurred_delta_e", "png_kb"))
_PANEL_COLUMNS = 2
_PANEL_ROWS = (len(QUALITY_PANELS) + _PANEL_COLUMNS - 1) // _PANEL_COLUMNS


def _panel_cell(number: int) -> dict[str, int]:
    """Where `QUALITY_PANELS[number]` sits in `quality_figure`'s grid, as plotly's ``row=…, col=…``."""
    return dict(row=number // _PANEL_COLUMNS + 1, col=number % _PANEL_COLUMNS + 1)


_SSIM, _PNG = COLUMN_BY_KEY["ssim"], COLUMN_BY_KEY["png_kb"]


def quality_figure(
    sweeps: Mapping[str, Sequence],
    *,
    knees: Mapping[str, int | None] | None = None,
    reference: str | None = None,
    uirevision: str = "quality",
) -> go.Figure:
    """SSIM, PSNR, ΔE2000, blurred ΔE2000 and PNG8 size against k, on a log-2 axis, one curve per method.

    Parameters
    ----------
    sweeps : mapping of str to sequence of sweep rows
        Each method's sweep in increasing k, keyed by its display label, in
        legend order: `dashboard.model.sweeps.SweepPoint` (the page's), or
        `quant.sweep.SweepRow` (no blurred ΔE: that panel stays empty). A
        sweep of one row (the custom palette's, whose k is its size) is drawn
        as a single, larger marker.
    knees : mapping of str to int or None, optional
        The k to mark on each method's curves, from `quant.sweep.knee_of`: a
        star, in the method's color, on each of its curves.
    reference : str, optional
        The label of the reference method (libimagequant): its curves are
        dashed and gray, behind the others.
    uirevision : str
        Zoom survives reruns while this stays the same.

    Returns
    -------
    plotly.graph_objects.Figure
        One panel per `QUALITY_PANELS`; per method a curve on each (one legend
        entry, which toggles them all), then its knee's stars when it has a knee.

    Notes
    -----
    Once a palette keeps every color of the image, PSNR is infinite; plotly
    sends infinity as null, so the PSNR curve simply stops there.
    """
    sweeps = _check_sweeps(sweeps)
    knees = dict(knees or {})
    fig = make_subplots(
        rows=_PANEL_ROWS,
        cols=_PANEL_COLUMNS,
        subplot_titles=[column.panel_title for column in QUALITY_PANELS],
        horizontal_spacing=0.1,
        # Room between rows for a panel's tick labels, its "k (colors)" and the two-line title below it.
        vertical_spacing=0.125,
    )
    for order, (label, rows) in enumerate(sweeps.items()):
        ks, values = [row.k for row in rows], [sweep_values(row) for row in rows]
        line = _sweep_line(order, label == reference)
        for number, column in enumerate(QUALITY_PANELS):
            fig.add_trace(
                go.Scatter(
                    x=ks,
                    y=[v[column.key] for v in values],
                    **_sweep_marks(rows),
                    name=_legend_name(label, reference),
                    showlegend=number == 0,
                    legendgroup=label,
                    customdata=ks,
                    line=line,
                    hovertemplate=f"k = %{{x}}<br>{column.hover()}<extra>{label}</extra>",
                ),
                **_panel_cell(number),
            )
        if (knee := knees.get(label)) is not None:
            _mark_knee(fig, label, rows, knee, line["color"], order)
    for number, column in enumerate(QUALITY_PANELS):
        fig.update_xaxes(_log2_axis(), title_text="k (colors)", **_panel_cell(number))
        fig.update_yaxes(title_text=column.short_title, **_panel_cell(number))
    # The methods are in the legend: a title that listed them too was cut off on a phone.
    _finish(fig, "Quality versus k", uirevision, "zoom")
    fig.update_layout(
        height=360 * _PANEL_ROWS, legend=dict(orientation="h", yanchor="top", y=-0.06, xanchor="left", x=0)
    )
    fig.update_layout(margin_b=90, margin_t=100)  # room for the first row's two-line panel titles
    return fig


def best_quality_per_byte(sweeps: Mapping[str, Sequence]) -> str | None:
    """The method whose curve gives the best quality per byte: the highest mean SSIM over the sizes all reach.

    Each curve's SSIM is read as a function of the logarithm of the PNG
    size (linear interpolation between its k), and averaged over the size
    range every curve covers: the curve above the others there has the
    largest area under it, so at a typical size it is the sharper image.
    A method ahead at every size wins whatever the range. A sweep of one
    row (the custom palette's single point) has no curve and is left out.

    Parameters
    ----------
    sweeps : mapping of str to sequence of SweepRow
        As for `quality_figure`.

    Returns
    -------
    str or None
        The winning label; None with fewer than two curves, or when their
        sizes don't overlap (then no size is fair to all of them).
    """
    sweeps = {label: rows for label, rows in _check_sweeps(sweeps).items() if len(rows) > 1}
    if len(sweeps) < 2:
        return None
    curves = {}
    for label, rows in sweeps.items():
        order = np.argsort([row.png_bytes for row in rows], kind="stable")
        curves[label] = (
            np.log([max(rows[i].png_bytes, 1) for i in order]),
            np.array([rows[i].ssim for i in order], dtype=float),
        )
    low = max(sizes[0] for sizes, _ in curves.values())
    high = min(sizes[-1] for sizes, _ in curves.values())
    if not low < high:
        return None
    grid = np.linspace(low, high, 64)
    means = {label: float(np.interp(grid, sizes, ssims).mean()) for label, (sizes, ssims) in curves.items()}
    return max(means, key=means.__getitem__)


def rate_distortion_figure(
    sweeps: Mapping[str, Sequence],
    *,
    reference: str | None = None,
    best: str | None = None,
    uirevision: str = "rate-distortion",
) -> go.Figure:
    """SSIM against PNG8 size: each method's sweep as a curve, the best quality per byte marked.

    Parameters
    ----------
    sweeps : mapping of str to sequence of SweepRow
        As for `quality_figure`.
    reference : str, optional
        The reference method's label: dashed and gray.
    best : str, optional
        The label to mark as the best quality per byte, from
        `best_quality_per_byte`: a thicker curve, named so in the legend.
    uirevision : str
        Zoom survives reruns while this stays the same.

    Returns
    -------
    plotly.graph_objects.Figure
        One trace per method, in the order of `sweeps`.
    """
    sweeps = _check_sweeps(sweeps)
    fig = go.Figure()
    for order, (label, rows) in enumerate(sweeps.items()):
        line = _sweep_line(order, label == reference)
        name = _legend_name(label, reference)
        if label == best:
            line, name = line | {"width": 4}, f"{name} ★ best quality per byte"
        fig.add_trace(
            go.Scatter(
                x=[row.png_bytes / 1000 for row in rows],
                y=[row.ssim for row in rows],
                **_sweep_marks(rows),
                line=line,
                name=name,
                customdata=[row.k for row in rows],
                hovertemplate=f"{label}, k = %{{customdata}}<br>{_PNG.hover('x')}"
                f"<br>SSIM {_SSIM.hover()}<extra></extra>",
            )
        )
    # Every tick written in full (20, 30, 50), not its mantissa alone: plotly's default over a decade or two
    # reads "7 8 9 10 2 3 4 5", the wrong sizes. Plotly places them, so they follow a zoom.
    fig.update_xaxes(type="log", minorloglabels="complete", title_text=_PNG.axis_title)
    fig.update_yaxes(title_text=_SSIM.axis_title)
    _finish(fig, "Rate–distortion: quality against size, k = 2…256", uirevision, "zoom")
    fig.update_layout(height=460, legend=dict(orientation="h", yanchor="top", y=-0.2, xanchor="left", x=0))
    fig.update_layout(margin_b=110)
    return fig


#: The shortest palette bar, as a fraction of the tallest: a color on 0.1 % of the pixels still
#: gets a bar about 15 px tall, big enough to click. Hover tells its true share.
MIN_BAR_FRACTION = 0.08


def palette_strip_figure(
    label: str,
    palette: Palette,
    pixel_counts: np.ndarray,
    *,
    uirevision: str = "palette-strip",
) -> go.Figure:
    """One bar per palette color, as tall as its share of the pixels: click a bar to pick its pixels.

    Parameters
    ----------
    label : str
        The label the method's palette goes by in ``page.palettes`` (the
        plain method label, "libimagequant", never the card title
        "libimagequant · baseline"): the bars are drawn in its palette group,
        and `dashboard.model.selection.pixels_from_event` finds the clicked
        bar's pixels under that label.
    palette : Palette
        The method's palette.
    pixel_counts : ndarray, shape (m,)
        Visible pixels per palette color.
    uirevision : str
        Zoom survives reruns while this stays the same.

    Returns
    -------
    plotly.graph_objects.Figure
        One bar trace. Bars are at least `MIN_BAR_FRACTION` of the tallest,
        so rare colors stay clickable; ``customdata`` holds each bar's
        palette index, hex code and true share, which hover shows.
    """
    pixel_counts = np.asarray(pixel_counts)
    if pixel_counts.shape != (len(palette.colors),):
        raise ValueError(
            f"pixel_counts must have one count per palette color ({len(palette.colors)}), "
            f"not shape {pixel_counts.shape}"
        )
    hexes = hex_colors(palette.colors)
    share = 100 * pixel_counts / max(int(pixel_counts.sum()), 1)
    height = np.maximum(share, MIN_BAR_FRACTION * share.max()) if len(share) else share
    fig = go.Figure(
        go.Bar(
            x=list(range(len(hexes))),
            y=height,
            name=label,
            legendgroup=palette_group(label),
            marker=dict(color=hexes, line=dict(color="black", width=0.5)),
            customdata=[[index, code, float(s)] for index, (code, s) in enumerate(zip(hexes, share, strict=True))],
            hovertemplate="%{customdata[1]}<br>%{customdata[2]:.1f} % of the pixels<extra></extra>",
        )
    )
    fig.update_xaxes(showticklabels=False)
    fig.update_yaxes(title_text="% of pixels")
    _finish(fig, f"{label}: its colors by share of the pixels (click one)", uirevision, "zoom")
    fig.update_layout(height=240, showlegend=False, bargap=0.05, margin=dict(t=50, b=10, l=50, r=10))
    return fig


# --- the compare view's metric chart ------------------------------------------------------------


def metric_figure(rows: Sequence[Mapping], column: Column) -> go.Figure:
    """A bar per method for one metric; `rows` as `metric_display.metrics_table` makes them."""
    values = [row[column.key] for row in rows]
    figure = go.Figure(
        go.Bar(
            x=[row["method"] for row in rows],
            y=values,
            text=[column.format(v) for v in values],
            marker_color=[BASELINE_COLOR if row["baseline"] else CLUSTERING_COLOR for row in rows],
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{x}: %{text}<extra></extra>",
        )
    )
    figure.update_layout(
        height=320, margin=dict(l=10, r=10, t=30, b=10), yaxis_title=column.axis_title, xaxis_title=None
    )
    return figure


# --- helpers -----------------------------------------------------------------------------------

# plotly validates every element of a per-point color array, one at a time:
# about 1 s for the three projections of 10,000 points, on every rerun. The
# per-point arrays here are built by this module from uint8 colors, so they
# skip it; plotly's `_validate` switch does that. Layout and small traces
# (palettes) are still validated.
_TRUSTED = {"_validate": False}


def _unvalidated(fig: go.Figure) -> go.Figure:
    """`fig` as a figure whose add_trace does not re-validate trusted traces."""
    return go.Figure(fig, _validate=False)


def _check_sample(hist: Histogram, sample: PixelSample) -> None:
    if len(sample) and sample.entries.max() >= len(hist):
        raise ValueError(
            "the sample was drawn from another histogram: draw it with quant.embed.sample_pixels(hist) for this image"
        )


def _check_palettes(hist: Histogram, palettes: Mapping[str, Palette] | None) -> dict[str, Palette]:
    palettes = dict(palettes or {})
    for label, palette in palettes.items():
        if len(palette.labels) != len(hist):
            raise ValueError(
                f"palette {label!r} labels {len(palette.labels)} colors, but the "
                f"histogram has {len(hist)}: quantize with hist=this histogram"
            )
    return palettes


def _hex_of_entries(hist: Histogram, entries: np.ndarray) -> np.ndarray:
    used, inverse = np.unique(entries, return_inverse=True)
    return np.asarray(hex_colors(hist.colors[used]), dtype=object)[inverse.ravel()]


def _pixel_customdata(hist: Histogram, entries: np.ndarray) -> np.ndarray:
    """Per point: histogram entry, R, G, B, pixel count — what hover and selection read.

    Kept int64: plotly sends integer arrays in the smallest type that holds them.
    """
    return np.column_stack([entries, hist.colors[entries], hist.counts[entries]]).astype(np.int64)


def _palette_customdata(
    hist: Histogram, palettes: Mapping[str, Palette], pixel_counts: Mapping[str, np.ndarray] | None
) -> dict[str, np.ndarray]:
    """By label, per palette color: its index, R, G, B, and how many pixels it draws (`pixel_counts`'s,
    else its labels')."""
    pixel_counts = pixel_counts or {}
    data = {}
    for label, palette in palettes.items():
        counts = pixel_counts.get(label)
        counts = palette.pixel_counts(hist.counts) if counts is None else np.asarray(counts)
        data[label] = np.column_stack([np.arange(len(palette.colors)), palette.colors, counts]).astype(np.int64)
    return data


def _palette_hover(label: str) -> str:
    return f"{label}, color %{{customdata[0]}}<br>" + _PIXEL_HOVER


def _palette_trace_2d(label, palette, customdata, x, y, order, *, showlegend) -> go.Scattergl:
    pc = palette.colors
    return go.Scattergl(
        x=pc[:, x],
        y=pc[:, y],
        mode="markers",
        name=label,
        legendgroup=palette_group(label),
        showlegend=showlegend,
        marker=dict(
            color=hex_colors(pc),
            size=14,
            symbol=_PALETTE_SYMBOLS[order % len(_PALETTE_SYMBOLS)],
            line=dict(color="black", width=2),
        ),
        customdata=customdata,
        hovertemplate=_palette_hover(label),
    )


def _log2_axis() -> dict:
    """A log axis ticked at the powers of two 2…256, the sweep's k."""
    return dict(type="log", tickvals=list(DOUBLING_KS), ticktext=[str(k) for k in DOUBLING_KS])


def _mark_knee(fig: go.Figure, label: str, rows: Sequence, knee_k: int, color: str, order: int) -> None:
    """A star at the knee on each of the method's curves, in its color: one legend entry.

    Each method's stars are smaller than the one's before it (`order` in the legend), and drawn over them:
    two knees at the same k show as one star inside another, where equal stars hid the first.
    """
    by_k = {row.k: row for row in rows}
    if knee_k not in by_k:
        raise ValueError(f"knee_k={knee_k} of {label} is not one of its sweep's k: {', '.join(map(str, by_k))}")
    values = sweep_values(by_k[knee_k])
    for number, column in enumerate(QUALITY_PANELS):
        fig.add_trace(
            go.Scatter(
                x=[knee_k],
                y=[values[column.key]],
                mode="markers",
                name=f"{label}: knee at k = {knee_k}",
                legendgroup=label,  # the method's legend entry toggles its stars too
                showlegend=False,
                marker=dict(symbol="star", size=max(8, 20 - 4 * order), color=color, line=dict(color="black", width=1)),
                hovertemplate=f"{label}: knee at k = %{{x}}<br>{column.hover()}<extra></extra>",
            ),
            **_panel_cell(number),
        )


def _check_sweeps(sweeps: Mapping[str, Sequence]) -> dict[str, Sequence]:
    sweeps = dict(sweeps)
    if not sweeps or not all(sweeps.values()):
        raise ValueError("a quality-versus-k figure needs at least one method with at least one sweep row")
    return sweeps


def _sweep_line(order: int, is_reference: bool) -> dict:
    """A method's curve: its own color, or dashed gray for the reference."""
    if is_reference:
        return dict(color=REFERENCE_COLOR, dash="dash", width=2)
    return dict(color=_SWEEP_COLORS[order % len(_SWEEP_COLORS)], width=2)


def _sweep_marks(rows: Sequence) -> dict:
    """A sweep's curve with a marker per k; a single point (the custom palette's one k), larger, without a line."""
    if len(rows) > 1:
        return dict(mode="lines+markers")
    return dict(mode="markers", marker=dict(size=14, symbol="diamond", line=dict(color="black", width=1)))


def _legend_name(label: str, reference: str | None) -> str:
    return f"{label} (reference)" if label == reference else label


def _finish(fig: go.Figure, title: str, uirevision: str, dragmode: str) -> None:
    if dragmode not in (*DRAG_MODES, "orbit"):
        raise ValueError(f"dragmode must be one of: {', '.join(DRAG_MODES)}, not {dragmode!r}")
    fig.update_layout(
        title=dict(text=title),
        uirevision=uirevision,
        dragmode=dragmode,
        clickmode="event+select",
        hovermode="closest",
        # No padding between the plot area and its axes: Streamlit's theme pads it by 8 px, which drew each
        # subplot's background over the lower half of its title.
        margin=dict(t=70, b=40, l=50, r=20, pad=0),
    )

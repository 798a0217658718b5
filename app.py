"""quant's dashboard: upload an image, quantize it with several methods, compare the results.

This file only draws. The work is in `quant/`, called through the cached
functions below, which are keyed on a content hash of the image plus the
parameters — never on Streamlit's own hashing of arrays, which samples big
ones. `main()` reads top to bottom like the page.

Adding a view means writing one `draw_…(page)` function and listing it in `VIEWS`.
"""

from __future__ import annotations

import functools
import hashlib
import threading
from dataclasses import dataclass
from typing import Callable

import plotly.graph_objects as go
import streamlit as st

import quant
from quant import embed, sweep
from dashboard.model import figures as views, selection
from dashboard.model.budget import Budget
from dashboard.model.outcomes import (
    COLUMN_BY_KEY, COLUMNS, Column, Outcome, card_title_html, describe_failure, download_name, escape_markdown, file_stem,
    human_size, metric_row, metrics_html, metrics_table, original_png, preview_png, run_method, swatches_html,
)
from dashboard.model.settings import K_PICKS, SEED_MAX, Settings, settings_from_query, settings_to_query

UPLOAD_TYPES = ["png", "jpg", "jpeg", "webp", "bmp", "tif", "tiff", "gif"]
CARDS_PER_ROW = 4
UPLOAD_TTL = "1h"  # cached results of an image nobody looks at any more free their memory
#: Each method runs in a worker process that is stopped past this time or memory (QUANT_METHOD_SECONDS,
#: QUANT_METHOD_MEMORY_MB): one runaway method must not stall a server other people share.
METHOD_BUDGET = Budget.from_env()
CLUSTERING_COLOR, BASELINE_COLOR = "#7c3aed", "#a8a3b8"  # the theme's primary; a quiet gray for baselines


@dataclass(frozen=True)
class Source:
    """The image on screen: `key` is its content hash (or the sample's name), `name` is for people."""

    key: str
    name: str
    image: quant.LoadedImage


@dataclass(frozen=True)
class Page:
    """What every view draws from."""

    source: Source
    settings: Settings
    hist: quant.Histogram
    outcomes: list[Outcome]
    original_png: bytes
    original_preview: bytes

    @property
    def palettes(self) -> dict[str, quant.Palette]:
        """The palettes of the methods that succeeded, by display label, in column order."""
        return {quant.METHODS[o.method].label: o.palette for o in self.outcomes if o.ok}


def main() -> None:
    st.set_page_config(page_title="quant · color quantization lab", page_icon="🎨", layout="wide")
    restore_settings_from_url()
    with st.sidebar:
        source = image_ui()
        settings = settings_ui()
    st.query_params.from_dict(settings_to_query(settings))

    st.title("quant", anchor=False)
    st.caption("Cluster an image's colors with several methods, look at the results next to the original, "
               "and judge them by SSIM, PSNR and ΔE2000.")
    show_url_notices(settings)
    view = view_switcher()
    hist = cached_histogram(source.key, source.image)
    page = Page(source, settings, hist, compute(source, hist, settings), *cached_original(source.key, source.image))
    VIEWS[view].draw(page)
    warm_up_umap_in_background()


# --- cached compute: keyed on content hashes, big objects passed unhashed ----------------------


@st.cache_resource(max_entries=1, show_spinner="Loading the sample image…")
def cached_sample(name: str) -> quant.LoadedImage:
    return quant.sample_image(name)


@st.cache_resource(max_entries=4, ttl=UPLOAD_TTL, show_spinner="Reading the image…")
def cached_decode(digest: str, _data: bytes) -> quant.LoadedImage | quant.ImageError:
    """The decoded upload, or the loader's refusal: a bad file is judged once, not on every rerun."""
    try:
        return quant.load_image(_data)
    except quant.ImageError as refusal:
        return refusal


@st.cache_resource(max_entries=4, ttl=UPLOAD_TTL, show_spinner="Counting colors…")
def cached_histogram(image_key: str, _image: quant.LoadedImage) -> quant.Histogram:
    return quant.build_histogram(_image)


@st.cache_data(max_entries=4, ttl=UPLOAD_TTL, show_spinner="Saving the original as PNG to compare sizes…")
def cached_original(image_key: str, _image: quant.LoadedImage) -> tuple[bytes, bytes]:
    """The original as an optimized PNG (what sizes are compared to) and its preview."""
    encoded = original_png(_image)
    return encoded, preview_png(encoded)


class FailedOutcome(Exception):
    """Carries a failed outcome out of the cached function, so the failure is not cached."""

    def __init__(self, outcome: Outcome):
        super().__init__(outcome.error)
        self.outcome = outcome


@st.cache_data(max_entries=32, ttl=UPLOAD_TTL, show_spinner=False)
def cached_outcome(image_key: str, method: str, k: int, space: str, seed: int,
                   _image: quant.LoadedImage, _hist: quant.Histogram) -> Outcome:
    outcome = run_method(_image, _hist, k, method, space=space, seed=seed, budget=METHOD_BUDGET)
    if not outcome.ok:
        raise FailedOutcome(outcome)  # a time-out on a busy server deserves another try next run
    return outcome


def outcome_of(source: Source, hist: quant.Histogram, method: str, settings: Settings) -> Outcome:
    try:
        return cached_outcome(source.key, method, settings.k, settings.space, settings.seed, source.image, hist)
    except FailedOutcome as failure:
        return failure.outcome


def compute(source: Source, hist: quant.Histogram, settings: Settings) -> list[Outcome]:
    """Every selected method's outcome, with a progress bar while any of them runs."""
    progress = st.empty()
    outcomes = []
    for done, method in enumerate(settings.methods):
        progress.progress(done / len(settings.methods),
                          text=f"Quantizing with {method_label(method)} ({done + 1} of {len(settings.methods)})…")
        outcomes.append(outcome_of(source, hist, method, settings))
    progress.empty()
    return outcomes


@st.cache_resource(max_entries=8, ttl=UPLOAD_TTL, show_spinner=False)
def cached_embedding(image_key: str, method: str, seed: int, _hist: quant.Histogram) -> embed.Embedding:
    return embed.embed(_hist, method=method, seed=seed)


# Only a sweep being computed needs one (its rows are cached on their own); each holds about 100
# bytes per distinct color, and keeps its image and histogram alive. Two: two sessions sweeping
# at once don't evict each other's at every k.
@st.cache_resource(max_entries=2, ttl=UPLOAD_TTL, show_spinner=False)
def cached_preparation(image_key: str, method: str, space: str,
                       _image: quant.LoadedImage, _hist: quant.Histogram) -> quant.Prepared:
    """A method's k-independent work on one image, shared by every k of its sweep."""
    return quant.prepare(_image, _hist, method, space=space)


@st.cache_data(max_entries=128, ttl=UPLOAD_TTL, show_spinner=False)
def cached_sweep_row(image_key: str, method: str, k: int, space: str, seed: int,
                     _image: quant.LoadedImage, _hist: quant.Histogram) -> sweep.SweepRow:
    prepared = cached_preparation(image_key, method, space, _image, _hist)
    return sweep.sweep(_image, method, ks=[k], space=space, seed=seed, hist=_hist, prepared=prepared)[0]


@st.cache_resource(show_spinner=False)
def warm_up_umap_in_background() -> None:
    """Compile UMAP once per server process, after the first results, so a first map needn't wait."""
    threading.Thread(target=embed.warm_up, name="umap-warm-up", daemon=True).start()


# --- sidebar: the image and the settings ----------------------------------------------------


def image_ui() -> Source:
    """The uploader; returns the image to show, keeping the last good one when an upload is refused."""
    st.header("Image", anchor=False)
    upload = st.file_uploader(
        "Upload an image", type=UPLOAD_TYPES, key="upload",
        help="PNG, JPEG, WebP, BMP, TIFF or GIF, up to "
             f"{quant.DEFAULT_MAX_PIXELS / 1e6:g} megapixels. Without one, the page shows a sample.",
    )
    if upload is None:
        source = sample_source()
    else:
        data = upload.getvalue()
        digest = hashlib.sha256(data).hexdigest()
        decoded = cached_decode(digest, data)
        if isinstance(decoded, quant.ImageError):
            st.error(f"This file can't be used: {escape_markdown(str(decoded))}. "
                     "The previous image is still shown.", icon=":material/broken_image:")
            return st.session_state.get("last_upload") or sample_source()
        source = Source(f"sha256:{digest}", upload.name, decoded)
        # Only uploads are remembered: replacing a file reruns once with no file at all, and that
        # passing sample must not displace the upload a refused file falls back to.
        st.session_state.last_upload = source
    for notice in source.image.notices:
        st.info(escape_markdown(notice), icon=":material/info:")
    return source


def sample_source() -> Source:
    name = quant.DEFAULT_SAMPLE
    return Source(f"sample:{name}", quant.SAMPLES[name], cached_sample(name))


def settings_ui() -> Settings:
    st.header("Quantization", anchor=False)
    methods = st.multiselect(
        "Methods", list(quant.METHODS), key="methods", format_func=method_label,
        help="The study compares k-means, a Gaussian mixture and agglomerative clustering; "
             "the classical quantizers are there as baselines.",
    )
    k = st.number_input("Colors (k)", min_value=quant.K_MIN, max_value=quant.K_MAX, step=1, key="k",
                        help="How many colors the palette may have.")
    # The picks show k as it is now. Deriving them here, rather than syncing both ways in callbacks,
    # means a stale number sent by a rerun that a click interrupted can't overwrite the pick.
    st.session_state.k_pick = k if k in K_PICKS else None
    st.pills("Quick picks", K_PICKS, key="k_pick", on_change=apply_k_pick, label_visibility="collapsed")
    space = st.segmented_control(
        "Color space", list(quant.SPACES), key="space", required=True, format_func=space_label,
        help=" · ".join(map(str, quant.SPACES.values())) + ". Baselines always work in RGB.",
    )
    seed = st.number_input("Seed", min_value=0, max_value=SEED_MAX, step=1, key="seed",
                           help="The same seed gives the same palette.")
    st.caption("Change one setting and only what depends on it is computed again.")
    return Settings(tuple(methods), int(k), space, int(seed), st.session_state.view)


def apply_k_pick() -> None:
    if st.session_state.k_pick is not None:  # clicking the selected pick unselects it: k stays
        st.session_state.k = st.session_state.k_pick


def method_label(name: str) -> str:
    method = quant.METHODS[name]
    return f"{method.label} · baseline" if method.family == "baseline" else method.label


def space_label(name: str) -> str:
    return quant.SPACES[name].label


# --- the shareable link ----------------------------------------------------------------------


def restore_settings_from_url() -> None:
    """On a session's first run, seed the widgets from the URL; later runs own the URL."""
    if "url_settings" in st.session_state:
        return
    query = {key: st.query_params.get_all(key) for key in st.query_params}
    settings, notices = settings_from_query(query, views=list(VIEWS))
    st.session_state.update(
        methods=list(settings.methods), k=settings.k, space=settings.space, seed=settings.seed,
        view=settings.view, url_settings=settings, url_notices=notices,
    )


def show_url_notices(settings: Settings) -> None:
    """Say which link values were replaced, until the user changes a setting."""
    if st.session_state.url_notices and settings == st.session_state.url_settings:
        lines = "\n".join(f"- {escape_markdown(notice)}" for notice in st.session_state.url_notices)
        st.warning(f"Some settings in the link could not be used, so defaults stand in:\n{lines}",
                   icon=":material/link_off:")


# --- views -----------------------------------------------------------------------------------


def shows_errors(draw: Callable[[Page], None]) -> Callable[[Page], None]:
    """A part of the page that breaks shows an error in its place: the rest of the page stays."""

    @functools.wraps(draw)
    def guarded(page: Page) -> None:
        try:
            draw(page)
        except Exception as exc:  # noqa: BLE001 — the boundary that keeps tracebacks off the page
            st.error(f"This part of the page failed: {escape_markdown(describe_failure(exc))}",
                     icon=":material/error:")

    return guarded


def view_switcher() -> str:
    return st.segmented_control("View", list(VIEWS), key="view", required=True,
                                format_func=lambda name: VIEWS[name].label, label_visibility="collapsed")


@shows_errors
def draw_compare(page: Page) -> None:
    """The original and every method side by side, then the metrics, then one image at full size."""
    if not page.settings.methods:
        st.info("Pick at least one method in the sidebar.", icon=":material/arrow_back:")
    draw_cards(page)
    if any(outcome.ok for outcome in page.outcomes):
        st.subheader("Quality across methods", anchor=False)
        metrics_chart(page)
        full_size_view(page)


def draw_cards(page: Page) -> None:
    cards = [functools.partial(original_card, page)]
    cards += [functools.partial(result_card, page, outcome) for outcome in page.outcomes]
    for start in range(0, len(cards), CARDS_PER_ROW):
        for column, draw in zip(st.columns(CARDS_PER_ROW), cards[start:start + CARDS_PER_ROW]):
            with column, st.container(border=True):
                draw()


def original_card(page: Page) -> None:
    image = page.source.image
    st.markdown(card_title_html("Original"), unsafe_allow_html=True)
    st.image(page.original_preview, width="stretch", output_format="PNG")  # "auto" sends opaque PNGs as JPEG
    st.caption(escape_markdown(page.source.name))
    st.caption(f"{image.width} × {image.height} px · {len(page.hist):,} colors · "
               f"PNG {human_size(len(page.original_png))}")


def result_card(page: Page, outcome: Outcome) -> None:
    method = quant.METHODS[outcome.method]
    st.markdown(card_title_html(method_label(outcome.method)), unsafe_allow_html=True, help=method.description)
    if not outcome.ok:
        st.error(f"This method failed: {escape_markdown(outcome.error)}", icon=":material/error:")
        return
    st.image(outcome.preview, width="stretch", output_format="PNG")  # a wide preview is RGB: no JPEG
    st.html(swatches_html(outcome.colors, outcome.pixel_counts))
    with st.expander("Hex codes"):
        st.code(" ".join(quant.hex_colors(outcome.colors)), language=None, wrap_lines=True)
    st.html(metrics_html(metric_row(outcome, len(page.original_png))))
    for notice in outcome.notices:
        st.caption(escape_markdown(notice))
    download_buttons(page, outcome)


def download_buttons(page: Page, outcome: Outcome) -> None:
    # File names come from the sanitized upload name: never the raw one.
    stem = file_stem(page.source.name) if page.source.key.startswith("sha256:") else quant.DEFAULT_SAMPLE
    k, method = page.settings.k, outcome.method
    downloads = [
        ("PNG8", outcome.png, "png", "image/png", "The quantized image as a palette PNG"),
        (".gpl", quant.palette_gpl(outcome.colors, f"{stem} k={k} {method}"), "gpl", "text/plain",
         "The palette for GIMP, Inkscape or Krita"),
        ("JSON", quant.palette_json(outcome.colors, outcome.pixel_counts), "json", "application/json",
         "The palette: hex, RGB and pixel count per color"),
    ]
    with st.container(horizontal=True, gap="small"):
        for label, data, extension, mime, help_text in downloads:
            st.download_button(label, data, download_name(stem, k, method, extension), mime,
                               key=f"{extension}-{method}", on_click="ignore", help=help_text)


@st.fragment
@shows_errors
def metrics_chart(page: Page) -> None:
    """A bar per method for the chosen metric, and the whole table; switching metric reruns only this."""
    chosen = st.segmented_control("Metric", [c.key for c in COLUMNS], default="ssim", required=True,
                                  key="chart_metric", format_func=lambda key: COLUMN_BY_KEY[key].label,
                                  label_visibility="collapsed")
    rows = metrics_table(page.outcomes, len(page.original_png))
    column = COLUMN_BY_KEY[chosen]
    st.plotly_chart(metric_figure(rows, column), key="metric_chart", config={"displayModeBar": False})
    st.dataframe(
        rows, hide_index=True,
        column_config={"method": "Method", "baseline": st.column_config.CheckboxColumn("Baseline"),
                       "colors": st.column_config.NumberColumn("Colors")}
        | {c.key: st.column_config.NumberColumn(c.label, format=f"%.{c.digits}f{c.unit.replace('%', '%%')}")
           for c in COLUMNS},
    )


def metric_figure(rows: list[dict], column: Column) -> go.Figure:
    values = [row[column.key] for row in rows]
    figure = go.Figure(go.Bar(
        x=[row["method"] for row in rows], y=values, text=[column.format(v) for v in values],
        marker_color=[BASELINE_COLOR if row["baseline"] else CLUSTERING_COLOR for row in rows],
        textposition="outside", cliponaxis=False, hovertemplate="%{x}: %{text}<extra></extra>",
    ))
    figure.update_layout(height=320, margin=dict(l=10, r=10, t=30, b=10),
                         yaxis_title=column.axis_title, xaxis_title=None)
    return figure


@st.fragment
@shows_errors
def full_size_view(page: Page) -> None:
    """Flip between the original and any result at full size; switching reruns only this."""
    st.subheader("Full size", anchor=False)
    shown = ["original"] + [o.method for o in page.outcomes if o.ok]
    choice = st.segmented_control(
        "Show", shown, default=shown[min(1, len(shown) - 1)], required=True, key="full_size_choice",
        format_func=lambda name: "Original" if name == "original" else method_label(name),
        help="Click back and forth between the original and a result to see what changed.",
    )
    actual_pixels = st.toggle("Actual pixels", key="actual_pixels",
                              help="Show the image 1:1 instead of fitting it to the page width.")
    by_method = {o.method: o for o in page.outcomes}
    data = page.original_preview if choice == "original" else by_method[choice].preview
    st.image(data, width="content" if actual_pixels else "stretch", output_format="PNG")
    if choice != "original":
        palette_picker(page, by_method[choice])


def palette_picker(page: Page, outcome: Outcome) -> None:
    """Linked selection from a palette: click a color to see the pixels it replaces."""
    label = method_label(outcome.method)
    figure = views.palette_strip_figure(label, outcome.palette, outcome.pixel_counts,
                                        uirevision=f"{page.source.key}-{outcome.method}")
    event = st.plotly_chart(figure, key=f"palette_strip_{outcome.method}", on_select="rerun",
                            selection_mode="points", config={"displayModeBar": False})
    show_selected_pixels(page, event, hint="Click a color to see which pixels it stands for, the others dimmed.")


@st.fragment
@shows_errors
def draw_color_space(page: Page) -> None:
    """The pixels as points in RGB, each in its own color, with the palettes overlaid."""
    sample = embed.sample_pixels(page.hist, views.DEFAULT_POINTS, seed=page.settings.seed)
    palettes, revision = page.palettes, page.source.key
    event = st.plotly_chart(views.projections_figure(page.hist, sample, palettes=palettes, uirevision=revision),
                            key="projections", on_select="rerun", selection_mode=("box", "lasso"))
    st.caption(f"{sample.caption()}. Larger outlined markers are the palettes; hover a point for its color.")
    show_selected_pixels(page, event)
    st.plotly_chart(views.rgb_cube_figure(page.hist, sample, palettes=palettes, uirevision=revision),
                    key="rgb_cube")


@st.fragment
@shows_errors
def draw_cluster_maps(page: Page) -> None:
    """One 2D embedding of a pixel sample, shared by all methods, colored by each method's clusters."""
    if not page.palettes:
        st.info("Pick at least one method that succeeds to see its clusters.", icon=":material/arrow_back:")
        return
    if page.hist.total == 0:
        st.info("The image has no visible pixels to map.", icon=":material/info:")
        return
    with st.container(horizontal=True, gap="large"):
        method = st.segmented_control("Embedding", list(embed.EMBEDDINGS), default="umap", required=True,
                                      key="embedding", format_func=str.upper,
                                      help=" · ".join(embed.EMBEDDINGS.values()))
        color_by = st.segmented_control("Color points by", list(views.COLOR_BY), default="palette",
                                        required=True, key="color_by", format_func=str.capitalize)
    waiting = ("Compiling UMAP, once per server (10–30 s), then embedding the pixels…"
               if method == "umap" and not embed.is_warm() else f"Embedding the pixels with {method.upper()}…")
    with st.spinner(waiting, show_time=True):
        embedding = cached_embedding(page.source.key, method, page.settings.seed, page.hist)
    event = st.plotly_chart(views.cluster_map_figure(embedding, page.hist, page.palettes, color_by=color_by,
                                                     uirevision=page.source.key),
                            key="cluster_maps", on_select="rerun", selection_mode=("box", "lasso"))
    st.caption(f"{embedding.sample.caption()}; embedded in {embedding.seconds:.1f} s.")
    show_selected_pixels(page, event)


CHART_SELECTION_HINT = ("Drag a box or a lasso over points, or pick palette markers, to see those pixels "
                        "in the image.")


def show_selected_pixels(page: Page, event, hint: str = CHART_SELECTION_HINT) -> None:
    """Linked selection: the pixels behind the points picked in a chart, the rest dimmed."""
    labels = {label: palette.labels for label, palette in page.palettes.items()}
    entries = selection.entries_from_event(event, len(page.hist), labels_by_group=labels)
    if not entries.any():
        st.caption(hint)
        return
    pixels = selection.pixel_mask(page.hist, entries)
    st.image(selection.highlight(page.source.image.rgb, pixels), caption=selection.describe(page.hist, entries))


@shows_errors
def draw_quality_vs_k(page: Page) -> None:
    """One method at k = 2, 4, …, 256: quality and size against k, the knee, and a gallery."""
    candidates = list(page.settings.methods) or list(quant.STUDY_METHODS)
    with st.container(horizontal=True, gap="large"):
        method = st.selectbox("Method", candidates, key="sweep_method", format_func=method_label)
        threshold = st.slider("Knee: smallest SSIM gain worth a doubling of k", 0.005, 0.1,
                              sweep.DEFAULT_KNEE_THRESHOLD, 0.005, key="knee_threshold", format="%.3f")
    rows = sweep_rows(page, method)
    label = quant.METHODS[method].label
    knee = sweep.knee_of(rows, threshold=threshold)
    st.plotly_chart(views.quality_figure(rows, method_label=label, knee_k=knee, uirevision=page.source.key),
                    key="quality")
    others = {quant.METHODS[o.method].label: o.metrics for o in page.outcomes if o.ok and o.method != method}
    st.plotly_chart(views.rate_distortion_figure(rows, method_label=label, others=others,
                                                 uirevision=page.source.key), key="rate_distortion")
    st.caption(f"The knee, k = {knee}, is the smallest k after which a doubling gains less than "
               f"{threshold:.3f} SSIM." if knee else
               f"Every doubling up to k = 256 still gains {threshold:.3f} SSIM or more: no knee.")
    gallery(rows)


def sweep_rows(page: Page, method: str) -> list[sweep.SweepRow]:
    """The sweep, one cached k at a time so the progress bar moves."""
    progress = st.empty()
    rows = []
    try:
        for done, k in enumerate(sweep.SWEEP_KS):
            progress.progress(done / len(sweep.SWEEP_KS), text=f"{method_label(method)}: k = {k}…")
            rows.append(cached_sweep_row(page.source.key, method, k, page.settings.space, page.settings.seed,
                                         page.source.image, page.hist))
    finally:
        progress.empty()
    return rows


def gallery(rows: list[sweep.SweepRow]) -> None:
    st.subheader("Gallery", anchor=False)
    for start in range(0, len(rows), CARDS_PER_ROW):
        for column, row in zip(st.columns(CARDS_PER_ROW), rows[start:start + CARDS_PER_ROW]):
            column.image(row.thumbnail, caption=f"k = {row.k} · SSIM {row.ssim:.3f}", width="stretch",
                         output_format="PNG")  # JPEG would blur the palette's exact colors


@dataclass(frozen=True)
class View:
    label: str
    draw: Callable[[Page], None]


VIEWS: dict[str, View] = {
    "compare": View("Compare", draw_compare),
    "color-space": View("Color space", draw_color_space),
    "cluster-maps": View("Cluster maps", draw_cluster_maps),
    "quality-vs-k": View("Quality vs k", draw_quality_vs_k),
}


if __name__ == "__main__":
    main()

"""Compare: the original and every method side by side, then the metrics, then one image at full size."""

from __future__ import annotations

import functools

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

import quant
from dashboard.model import figures, selection
from dashboard.model.formatting import (
    SWATCH_STRIP_STYLE,
    as_sentence,
    card_title_html,
    count_of,
    download_name,
    escape_markdown,
    file_stem,
    human_size,
    method_label,
    metrics_html,
    swatch_entries,
    swatch_strip_html,
)
from dashboard.model.metric_display import COLUMN_BY_KEY, COLUMNS, metric_row, metrics_table, table_in_one_size_unit
from dashboard.model.outcomes import Done, Failed, Outcome, outcome_k

from .linked import show_selected_pixels
from .page import Page, Progress, frontend_component, keep_locked, resume, set_locked, shows_errors

#: A card's swatches, clickable to lock (`frontend/swatches.js`); registered once, when the view is imported.
SWATCH_STRIP = frontend_component("quant_swatches", "swatches")


@shows_errors
def draw(page: Page) -> None:
    if not page.settings.methods:
        st.info("Pick at least one method in the sidebar.", icon=":material/arrow_back:")
    draw_cards(page)
    if page.done:
        st.subheader("Quality across methods", anchor=False)
        metrics_chart(page)
        full_size_view(page)


def draw_cards(page: Page) -> None:
    """The original, then a card per method, each filled in as soon as its method is done.

    Until then a card shows its previous result for this image, dimmed and
    captioned as such, or just says it is computing; a new image starts
    with no previous results.
    """
    methods = page.computation.methods
    progress = Progress(page)  # above the cards: a progress bar and Stop while any method computes
    cells = card_cells(1 + len(methods))
    with cells[0]:
        original_card(page)
    # Each card has two places: its result, and a pending card drawn below it. A container drawn where
    # another was inherits the old one's children beyond its own, left on the page (faded) until the run
    # ends: a pending card drawn over the last result showed that result's metrics and downloads a
    # second time under its own. So the pending card has a place of its own, and the result's place is
    # emptied meanwhile (an empty element has no children to pass on).
    results, pending = {}, {}
    for method, cell in zip(methods, cells[1:], strict=True):
        results[method], pending[method] = cell.empty(), cell.empty()
        if not page.computation.ready(method):
            results[method].empty()
            with pending[method].container():
                pending_card(page, method)
    stopped = []
    for method, outcome in page.computation.as_completed(progress):
        if outcome is None:
            stopped.append(method)
            with pending[method].container():
                pending_card(page, method, stopped=True)
            continue
        pending[method].empty()
        with results[method].container():
            result_card(page, outcome)
    progress.clear()
    if stopped:
        with progress.status.container(horizontal=True, vertical_alignment="center"):
            st.info("Stopped: the results not computed yet are left out.", icon=":material/stop_circle:")
            st.button("Resume", key="resume", icon=":material/play_arrow:", on_click=resume)


#: The cards' grid. `st.columns` keeps 4 to a row down to a 640 px window, then stacks them one
#: to a row, so at 800 px (the sidebar open) four cards got about 110 px each and their titles,
#: values and buttons broke. The cards are instead a wrapping horizontal container, and a
#: container query sizes them by the width the grid really has: 4 to a row from 880 px, 2 from
#: 420 px, else 1. Cards in a row share the row's height, so their borders line up; every title
#: takes two lines while cards share a row (no label needs more), so their images line up too. A
#: picture is at most 480 px tall, letterboxed: a 2 × 5000 px upload drew each card 477,500 px tall.
CARD_GRID_STYLE = """<style>
.st-key-cards { container-type: inline-size; align-items: stretch; }
.st-key-cards > * { flex: 0 0 calc((100% - 3rem) / 4) !important; min-width: 0 !important; }
.st-key-cards .quant-card-title { min-height: 3.2em; }
.st-key-cards [data-testid="stImage"] img { max-height: 480px; object-fit: contain; }
@container (max-width: 880px) { .st-key-cards > * { flex-basis: calc((100% - 1rem) / 2) !important; } }
@container (max-width: 420px) {
  .st-key-cards > * { flex-basis: 100% !important; }
  .st-key-cards .quant-card-title { min-height: 0; }
}
</style>"""


def card_cells(count: int) -> list[DeltaGenerator]:
    """`count` bordered cards in a grid that reflows with the page's width (`CARD_GRID_STYLE`)."""
    st.html(CARD_GRID_STYLE)
    grid = st.container(key="cards", horizontal=True, gap="small")
    return [grid.container(border=True, key=f"card-{number}") for number in range(count)]


#: A card's previous result while its new one computes: visibly not the current one. The caption
#: that says so stays legible.
STALE_STYLE = (
    "<style>[class*='st-key-stale-'] [data-testid='stImage'], [class*='st-key-stale-'] [data-testid='stHtml'],"
    " [class*='st-key-stale-'] [data-testid='stDownloadButton'], [class*='st-key-stale-'] [data-testid='stExpander']"
    " {opacity: 0.35; filter: grayscale(0.7); pointer-events: none;}</style>"
)


def pending_card(page: Page, method: str, *, stopped: bool = False) -> None:
    """A card whose result isn't ready: its previous result for this image, dimmed, if there is one.

    Like a result card, it is a title and then one container: replacing one
    with the other replaces everything under the title, so no metric or
    download of the previous result stays on the card undimmed.
    """
    method_title(method)
    note = "Stopped." if stopped else f"Computing k = {page.settings.k}…"
    shown = st.session_state.get("shown_results", {}).get(method)
    with st.container(key=f"stale-{method}"):
        if shown is None or shown[0] != page.source.key:
            st.caption(note)
            return
        _, settings, preview, swatches, metrics = shown
        st.html(STALE_STYLE)
        st.caption(f"{note} Dimmed: the previous result ({settings}).")
        st.image(preview, width="stretch", output_format="PNG")
        st.html(swatches)
        st.html(metrics)


def remember_shown(page: Page, outcome: Done, swatches: str, metrics: str) -> None:
    """Keep what this card shows, for this image, to show dimmed while the next settings compute."""
    s = page.settings
    described = f"k = {s.k}, {s.space}, seed {s.seed}" + (f", {s.dither} {s.strength:g}" if s.dithers else "")
    st.session_state.setdefault("shown_results", {})[outcome.method] = (
        page.source.key,
        described,
        outcome.preview,
        swatches,
        metrics,
    )


def original_card(page: Page) -> None:
    image = page.source.image
    st.markdown(card_title_html("Original"), unsafe_allow_html=True)
    st.image(page.original_preview, width="stretch", output_format="PNG")  # "auto" sends opaque PNGs as JPEG
    st.caption(escape_markdown(page.source.name))
    # A number and its unit stay on one line ("PNG 642 / B" broke a narrow card's caption).
    colors = count_of(len(page.hist), "color").replace(" ", "\u00a0")
    size = f"PNG {human_size(len(page.original_png))}".replace(" ", "\u00a0")
    st.caption(f"{image.width} × {image.height} px · {colors} · {size}")


def method_title(method: str) -> None:
    """A method's card title, with its description as help: the same on its result and its pending card."""
    help_text = quant.get_method(method).description  # quant.CUSTOM too
    st.markdown(card_title_html(method_label(method)), unsafe_allow_html=True, help=help_text)


def result_card(page: Page, outcome: Outcome) -> None:
    method_title(outcome.method)
    with st.container(key=f"result-{outcome.method}"):
        if isinstance(outcome, Failed):
            st.error(f"This method failed: {escape_markdown(outcome.error)}", icon=":material/error:")
            return
        st.image(outcome.preview, width="stretch", output_format="PNG")  # a wide preview is RGB: no JPEG
        custom = outcome.method == quant.CUSTOM.name  # every color of your own palette is "locked": no ring
        swatches = swatch_entries(
            outcome.colors, outcome.pixel_counts, locked=None if custom else outcome.palette.locked
        )
        metrics = metrics_html(metric_row(outcome, len(page.original_png)))
        remember_shown(page, outcome, swatch_strip_html(swatches), metrics)
        codes = tuple(str(entry["hex"]) for entry in swatches)
        clickable_swatches(outcome.method, codes, swatches, lockable=not custom)
        if not custom:  # your own palette is all yours: nothing to lock
            lock_chooser(outcome.method, codes)
        with st.expander("Hex codes"):
            st.code(" ".join(codes), language=None, wrap_lines=True)
        st.html(metrics)
        for notice in outcome.notices:
            st.caption(escape_markdown(as_sentence(notice)))
        download_buttons(page, outcome)


def clickable_swatches(
    method: str, codes: tuple[str, ...], swatches: list[dict[str, object]], *, lockable: bool
) -> None:
    """The card's `swatches` (`swatch_entries`, of the palette's hex `codes`); with `lockable`, clicking one
    locks its color, or unlocks it (`set_locked`)."""
    key = f"swatches-{method}"
    data = {"name": key, "swatches": swatches, "strip": SWATCH_STRIP_STYLE, "lockable": lockable}
    if not lockable:  # your own palette: nothing to lock, and no callback to ask
        SWATCH_STRIP(key=key, data=data)
        return
    SWATCH_STRIP(key=key, data=data, on_lock_change=functools.partial(set_locked, key, codes))


def lock_chooser(method: str, codes: tuple[str, ...]) -> None:
    """Lock colors of this palette (its hex `codes`): every clustering method keeps them, at any k, until
    unlocked."""
    locked = [code for code in st.session_state.get("locked_colors", []) if code in codes]
    key = f"lock-{method}-{'-'.join(codes)}-{'-'.join(locked)}"  # new palette or locks: a fresh widget
    st.multiselect(
        "Lock colors",
        codes,
        default=locked,
        key=key,
        on_change=keep_locked,
        args=(key, codes),
        placeholder="Pick colors to lock",
        label_visibility="collapsed",
        help="Locked colors stay in every clustering method's palette, at any k (outlined in the swatches). "
        "Click a swatch to lock or unlock its color, or pick colors here; remove one here or in the sidebar "
        "to unlock it.",
    )


def download_buttons(page: Page, outcome: Done) -> None:
    # File names come from the sanitized upload name: never the raw one.
    stem = file_stem(page.source.name) if page.source.is_upload else quant.DEFAULT_SAMPLE
    k, method = outcome_k(page.settings, outcome.method), outcome.method
    downloads: list[tuple[str, str | bytes, str, str, str]] = [
        ("PNG8", outcome.png, "png", "image/png", "The quantized image as a palette PNG"),
        (
            ".gpl",
            quant.palette_gpl(outcome.colors, f"{stem} k={k} {method}"),
            "gpl",
            "text/plain",
            "The palette for GIMP, Inkscape or Krita",
        ),
        (
            "JSON",
            quant.palette_json(outcome.colors, outcome.pixel_counts),
            "json",
            "application/json",
            "The palette: hex, RGB and pixel count per color",
        ),
    ]
    with st.container(horizontal=True, gap="xsmall"):  # "small" (16 px) put JSON on a line of its own
        for label, data, extension, mime, help_text in downloads:
            st.download_button(
                label,
                data,
                download_name(stem, k, method, extension),
                mime,
                key=f"{extension}-{method}",
                on_click="ignore",
                help=help_text,
            )


@st.fragment
@shows_errors
def metrics_chart(page: Page) -> None:
    """A bar per method for the chosen metric, and the whole table; switching metric reruns only this."""
    chosen = st.segmented_control(
        "Metric",
        [c.key for c in COLUMNS],
        default="ssim",
        required=True,
        key="chart_metric",
        format_func=lambda key: COLUMN_BY_KEY[key].label,
        label_visibility="collapsed",
    )
    rows = metrics_table(page.outcomes, len(page.original_png))
    st.plotly_chart(
        figures.metric_figure(rows, COLUMN_BY_KEY[chosen]), key="metric_chart", config={"displayModeBar": False}
    )
    table, size_format = table_in_one_size_unit(rows)
    st.dataframe(
        table,
        hide_index=True,
        column_config={
            "method": st.column_config.TextColumn("Method"),
            "baseline": st.column_config.CheckboxColumn("Baseline"),
            "colors": st.column_config.NumberColumn("Colors"),
        }
        | {
            c.key: st.column_config.NumberColumn(c.label, format=f"%.{c.digits}f{c.unit.replace('%', '%%')}")
            for c in COLUMNS
            if c.key != "png_kb"
        }
        | {"png_size": st.column_config.NumberColumn(COLUMN_BY_KEY["png_kb"].label, format=size_format)},
    )


FULL_SIZE_FIT_STYLE = (
    "<style>.st-key-full-size-fit [data-testid='stImage'] img {max-height: 85vh; object-fit: contain;}</style>"
)


@st.fragment
@shows_errors
def full_size_view(page: Page) -> None:
    """Flip between the original and any result at full size; switching reruns only this."""
    st.subheader("Full size", anchor=False)
    by_method = {o.method: o for o in page.done}
    shown = ["original", *by_method]
    choice = st.segmented_control(
        "Show",
        shown,
        default=shown[min(1, len(shown) - 1)],
        required=True,
        key="full_size_choice",
        format_func=lambda name: "Original" if name == "original" else method_label(name),
        help="Click back and forth between the original and a result to see what changed.",
    )
    actual_pixels = st.toggle(
        "Actual pixels", key="actual_pixels", help="Show the image 1:1 instead of fitting it to the page width."
    )
    data = page.original_preview if choice == "original" else by_method[choice].preview
    if actual_pixels:
        st.image(data, width="content", output_format="PNG")
    else:  # fitted to the page's width, and to the window's height: a very tall image isn't metres long
        st.html(FULL_SIZE_FIT_STYLE)
        with st.container(key="full-size-fit"):
            st.image(data, width="stretch", output_format="PNG")
    if choice != "original":
        palette_picker(page, by_method[choice])


def palette_picker(page: Page, outcome: Done) -> None:
    """Linked selection from a palette: click a color to see the pixels it replaces."""
    label = selection.method_palette_label(outcome.method)  # what page.palettes reads the click back with
    figure = figures.palette_strip_figure(
        label, outcome.palette, outcome.pixel_counts, uirevision=f"{page.source.key}-{outcome.method}"
    )
    event = st.plotly_chart(
        figure,
        key=f"palette_strip_{outcome.method}",
        on_select="rerun",
        selection_mode="points",
        config={"displayModeBar": False},
    )
    show_selected_pixels(page, event, hint="Click a color to see which pixels it stands for, the others dimmed.")

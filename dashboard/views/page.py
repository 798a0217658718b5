"""What every view draws from (`Page`, `Source`), and the helpers the views share."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import streamlit as st

import quant
from dashboard.model import selection
from dashboard.model.formatting import escape_markdown
from dashboard.model.outcomes import Done, Outcome, describe_failure
from dashboard.model.settings import Settings

#: Cards (and gallery images) per row.
CARDS_PER_ROW = 4
CHART_SELECTION_HINT = "Drag a box or a lasso over points, or pick palette markers, to see those pixels in the image."


@dataclass(frozen=True)
class Source:
    """The image on screen: `key` is its content hash (or the sample's name), `name` is for people."""

    key: str
    name: str
    image: quant.LoadedImage

    @property
    def is_upload(self) -> bool:
        return self.key.startswith("sha256:")


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
    def done(self) -> list[Done]:
        """The outcomes of the methods that succeeded, in column order."""
        return [o for o in self.outcomes if isinstance(o, Done)]

    @property
    def palettes(self) -> dict[str, quant.Palette]:
        """The palettes of the methods that succeeded, by display label, in column order."""
        return {quant.METHODS[o.method].label: o.palette for o in self.done}


def shows_errors(draw: Callable[[Page], None]) -> Callable[[Page], None]:
    """A part of the page that breaks shows an error in its place: the rest of the page stays."""

    @functools.wraps(draw)
    def guarded(page: Page) -> None:
        try:
            draw(page)
        except Exception as exc:  # noqa: BLE001 — the boundary that keeps tracebacks off the page
            st.error(f"This part of the page failed: {escape_markdown(describe_failure(exc))}", icon=":material/error:")

    return guarded


def show_selected_pixels(page: Page, event, hint: str = CHART_SELECTION_HINT) -> None:
    """Linked selection: the pixels behind the points picked in a chart, the rest dimmed."""
    labels = {label: palette.labels for label, palette in page.palettes.items()}
    entries = selection.entries_from_event(event, len(page.hist), labels_by_group=labels)
    if not entries.any():
        st.caption(hint)
        return
    pixels = selection.pixel_mask(page.hist, entries)
    st.image(selection.highlight(page.source.image.rgb, pixels), caption=selection.describe(page.hist, entries))

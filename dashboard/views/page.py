"""What every view draws from (`Page`, `Source`), and the helpers the views share."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

import quant
from dashboard.model import selection
from dashboard.model.formatting import escape_markdown, method_label
from dashboard.model.outcomes import Done, Outcome, describe_failure
from dashboard.model.settings import Settings

if TYPE_CHECKING:
    from .cache import Computation

#: Cards (and gallery images) per row.
CARDS_PER_ROW = 4


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
    computation: Computation
    original_png: bytes
    original_preview: bytes

    @property
    def outcomes(self) -> list[Outcome]:
        """Every method's outcome, in column order, waited for (with a progress bar and Stop) if need be.

        A method the user stopped has none.
        """
        if not self.computation.pending:
            return self.computation.outcomes(on_wait=lambda pending: None)
        progress = Progress(self)
        outcomes = self.computation.outcomes(progress)
        progress.clear()
        return outcomes

    @property
    def done(self) -> list[Done]:
        """The outcomes of the methods that succeeded, in column order."""
        return [o for o in self.outcomes if isinstance(o, Done)]

    @property
    def results(self) -> dict[str, Done]:
        """The outcomes of the methods that succeeded, by their palettes' display label, in column order."""
        return {selection.method_palette_label(o.method): o for o in self.done}

    @property
    def palettes(self) -> dict[str, quant.Palette]:
        """The palettes of the methods that succeeded, by display label, in column order."""
        return {label: outcome.palette for label, outcome in self.results.items()}


def shows_errors(draw: Callable[[Page], None]) -> Callable[[Page], None]:
    """A part of the page that breaks shows an error in its place: the rest of the page stays."""

    @functools.wraps(draw)
    def guarded(page: Page) -> None:
        try:
            draw(page)
        except Exception as exc:  # noqa: BLE001 — the boundary that keeps tracebacks off the page
            st.error(f"This part of the page failed: {escape_markdown(describe_failure(exc))}", icon=":material/error:")

    return guarded


class Progress:
    """A progress bar and a Stop button while a computation waits for its workers; gone when it is done.

    Called between waits (``progress(pending methods)``), it redraws the
    bar: that Streamlit call is also where a rerun or a Stop click interrupts
    the run.
    """

    def __init__(self, page: Page):
        self.page = page
        self.status = st.empty()
        self.bar: DeltaGenerator | None = None
        self.started = time.monotonic()

    def __call__(self, pending: list[str]) -> None:
        if self.bar is None:
            st.session_state.computing = self.page.computation.key
            with self.status.container(horizontal=True, vertical_alignment="center"):
                self.bar = st.empty()
                st.button(
                    "Stop",
                    key="stop",
                    icon=":material/stop_circle:",
                    on_click=halt,
                    help="Stop computing; the results already shown stay.",
                )
        total = len(self.page.computation.methods)
        names = ", ".join(method_label(method) for method in pending)
        self.bar.progress(
            (total - len(pending)) / total,
            text=f"Computing {names} at k = {self.page.settings.k}… {time.monotonic() - self.started:.1f} s",
        )

    def clear(self) -> None:
        self.status.empty()


def halt() -> None:
    """Stop: the rerun this click starts interrupts the computation (its workers are stopped), and
    until a setting changes, runs show only what is cached."""
    st.session_state.halted = st.session_state.get("computing")


def resume() -> None:
    st.session_state.halted = None


def keep_locked(key: str, shown: tuple[str, ...]) -> None:
    """A lock chooser changed: the colors it shows are locked as chosen, the others stay as they were."""
    chosen = st.session_state[key]
    others = [code for code in st.session_state.get("locked_colors", []) if code not in shown]
    st.session_state.locked_colors = others + [code for code in chosen if code not in others]


#: The page's own browser modules (components v2: no iframe, no build step).
_FRONTEND = Path(__file__).parent / "frontend"


def frontend_component(name: str, module: str):
    """The components-v2 component `name`, from ``frontend/<module>.js`` and ``.css``; register once, at import."""
    return st.components.v2.component(
        name,
        js=(_FRONTEND / f"{module}.js").read_text(encoding="utf-8"),
        css=(_FRONTEND / f"{module}.css").read_text(encoding="utf-8"),
    )


def set_locked(key: str, shown: tuple[str, ...]) -> None:
    """A swatch was clicked (the trigger value "lock" of the strip at `key`, ``{"hex", "lock"}``): its color is
    locked or unlocked as the swatch offered, so a second click on a stale strip can't undo the first.
    Only the colors the strip shows (`shown`) are taken."""
    event = (st.session_state.get(key) or {}).get("lock")
    if not isinstance(event, dict) or event.get("hex") not in shown:
        return
    code = event["hex"]
    others = [c for c in st.session_state.get("locked_colors", []) if c != code]
    st.session_state.locked_colors = [*others, code] if event.get("lock") else others


def uploader_key(name: str) -> str:
    """A file uploader's widget key: `name`, then ``name-1``, ``name-2``… after each `clear_uploader`."""
    generation = int(st.session_state.get(f"{name}_generation", 0))
    return f"{name}-{generation}" if generation else name


def clear_uploader(name: str) -> None:
    """Empty the file uploader `name` on the next run (a file it holds was refused): a new widget key, the one
    way Streamlit lets a script clear a file uploader."""
    st.session_state[f"{name}_generation"] = int(st.session_state.get(f"{name}_generation", 0)) + 1


def view_area() -> DeltaGenerator:
    """Where the view draws. When the image changes, the previous image's results leave the page at
    once, rather than stay (dimmed, under the new name) while the new image is read and counted."""
    upload = st.session_state.get(uploader_key("upload"))
    current = upload.file_id if upload is not None else None
    changed = st.session_state.get("drawn_upload", current) != current
    st.session_state.drawn_upload = current
    # The view has two places and moves to the other one when the image changes. Replacing it where
    # it stands doesn't clear it: the browser lets a new container inherit the children of the one it
    # replaces, and Streamlit's message queue folds an st.empty() into the container that follows it.
    # The place left behind gets an empty element, which drops the old results as soon as it arrives.
    place = int(st.session_state.get("view_place", 0)) ^ changed
    st.session_state.view_place = place
    places = [st.empty(), st.empty()]
    return places[place].container()

"""Linked selection on the page: what a chart picks, shown as those pixels of the image, the rest dimmed.

The one home of the picture and its caption for every chart that picks
pixels or palette colors: Color space's and Cluster maps' points and palette
markers, and the compare view's palette strip.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from dashboard.model import selection
from dashboard.model.outcomes import Done

from .cache import result_pixels, run_of
from .page import Page

CHART_SELECTION_HINT = "Drag a box or a lasso over points, or pick palette markers, to see those pixels in the image."


def show_selected_pixels(page: Page, event, hint: str = CHART_SELECTION_HINT) -> None:
    """The pixels behind the points and palette colors picked in a chart, the rest dimmed; else `hint`.

    A dithered result's palette color picks the pixels its image draws in
    it, not those its palette's labels give (the undithered assignment).
    """
    results = page.results  # gathered once: each access asks the computation again
    labels = {label: outcome.palette.labels for label, outcome in results.items()}
    picked = selection.pixels_from_event(
        event, page.hist, labels, indices_of=lambda label: shown_indices(page, results[label])
    )
    if picked is None:
        st.caption(hint)
        return
    st.image(selection.highlight(page.source.image.rgb, picked.pixels), caption=picked.caption(page.hist))


def shown_indices(page: Page, outcome: Done) -> np.ndarray | None:
    """The palette index of every pixel of `outcome`, if it is dithered, as its PNG holds it.

    Decoded when first needed, then kept (`cache.result_pixels`). None for
    an undithered result: its palette's labels say which pixel is which color.
    """
    if not outcome.dithered:
        return None
    return result_pixels(run_of(page, outcome.method), outcome).indices()

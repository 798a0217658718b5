"""Color space: the pixels as points in RGB, each in its own color, with the palettes overlaid.

With several methods at a large k their markers bury the pixels, so the view
overlays the palettes picked above the plots (the first method's to begin
with); the legend also hides and shows each one.
"""

from __future__ import annotations

import streamlit as st

from dashboard.model import figures
from quant import embed

from .linked import show_selected_pixels
from .page import Page, shows_errors


@st.fragment
@shows_errors
def draw(page: Page) -> None:
    sample = embed.sample_pixels(page.hist, figures.DEFAULT_POINTS, seed=page.settings.seed)
    results, revision = page.results, page.source.key
    palettes = shown_palettes({label: outcome.palette for label, outcome in results.items()})
    # What each palette color draws: a dithered result's counted in its image (hover tells it).
    counts = {label: outcome.pixel_counts for label, outcome in results.items()}
    event = st.plotly_chart(
        figures.projections_figure(page.hist, sample, palettes=palettes, pixel_counts=counts, uirevision=revision),
        key="projections",
        on_select="rerun",
        selection_mode=("box", "lasso"),
    )
    st.caption(
        f"{sample.caption()}. Larger outlined markers are the palettes; click a legend entry to hide or show "
        "one; hover a point for its color."
    )
    show_selected_pixels(page, event)
    st.plotly_chart(
        figures.rgb_cube_figure(page.hist, sample, palettes=palettes, pixel_counts=counts, uirevision=revision),
        key="rgb_cube",
    )


def shown_palettes(palettes: dict) -> dict:
    """Of `palettes` (by label), those picked to overlay: one method's at first, so the pixels stay visible."""
    if len(palettes) <= 1:
        return palettes
    picked = st.pills(
        "Palettes shown",
        list(palettes),
        selection_mode="multi",
        default=list(palettes)[:1],
        key="shown_palettes",
        help="Each palette's colors as large markers over the pixels. Many at once hide the pixels.",
    )
    return {label: palettes[label] for label in picked if label in palettes}

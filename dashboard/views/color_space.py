"""Color space: the pixels as points in RGB, each in its own color, with the palettes overlaid."""

from __future__ import annotations

import streamlit as st

from dashboard.model import figures
from quant import embed

from .page import Page, show_selected_pixels, shows_errors


@st.fragment
@shows_errors
def draw(page: Page) -> None:
    sample = embed.sample_pixels(page.hist, figures.DEFAULT_POINTS, seed=page.settings.seed)
    palettes, revision = page.palettes, page.source.key
    event = st.plotly_chart(
        figures.projections_figure(page.hist, sample, palettes=palettes, uirevision=revision),
        key="projections",
        on_select="rerun",
        selection_mode=("box", "lasso"),
    )
    st.caption(f"{sample.caption()}. Larger outlined markers are the palettes; hover a point for its color.")
    show_selected_pixels(page, event)
    st.plotly_chart(figures.rgb_cube_figure(page.hist, sample, palettes=palettes, uirevision=revision), key="rgb_cube")

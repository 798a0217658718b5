"""Cluster maps: one 2D embedding of a pixel sample, shared by all methods, colored by each method's clusters."""

from __future__ import annotations

import streamlit as st

from dashboard.model import figures
from quant import embed

from .cache import cached_embedding
from .linked import show_selected_pixels
from .page import Page, shows_errors


@st.fragment
@shows_errors
def draw(page: Page) -> None:
    if not page.palettes:
        st.info("Pick at least one method that succeeds to see its clusters.", icon=":material/arrow_back:")
        return
    if page.hist.total == 0:
        st.info("The image has no visible pixels to map.", icon=":material/info:")
        return
    with st.container(horizontal=True, gap="large"):
        method = st.segmented_control(
            "Embedding",
            list(embed.EMBEDDINGS),
            default="umap",
            required=True,
            key="embedding",
            format_func=str.upper,
            help=" · ".join(embed.EMBEDDINGS.values()),
        )
        color_by = st.segmented_control(
            "Color points by",
            list(figures.COLOR_BY),
            default="palette",
            required=True,
            key="color_by",
            format_func=str.capitalize,
        )
    if method == "umap":
        # UMAP runs in its own process, so the server keeps answering while it compiles and embeds.
        # The server starts that process at start-up (dashboard.views.cache); this call is a no-op then.
        embed.start_worker()
    waiting = (
        f"Compiling UMAP, once per server start ({embed.READY_IN}), then embedding the pixels…"
        if method == "umap" and not embed.is_warm()
        else f"Embedding the pixels with {method.upper()}…"
    )
    with st.spinner(waiting, show_time=True):
        embedding = cached_embedding(page.source.key, method, page.settings.seed, page.hist)
    event = st.plotly_chart(
        figures.cluster_map_figure(embedding, page.hist, page.palettes, color_by=color_by, uirevision=page.source.key),
        key="cluster_maps",
        on_select="rerun",
        selection_mode=("box", "lasso"),
    )
    st.caption(f"{embedding.sample.caption()}; embedded in {embedding.seconds:.1f} s.")
    show_selected_pixels(page, event, hint="Drag a box or a lasso over points to see those pixels in the image.")

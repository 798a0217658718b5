"""Quality vs k: one method at k = 2, 4, …, 256: quality and size against k, the knee, and a gallery."""

from __future__ import annotations

import streamlit as st

import quant
from dashboard.model import figures
from dashboard.model.formatting import method_label
from quant import sweep

from .cache import cached_sweep_row
from .page import CARDS_PER_ROW, Page, shows_errors


@shows_errors
def draw(page: Page) -> None:
    candidates = list(page.settings.methods) or list(quant.STUDY_METHODS)
    with st.container(horizontal=True, gap="large"):
        method = st.selectbox("Method", candidates, key="sweep_method", format_func=method_label)
        threshold = st.slider(
            "Knee: smallest SSIM gain worth a doubling of k",
            0.005,
            0.1,
            sweep.DEFAULT_KNEE_THRESHOLD,
            0.005,
            key="knee_threshold",
            format="%.3f",
        )
    rows = sweep_rows(page, method)
    label = quant.METHODS[method].label
    knee = sweep.knee_of(rows, threshold=threshold)
    st.plotly_chart(
        figures.quality_figure(rows, method_label=label, knee_k=knee, uirevision=page.source.key), key="quality"
    )
    others = {quant.METHODS[o.method].label: o.metrics for o in page.done if o.method != method}
    st.plotly_chart(
        figures.rate_distortion_figure(rows, method_label=label, others=others, uirevision=page.source.key),
        key="rate_distortion",
    )
    st.caption(
        f"The knee, k = {knee}, is the smallest k after which a doubling gains less than {threshold:.3f} SSIM."
        if knee
        else f"Every doubling up to k = 256 still gains {threshold:.3f} SSIM or more: no knee."
    )
    gallery(rows)


def sweep_rows(page: Page, method: str) -> list[sweep.SweepRow]:
    """The sweep, one cached k at a time so the progress bar moves."""
    progress = st.empty()
    rows = []
    try:
        for done, k in enumerate(quant.DOUBLING_KS):
            progress.progress(done / len(quant.DOUBLING_KS), text=f"{method_label(method)}: k = {k}…")
            rows.append(
                cached_sweep_row(
                    page.source.key, method, k, page.settings.space, page.settings.seed, page.source.image, page.hist
                )
            )
    finally:
        progress.empty()
    return rows


def gallery(rows: list[sweep.SweepRow]) -> None:
    st.subheader("Gallery", anchor=False)
    for start in range(0, len(rows), CARDS_PER_ROW):
        for column, row in zip(st.columns(CARDS_PER_ROW), rows[start : start + CARDS_PER_ROW], strict=False):
            column.image(
                row.thumbnail, caption=f"k = {row.k} · SSIM {row.ssim:.3f}", width="stretch", output_format="PNG"
            )  # JPEG would blur the palette's exact colors

"""Quality vs k: the chosen methods at k = 2, 4, …, 256 on the same axes, libimagequant as a reference.

Each method's sweep is computed through the cached preparation, one k at a
time, and the figures are redrawn as each method's sweep arrives: the first
curves show while the next method computes.
"""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

import quant
from dashboard.model import figures
from dashboard.model.formatting import method_label
from quant import sweep

from .cache import cached_sweep_row
from .page import CARDS_PER_ROW, Page, shows_errors

#: Always drawn, dashed: the quantizer people compare against (pngquant's).
REFERENCE_METHOD = "libimagequant"


@shows_errors
def draw(page: Page) -> None:
    methods = swept_methods(page.settings.methods)
    st.caption(
        f"Image: {page.source.name}"
        + ("" if page.source.is_upload else " (the sample: upload an image above to sweep your own)")
        + f". Methods: those chosen in the sidebar, with {quant.METHODS[REFERENCE_METHOD].label} dashed as a reference."
    )
    threshold = st.slider(
        "Knee: smallest SSIM gain worth a doubling of k",
        0.005,
        0.1,
        sweep.DEFAULT_KNEE_THRESHOLD,
        0.005,
        key="knee_threshold",
        format="%.3f",
    )
    quality, rate_distortion, knee_note = st.empty(), st.empty(), st.empty()
    sweeps: dict[str, list[sweep.SweepRow]] = {}
    for method in methods:
        sweeps[quant.METHODS[method].label] = sweep_rows(page, method)
        draw_figures(page, sweeps, threshold, quality, rate_distortion, knee_note)
    gallery(page, methods, sweeps)


def swept_methods(chosen: Sequence[str]) -> list[str]:
    """The sidebar's methods (the study's three when none is chosen), then the reference if not among them."""
    methods = list(chosen) or list(quant.STUDY_METHODS)
    return methods if REFERENCE_METHOD in methods else [*methods, REFERENCE_METHOD]


def draw_figures(page: Page, sweeps, threshold: float, quality, rate_distortion, knee_note) -> None:
    """Both figures for the sweeps so far, into their placeholders."""
    reference = quant.METHODS[REFERENCE_METHOD].label
    knees = {label: sweep.knee_of(rows, threshold=threshold) for label, rows in sweeps.items()}
    revision = page.source.key
    drawn = len(sweeps)  # each redraw of a run is a new element: Streamlit refuses a key twice in one run
    quality.plotly_chart(
        figures.quality_figure(sweeps, knees=knees, reference=reference, uirevision=revision), key=f"quality-{drawn}"
    )
    best = figures.best_quality_per_byte(sweeps)
    rate_distortion.plotly_chart(
        figures.rate_distortion_figure(sweeps, reference=reference, best=best, uirevision=revision),
        key=f"rate_distortion-{drawn}",
    )
    lines = [
        f"- {label}: knee at k = {knee}" if knee else f"- {label}: no knee, every doubling gains {threshold:.3f} SSIM"
        for label, knee in knees.items()
    ]
    best_line = (
        f"Best quality per byte: **{best}**, the highest mean SSIM over the PNG sizes every curve reaches."
        if best
        else ""
    )
    knee_note.markdown(
        f"The knee is the smallest k after which a doubling gains less than {threshold:.3f} SSIM.\n"
        + "\n".join(lines)
        + (f"\n\n{best_line}" if best_line else "")
    )


def sweep_rows(page: Page, method: str) -> list[sweep.SweepRow]:
    """One method's sweep, one cached k at a time so the progress bar moves."""
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


def gallery(page: Page, methods: list[str], sweeps: dict[str, list[sweep.SweepRow]]) -> None:
    st.subheader("Gallery", anchor=False)
    method = st.selectbox("Gallery of", methods, key="sweep_method", format_func=method_label)
    rows = sweeps[quant.METHODS[method].label]
    for start in range(0, len(rows), CARDS_PER_ROW):
        for column, row in zip(st.columns(CARDS_PER_ROW), rows[start : start + CARDS_PER_ROW], strict=False):
            column.image(
                row.thumbnail, caption=f"k = {row.k} · SSIM {row.ssim:.3f}", width="stretch", output_format="PNG"
            )  # JPEG would blur the palette's exact colors

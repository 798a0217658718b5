"""Quality vs k: the chosen methods at k = 2, 4, …, 256 on the same axes, libimagequant as a reference.

Every point is made as the cards are, with the page's recipe: its dithering
and strength, locked colors and palette order, so the curves are of what the
user would get; the blurred ΔE2000 panel judges dithering as a viewer sees it.
Your own palette has one k, its size: it is one point, not a curve.

Every point that isn't cached goes to the warm workers at once (one job per
method and k, `cache.sweep_point`), so they sweep side by side; the figures
are drawn as each method's sweep arrives, the first curves showing while the
next method computes.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
from concurrent.futures import Future

import plotly.graph_objects as go
import streamlit as st

import quant
from dashboard.model import figures
from dashboard.model.formatting import count_of, escape_markdown, method_label
from dashboard.model.outcomes import describe_failure
from dashboard.model.settings import Settings
from dashboard.model.sweeps import SweepPlan, SweepPoint
from quant import sweep
from quant.methods import get_method

from .cache import TICK_SECONDS, UPLOAD_TTL, sweep_point
from .page import CARDS_PER_ROW, Page, shows_errors

#: Always drawn, dashed: the quantizer people compare against (pngquant's).
REFERENCE_METHOD = "libimagequant"
Sweeps = dict[str, list[SweepPoint]]


@shows_errors
def draw(page: Page) -> None:
    plans = [SweepPlan.of(page.settings, method) for method in swept_methods(page.settings)]
    st.caption(
        f"Image: {page.source.name}"
        + ("" if page.source.is_upload else " (the sample: upload an image above to sweep your own)")
        + f". Methods: those chosen in the sidebar, with {quant.METHODS[REFERENCE_METHOD].label} dashed as a reference."
        + " "
        + recipe_note(page.settings)
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
    # Every method's points at once, in column order: the workers take them in that order, side by side.
    jobs = {plan.method: point_jobs(page, plan) for plan in plans}
    progress = st.empty()
    swept: Sweeps = {}
    keys: list[str] = []
    shown = 0  # how many sweeps the figures on the page show
    for plan in plans:
        waited = not all(job.done() for job in jobs[plan.method])
        rows = wait_for_points(page, plan, jobs, progress)
        if rows:
            swept[curve_label(plan.method)] = rows
            # The k that arrived, not only those asked for: a point that failed and is computed later
            # must not find the figures drawn without it.
            keys.append(repr((page.source.key, plan, [row.k for row in rows])))
        if waited and len(swept) > shown:  # the figures so far, while the next method computes
            shown = draw_figures(swept, keys, threshold, page.source.key, quality, rate_distortion, knee_note)
    progress.empty()
    if not swept:
        st.info("No sweep to show: every method failed.", icon=":material/info:")
        return
    if len(swept) > shown:
        draw_figures(swept, keys, threshold, page.source.key, quality, rate_distortion, knee_note)
    gallery({plan.method: swept[label] for plan in plans if (label := curve_label(plan.method)) in swept})


def swept_methods(settings: Settings) -> list[str]:
    """The sidebar's methods (the study's three when none is chosen), the reference if not among them,
    then your own palette's single point if one is given."""
    methods = list(settings.methods) or list(quant.STUDY_METHODS)
    if REFERENCE_METHOD not in methods:
        methods.append(REFERENCE_METHOD)
    return methods + ([quant.CUSTOM.name] if settings.palette else [])


def curve_label(method: str) -> str:
    """A method's name on the curves and in the legend: its plain label (the reference is marked by the figures)."""
    return get_method(method).label


def recipe_note(settings: Settings) -> str:
    """What the points are made with besides the method and k, in words."""
    if settings.dithers:
        kind = quant.DITHERS[settings.dither].label
        made = f"Every point is dithered as the cards are ({kind}, strength {settings.strength:g})"
    else:
        made = "Every point is made as the cards are (no dithering)"
    if settings.lock:
        made += f", keeping the {count_of(len(settings.lock), 'locked color')}"
    if settings.palette:
        colors = count_of(len(settings.palette), "color")
        made += f"; your own palette has one k, its {colors}, so it is one point, not a curve"
    return made + "."


def point_jobs(page: Page, plan: SweepPlan) -> list[Future]:
    """The futures of a method's points, in increasing k: kept ones done at once, the others queued."""
    return [point_job(page, plan, k) for k in plan.ks]


def point_job(page: Page, plan: SweepPlan, k: int) -> Future:
    return sweep_point(page.source.key, page.source.image, page.hist, plan.method, k, plan.recipe)


def wait_for_points(page: Page, plan: SweepPlan, jobs: dict[str, list[Future]], progress) -> list[SweepPoint]:
    """A method's points once all are in, the bar moving meanwhile; a failed k is left out, with a warning.

    The bar's redraw between waits is where a rerun interrupts the wait. A
    point cancelled in the queue is asked for again.
    """
    method, ks, total = plan.method, plan.ks, sum(len(futures) for futures in jobs.values())
    while pending := [job for job in jobs[method] if not job.done()]:
        done = sum(job.done() for futures in jobs.values() for job in futures)
        next_k = ks[jobs[method].index(pending[0])]
        progress.progress(done / total, text=f"{method_label(method)}: k = {next_k}… ({done} of {total} points)")
        concurrent.futures.wait(pending, timeout=TICK_SECONDS, return_when=concurrent.futures.FIRST_COMPLETED)
        jobs[method] = [
            point_job(page, plan, k) if job.cancelled() else job for k, job in zip(ks, jobs[method], strict=True)
        ]
    rows, failures = [], []
    for k, job in zip(ks, jobs[method], strict=True):
        if (error := job.exception()) is None:
            rows.append(job.result())
        else:
            failures.append(f"k = {k}: {describe_failure(error)}")
    if failures:
        st.warning(f"{method_label(method)} failed at {escape_markdown('; '.join(failures))}", icon=":material/error:")
    return rows


def draw_figures(
    swept: Sweeps, keys: list[str], threshold: float, revision: str, quality, rate_distortion, knee_note
) -> int:
    """Both figures for the sweeps so far, into their placeholders; returns how many sweeps they show.

    Each redraw of a run is a new element, keyed by that count: Streamlit
    refuses a key twice in one run, so a run draws each count at most once.
    """
    identity = hashlib.sha256(repr((keys, threshold)).encode()).hexdigest()
    quality_fig, rate_fig, knees, best = cached_figures(identity, revision, threshold, swept)
    drawn = len(swept)
    quality.plotly_chart(quality_fig, key=f"quality-{drawn}")
    rate_distortion.plotly_chart(rate_fig, key=f"rate_distortion-{drawn}")
    knee_note.markdown(knee_text(swept, knees, best, threshold))
    return drawn


@st.cache_resource(max_entries=8, ttl=UPLOAD_TTL, show_spinner=False)
def cached_figures(
    identity: str, revision: str, threshold: float, _swept: Sweeps
) -> tuple[go.Figure, go.Figure, dict[str, int | None], str | None]:
    """Both figures, the knees and the best quality per byte, once per set of sweeps and threshold.

    `identity` names the sweeps (image, methods, k, recipes) and the
    threshold: a rerun that changes none of them (the gallery's method, a
    second tab) doesn't draw the figures again.
    """
    reference = quant.METHODS[REFERENCE_METHOD].label
    knees = {label: sweep.knee_of(rows, threshold=threshold) for label, rows in _swept.items()}
    best = figures.best_quality_per_byte(_swept)
    return (
        figures.quality_figure(_swept, knees=knees, reference=reference, uirevision=revision),
        figures.rate_distortion_figure(_swept, reference=reference, best=best, uirevision=revision),
        knees,
        best,
    )


def knee_text(swept: Sweeps, knees: dict[str, int | None], best: str | None, threshold: float) -> str:
    lines = []
    for label, knee in knees.items():
        if len(swept[label]) == 1:
            lines.append(f"- {label}: one palette of {swept[label][0].k} colors, one point: no knee")
        elif knee:
            lines.append(f"- {label}: knee at k = {knee}")
        else:
            lines.append(f"- {label}: no knee, every doubling gains {threshold:.3f} SSIM")
    rule = f"The knee is the smallest k after which a doubling gains less than {threshold:.3f} SSIM."
    text = rule + "\n" + "\n".join(lines)
    if best:
        text += f"\n\nBest quality per byte: **{best}**, the highest mean SSIM over the PNG sizes every curve reaches."
    return text


def gallery(by_method: dict[str, list[SweepPoint]]) -> None:
    st.subheader("Gallery", anchor=False)
    method = st.selectbox("Gallery of", list(by_method), key="sweep_method", format_func=method_label)
    rows = by_method[method]
    for start in range(0, len(rows), CARDS_PER_ROW):
        for column, row in zip(st.columns(CARDS_PER_ROW), rows[start : start + CARDS_PER_ROW], strict=False):
            column.image(
                row.thumbnail, caption=f"k = {row.k} · SSIM {row.ssim:.3f}", width="stretch", output_format="PNG"
            )  # JPEG would blur the palette's exact colors

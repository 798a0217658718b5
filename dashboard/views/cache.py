"""The page's cached compute: every engine computation the views need, keyed on content hashes.

Keys are the image's content hash (or the sample's name) plus the
parameters — never Streamlit's own hashing of arrays, which samples big ones;
big objects are passed unhashed (the leading underscore). The engine is
called for results from `dashboard.model.outcomes.measure` (through
`cached_outcome`), `cached_preparation` and `cached_sweep_row` only.
"""

from __future__ import annotations

import threading

import streamlit as st

import quant
from dashboard.model.formatting import method_label
from dashboard.model.outcomes import Failed, Outcome, original_png, preview_png, run_method
from dashboard.model.settings import Settings
from dashboard.model.workers import Budget
from quant import embed, sweep

from .page import Source

UPLOAD_TTL = "1h"  # cached results of an image nobody looks at any more free their memory


def method_budget() -> Budget | None:
    """Each method runs in a worker process that is stopped past this time or memory (QUANT_METHOD_SECONDS,
    QUANT_METHOD_MEMORY_MB): one runaway method must not stall a server other people share."""
    return Budget.from_env()


@st.cache_resource(max_entries=1, show_spinner="Loading the sample image…")
def cached_sample(name: str) -> quant.LoadedImage:
    return quant.sample_image(name)


@st.cache_resource(max_entries=4, ttl=UPLOAD_TTL, show_spinner="Reading the image…")
def cached_decode(digest: str, _data: bytes) -> quant.LoadedImage | quant.ImageError:
    """The decoded upload, or the loader's refusal: a bad file is judged once, not on every rerun."""
    try:
        return quant.load_image(_data)
    except quant.ImageError as refusal:
        return refusal


@st.cache_resource(max_entries=4, ttl=UPLOAD_TTL, show_spinner="Counting colors…")
def cached_histogram(image_key: str, _image: quant.LoadedImage) -> quant.Histogram:
    return quant.build_histogram(_image)


@st.cache_data(max_entries=4, ttl=UPLOAD_TTL, show_spinner="Saving the original as PNG to compare sizes…")
def cached_original(image_key: str, _image: quant.LoadedImage) -> tuple[bytes, bytes]:
    """The original as a PNG at zlib's default level (what sizes are compared to), and its preview."""
    encoded = original_png(_image)
    return encoded, preview_png(encoded)


class FailedOutcome(Exception):
    """Carries a failed outcome out of the cached function, so the failure is not cached."""

    def __init__(self, outcome: Failed):
        super().__init__(outcome.error)
        self.outcome = outcome


@st.cache_data(max_entries=32, ttl=UPLOAD_TTL, show_spinner=False)
def cached_outcome(
    image_key: str, method: str, k: int, space: str, seed: int, _image: quant.LoadedImage, _hist: quant.Histogram
) -> Outcome:
    outcome = run_method(_image, _hist, k, method, space=space, seed=seed, budget=method_budget())
    if isinstance(outcome, Failed):
        raise FailedOutcome(outcome)  # a time-out on a busy server deserves another try next run
    return outcome


def outcome_of(source: Source, hist: quant.Histogram, method: str, settings: Settings) -> Outcome:
    try:
        return cached_outcome(source.key, method, settings.k, settings.space, settings.seed, source.image, hist)
    except FailedOutcome as failure:
        return failure.outcome


def compute(source: Source, hist: quant.Histogram, settings: Settings) -> list[Outcome]:
    """Every selected method's outcome, with a progress bar while any of them runs."""
    progress = st.empty()
    outcomes = []
    for done, method in enumerate(settings.methods):
        progress.progress(
            done / len(settings.methods),
            text=f"Quantizing with {method_label(method)} ({done + 1} of {len(settings.methods)})…",
        )
        outcomes.append(outcome_of(source, hist, method, settings))
    progress.empty()
    return outcomes


@st.cache_resource(max_entries=8, ttl=UPLOAD_TTL, show_spinner=False)
def cached_embedding(image_key: str, method: str, seed: int, _hist: quant.Histogram) -> embed.Embedding:
    return embed.embed(_hist, method=method, seed=seed)


# Only a sweep being computed needs one (its rows are cached on their own); each holds about 100
# bytes per distinct color, and keeps its image and histogram alive. Two: two sessions sweeping
# at once don't evict each other's at every k.
@st.cache_resource(max_entries=2, ttl=UPLOAD_TTL, show_spinner=False)
def cached_preparation(
    image_key: str, method: str, space: str, _image: quant.LoadedImage, _hist: quant.Histogram
) -> quant.Prepared:
    """A method's k-independent work on one image, shared by every k of its sweep."""
    return quant.prepare(_image, method, space=space, hist=_hist)


@st.cache_data(max_entries=128, ttl=UPLOAD_TTL, show_spinner=False)
def cached_sweep_row(
    image_key: str, method: str, k: int, space: str, seed: int, _image: quant.LoadedImage, _hist: quant.Histogram
) -> sweep.SweepRow:
    prepared = cached_preparation(image_key, method, space, _image, _hist)
    return sweep.sweep(prepared, [k], seed=seed)[0]


@st.cache_resource(show_spinner=False)
def warm_up_umap_in_background() -> None:
    """Compile UMAP once per server process, after the first results, so a first map needn't wait."""
    threading.Thread(target=embed.warm_up, name="umap-warm-up", daemon=True).start()

"""The page's cached compute: every engine computation the views need, keyed on content hashes.

Keys are the image's content hash (or the sample's name) plus the
parameters — never Streamlit's own hashing of arrays, which samples big ones;
big objects are passed unhashed (the leading underscore). The engine is
called for results from `dashboard.model.outcomes.measure` (through
`computed_outcome`) and `dashboard.model.sweeps.measure_point` (through
`sweep_point`) only, both in the server's warm workers.

An image's big data (the decoded upload, its histogram, the original's PNG,
every method's outcome) is kept in `PER_IMAGE`, bounded by bytes
(QUANT_CACHE_MB, default 600); the small or short-lived rest in Streamlit's
caches, bounded by entries.

A run's outcomes come from `compute`: a `Computation` that has every
method's cached outcome at once and hands out the others as the workers
finish them, all methods at the same time.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from types import TracebackType
from typing import TypeVar

import numpy as np
import streamlit as st

import quant
from dashboard.model import outcomes, sweeps, viewer
from dashboard.model.memory import BoundedCache, cache_bytes_from_env
from dashboard.model.outcomes import (
    Done,
    Failed,
    Outcome,
    Recipe,
    describe_failure,
    original_png,
    outcome_key,
    preview_png,
    run_methods,
)
from dashboard.model.settings import Settings
from dashboard.model.workers import Budget, WorkerPool
from quant import embed

from .page import Page, Source

UPLOAD_TTL = 3600.0  # seconds: cached results of an image nobody looks at any more free their memory
T = TypeVar("T")


def method_budget() -> Budget:
    """Each method runs in a worker process that is stopped past this time or memory (QUANT_METHOD_SECONDS,
    QUANT_METHOD_MEMORY_MB): one runaway method must not stall a server other people share."""
    return Budget.from_env()


@st.cache_resource(max_entries=1, show_spinner="Loading the sample image…")
def cached_sample(name: str) -> quant.LoadedImage:
    return quant.sample_image(name)


#: Every image's big data, bounded by bytes (QUANT_CACHE_MB): the decoded upload, its histogram, the
#: original's PNG and every method's outcome. One budget for all, least recently used first out: one
#: result of a 12 MP photo holds megabytes, one of the sample kilobytes, so counting entries says
#: nothing about memory. Shared by every session of this server process.
PER_IMAGE: BoundedCache = BoundedCache(cache_bytes_from_env(), ttl_seconds=UPLOAD_TTL)


def kept(key: tuple, compute: Callable[[], T], spinner: str) -> T:
    """`key`'s value from `PER_IMAGE`, or computed (with a spinner saying what happens) and kept."""

    def computed() -> T:
        with st.spinner(spinner):
            return compute()

    return PER_IMAGE.get_or_compute(key, computed)


def cached_decode(digest: str, data: bytes) -> quant.LoadedImage | quant.ImageError:
    """The decoded upload, or the loader's refusal: a bad file is judged once, not on every rerun."""

    def decode() -> quant.LoadedImage | quant.ImageError:
        try:
            return quant.load_image(data)
        except quant.ImageError as refusal:
            return refusal

    return kept(("decoded", digest), decode, "Reading the image…")


def cached_histogram(image_key: str, image: quant.LoadedImage) -> quant.Histogram:
    return kept(("histogram", image_key), lambda: quant.build_histogram(image), "Counting colors…")


def cached_original(image_key: str, image: quant.LoadedImage) -> tuple[bytes, bytes]:
    """The original as a PNG at zlib's default level (what sizes are compared to), and its preview."""

    def encode() -> tuple[bytes, bytes]:
        encoded = original_png(image)
        return encoded, preview_png(encoded)

    return kept(("original", image_key), encode, "Saving the original as PNG to compare sizes…")


@st.cache_resource(show_spinner=False)
def worker_pool() -> WorkerPool:
    """The server's warm worker processes, shared by every session.

    serve.py starts them with the server. Called first thing by every run
    too, so under ``streamlit run app.py`` the server's first run starts them,
    and they warm up (imports, numba's kernels) while that page draws.
    """
    return outcomes.method_pool()


async def computed_outcome(
    key: tuple, image: quant.LoadedImage, hist: quant.Histogram, method: str, k: int, recipe: Recipe
) -> Outcome:
    """One method's outcome, computed in a worker; sessions asking for the same one at once share it.

    Cancelling the coroutine (a rerun, or Stop) stops the worker's task,
    unless another session still waits for it (`IN_FLIGHT`).
    """
    pool = worker_pool()
    job = IN_FLIGHT.job(key, lambda: outcomes.submit(pool, image, hist, k, method, recipe, budget=method_budget()))
    try:
        # Shielded: cancelling this session's wait must not cancel a queued job other sessions wait for.
        outcome = await asyncio.shield(asyncio.wrap_future(job))
    except asyncio.CancelledError:
        if IN_FLIGHT.abandon(key, job):
            pool.stop(job)
        raise
    except Exception as exc:  # noqa: BLE001 — the boundary that keeps tracebacks off the page
        outcome = Failed(method, describe_failure(exc))
    IN_FLIGHT.taken(key, job)
    return outcome


#: The work the workers compute, by key (a card's `outcome_key`, a sweep point's `sweeps.point_key`),
#: with the sessions waiting for each: a rerun or another session joins a job instead of starting another.
IN_FLIGHT = outcomes.InFlight()

#: How often a computation waiting for workers lets Streamlit see a rerun or a Stop.
TICK_SECONDS = 0.2


class Computation:
    """One run's outcomes: the cached ones at once, the others as the workers finish them.

    Every method that isn't cached goes to the worker pool at once, so they
    run side by side. Use it as a context manager: leaving it (at the end of
    the run, or when a rerun interrupts the run) cancels what is still
    computing, so abandoned runs don't queue up behind the current one.
    """

    def __init__(self, source: Source, hist: quant.Histogram, settings: Settings, *, only_cached: bool = False):
        self.settings = settings
        self.key = run_key(source.key, settings)
        self._loop = asyncio.new_event_loop()
        self._tasks = {
            method: self._loop.create_task(self._outcome(source, hist, method, only_cached))
            for method in run_methods(settings)
        }
        self._yielded: set[str] = set()
        self._loop.run_until_complete(asyncio.sleep(0))  # cached outcomes resolve, the others are submitted

    async def _outcome(self, source: Source, hist: quant.Histogram, method: str, only_cached: bool) -> Outcome | None:
        """The kept outcome, else (unless `only_cached`) the computed one, kept if it succeeded.

        A failure is not kept: a time-out on a busy server deserves another try next run.
        """
        key = outcome_key(source.key, method, self.settings)
        _, _, _, k, recipe = key
        if (outcome := PER_IMAGE.get(key)) is not None or only_cached:
            return outcome
        with IN_FLIGHT.waiting(key):
            outcome = await computed_outcome(key, source.image, hist, method, k, recipe)
        if isinstance(outcome, Done):
            PER_IMAGE.put(key, outcome)
        return outcome

    @property
    def methods(self) -> list[str]:
        """The run's methods, in column order."""
        return list(self._tasks)

    @property
    def pending(self) -> list[str]:
        """The methods still computing, in column order."""
        return [method for method, task in self._tasks.items() if not task.done()]

    def ready(self, method: str) -> bool:
        return self._tasks[method].done()

    def as_completed(self, on_wait: Callable[[list[str]], None]) -> Iterator[tuple[str, Outcome | None]]:
        """(method, outcome) as each is ready: the cached ones first, in column order, then as they finish.

        The outcome is None for a method left uncomputed because the user
        stopped this run. ``on_wait(pending methods)`` is called between
        waits of `TICK_SECONDS`: a Streamlit call there is where a rerun or a
        Stop click interrupts the run.
        """
        while True:
            for method, task in self._tasks.items():
                if task.done() and method not in self._yielded:
                    self._yielded.add(method)
                    yield method, _outcome_of(task)
            pending = [task for task in self._tasks.values() if not task.done()]
            if not pending:
                return
            on_wait(self.pending)
            self._loop.run_until_complete(
                asyncio.wait(pending, timeout=TICK_SECONDS, return_when=asyncio.FIRST_COMPLETED)
            )

    def outcomes(self, on_wait: Callable[[list[str]], None]) -> list[Outcome]:
        """Every computed outcome, in column order, once all are ready."""
        for _ in self.as_completed(on_wait):
            pass
        return [outcome for task in self._tasks.values() if (outcome := _outcome_of(task)) is not None]

    def close(self) -> None:
        """Cancel what is still computing (its workers are stopped) and free the event loop."""
        pending = [task for task in self._tasks.values() if not task.done()]
        for task in pending:
            task.cancel()
        if pending:
            self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self._loop.close()

    def __enter__(self) -> Computation:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None):
        self.close()


def _outcome_of(task: asyncio.Task) -> Outcome | None:
    """A finished task's outcome; None if it was cancelled (its run was interrupted)."""
    return None if task.cancelled() else task.result()


def run_key(image_key: str, settings: Settings) -> tuple:
    """What a run computes: the image and every outcome's key (the settings that change outcomes, not the view)."""
    return (image_key, *(outcome_key(image_key, method, settings) for method in run_methods(settings)))


def compute(source: Source, hist: quant.Histogram, settings: Settings) -> Computation:
    """The outcomes of this run's settings; after a Stop, only the cached ones until a setting changes.

    First, the sweep points the session's last run queued are taken back, so
    they don't hold this run's outcomes up (the quality view asks again for those it wants).
    """
    drop_queued_sweep_points()
    return Computation(
        source, hist, settings, only_cached=st.session_state.get("halted") == run_key(source.key, settings)
    )


@st.cache_resource(max_entries=8, ttl=UPLOAD_TTL, show_spinner=False)
def cached_embedding(image_key: str, method: str, seed: int, _hist: quant.Histogram) -> embed.Embedding:
    return embed.embed(_hist, method=method, seed=seed)


#: Where a session notes the sweep jobs its last run asked for, an `outcomes.SessionJobs` (see
#: `drop_queued_sweep_points`).
_SESSION_SWEEP_JOBS = "_sweep_jobs"


def sweep_point(
    image_key: str, image: quant.LoadedImage, hist: quant.Histogram, method: str, k: int, recipe: Recipe
) -> Future:
    """One point of a sweep as a future: done at once if kept, else the job computing it (started if none).

    Points are computed in the warm workers, side by side, and kept in
    `PER_IMAGE` as each finishes, whoever still waits (a failure is not kept:
    the next run tries again). A rerun (the knee slider) or another session
    asking for a point on its way joins its job (`IN_FLIGHT`).
    """
    key = sweeps.point_key(image_key, method, k, recipe)
    if (point := PER_IMAGE.get(key)) is not None:
        kept: Future = Future()
        kept.set_result(point)
        return kept
    pool = worker_pool()
    if (session_jobs := st.session_state.get(_SESSION_SWEEP_JOBS)) is None:  # made once, not per point
        session_jobs = st.session_state[_SESSION_SWEEP_JOBS] = outcomes.SessionJobs(IN_FLIGHT)
    return session_jobs.job(
        key,
        lambda: pool.submit(method_budget(), sweeps.measure_point, image_key, image, hist, k, method, recipe),
        on_done=functools.partial(_keep_point, key),
    )


def _keep_point(key: tuple, job: Future) -> None:
    if not job.cancelled() and job.exception() is None:
        PER_IMAGE.put(key, job.result())


def drop_queued_sweep_points() -> None:
    """Take back the sweep points this session's last run queued, no worker has started and no other session wants.

    Called at the start of every run: a sweep left (another view, image or
    dither) must not hold up the next run's results in the workers' queue.
    Points already started finish and are kept; a point another session
    still waits for stays queued (`outcomes.SessionJobs`). A view that still
    wants a dropped point asks for it again (`sweep_point`), which queues it anew.
    """
    if (session_jobs := st.session_state.get(_SESSION_SWEEP_JOBS)) is not None:
        session_jobs.drop()


def run_id(image_key: str, settings: Settings, method: str) -> str:
    """A short name for one method's result on this image at these settings (dither, locks, palette included)."""
    key = repr(outcome_key(image_key, method, settings))
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def run_of(page: Page, method: str) -> str:
    """`run_id` of `method`'s result on the page's image at its settings."""
    return run_id(page.source.key, page.settings, method)


def result_pixels(run: str, outcome: Done) -> viewer.DecodedLayer:
    """A result's pixels as its PNG holds them: decoded when first rendered, then kept in `PER_IMAGE`."""
    return viewer.DecodedLayer(("result-pixels", run), outcome.png, outcome.colors, PER_IMAGE)


def delta_e_per_entry(run: str, hist: quant.Histogram, palette: quant.Palette) -> np.ndarray:
    """A result's ΔE2000 per histogram entry, kept in `PER_IMAGE` (four bytes a distinct color)."""
    return kept(
        ("delta-e", run), lambda: viewer.delta_e_per_entry(hist, palette), "Comparing every color to the original…"
    )


def warm_up_umap_in_background() -> None:
    """Start UMAP's worker process (once per server; again is a no-op), after the first results.

    It compiles UMAP there, so neither this server's event loop nor a first map waits for it;
    started before the first results, its compile would compete with them for the cores.
    """
    embed.start_worker()

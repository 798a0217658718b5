"""One method's outcome on the page: run it so its failure can't escape, and keep what a card shows.

An outcome is either `Done` (a palette, its metrics, the encoded result) or
`Failed` (a one-line reason): two types, so no caller reads a result that
isn't there. `measure` is the one place the page quantizes, encodes and
scores; the engine's API changes land there. `submit` runs it in the page's
pool of warm workers (`method_pool`), where a budget bounds it.
"""

from __future__ import annotations

import functools
import io
import threading
import weakref
from collections import Counter
from collections.abc import Callable, Hashable, Iterator
from concurrent.futures import Future
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np
from PIL import Image

from quant.errors import shorten
from quant.histogram import Histogram
from quant.load import LoadedImage
from quant.methods import CUSTOM, Method, get_method
from quant.metrics import Metrics
from quant.palette import Palette
from quant.pipeline import Prepared, Result, prepare
from quant.remap import is_dithered

from .settings import Settings
from .workers import Budget, BudgetExceeded, WorkerPool, WorkFailed, clock_off, shared_pool

#: Widest image the page shows: Streamlit resizes anything wider on every
#: rerun, so previews are made once at this width instead.
PREVIEW_WIDTH = 1460
#: The longest failure message a card shows.
FAILURE_LIMIT = 200


@dataclass(frozen=True)
class Done:
    """One method's result as the page needs it.

    Only what is drawn is kept (no per-pixel arrays besides the encoded PNGs),
    so many outcomes fit in the cache.

    Attributes
    ----------
    method : str
        The registry name.
    palette : Palette
        Colors and the label of every histogram entry (the views color pixels by it).
    pixel_counts : ndarray of int64, shape (m,)
        Visible pixels per palette color.
    metrics : Metrics
    seconds : float
        Quantization time (palette and remap), as the engine measures it: the
        part of the work a method's time budget covers.
    png : bytes
        The result as a palette PNG (PNG8): what the download gives.
    preview : bytes
        A PNG at most `PREVIEW_WIDTH` wide, for the page.
    notices : tuple of str
    dither : str
        How the remap dithered (a key of `quant.DITHERS`).
    dither_strength : float
    """

    method: str
    palette: Palette
    pixel_counts: np.ndarray
    metrics: Metrics
    seconds: float
    png: bytes
    preview: bytes
    notices: tuple[str, ...] = ()
    dither: str = "none"
    dither_strength: float = 1.0
    ok: ClassVar[bool] = True

    @property
    def colors(self) -> np.ndarray:
        """The palette's colors, (m, 3) uint8."""
        return self.palette.colors

    @property
    def dithered(self) -> bool:
        """Whether pixels of one color may have gone to different palette colors: then only the PNG
        says which pixel is which color (the palette's labels give the undithered assignment)."""
        return is_dithered(self.dither, self.dither_strength)


@dataclass(frozen=True)
class Failed:
    """A method that failed, and why, in one line a user can read."""

    method: str
    error: str
    ok: ClassVar[bool] = False


Outcome = Done | Failed


@dataclass(frozen=True)
class Recipe:
    """Everything besides the image, the method and k that decides an outcome: part of its cache key.

    Only what the method uses is kept (`for_method`), so two settings that
    give the same result share one key: the custom palette ignores locks and
    k, the clustering methods ignore the custom palette, and an undithered
    remap ignores the strength.

    Attributes
    ----------
    space : str
    seed : int
    dither : str
        A key of `quant.DITHERS`.
    strength : float
        0 … 1.
    order : str
        One of `quant.ORDERS`.
    lock : tuple of str
        Locked colors (``#rrggbb``) for a clustering method.
    palette : tuple of str
        The custom palette's colors, for `quant.CUSTOM` only.
    """

    space: str = "rgb"
    seed: int = 0
    dither: str = "none"
    strength: float = 1.0
    order: str = "frequency"
    lock: tuple[str, ...] = ()
    palette: tuple[str, ...] = ()

    @classmethod
    def for_method(cls, settings: Settings, method: str) -> Recipe:
        custom = method == CUSTOM.name
        return cls(
            space=settings.space,
            seed=settings.seed,
            dither=settings.dither if settings.dithers else "none",
            strength=settings.strength if settings.dithers else 1.0,
            order=settings.order,
            lock=() if custom else settings.lock,
            palette=settings.palette if custom else (),
        )

    @property
    def undithered(self) -> Recipe:
        """The same recipe without dithering: the method's own palette (a dithered result's is refitted)."""
        return replace(self, dither="none", strength=1.0)


def outcome_k(settings: Settings, method: str) -> int:
    """The k an outcome is computed at: the custom palette's own size for it, else the settings' k."""
    return len(settings.palette) if method == CUSTOM.name else settings.k


def outcome_key(image_key: str, method: str, settings: Settings) -> tuple[str, str, str, int, Recipe]:
    """One outcome's cache key: ``("outcome", image, method, k, recipe)``.

    A result for another dither, lock, order or custom palette has another
    key, so the page never shows one computed for other settings.
    """
    return ("outcome", image_key, method, outcome_k(settings, method), Recipe.for_method(settings, method))


def run_methods(settings: Settings) -> tuple[str, ...]:
    """The methods a run computes, in column order: the chosen ones, then the custom palette if one is given."""
    return tuple(dict.fromkeys(settings.methods)) + ((CUSTOM.name,) if settings.palette else ())


def run_method(
    image: LoadedImage,
    hist: Histogram,
    k: int,
    method: str,
    recipe: Recipe,
    *,
    budget: Budget | None = None,
) -> Outcome:
    """Quantize `image` with one method; any failure comes back as `Failed`, never raised.

    A method that breaks (a library bug, memory) must cost only its own
    column on the page, so every exception is caught and described. With a
    `budget`, the method runs in a child process that is stopped when it
    overruns its time or memory, so it can't take the server down either.
    """
    try:
        chosen = get_method(method)
        if budget is None:
            return measure(image, hist, k, chosen, recipe)
        return budget.call(measure, image, hist, k, chosen, recipe)
    except Exception as exc:  # noqa: BLE001 — the boundary that keeps tracebacks off the page
        return Failed(method, describe_failure(exc))


def submit(
    pool: WorkerPool,
    image: LoadedImage,
    hist: Histogram,
    k: int,
    method: str,
    recipe: Recipe,
    *,
    budget: Budget,
) -> Future:
    """Start one method in `pool`; the future gives a `Done`, or raises what `describe_failure` reads.

    An unknown method fails here, at once, like any other failure: as the future's exception.
    """
    try:
        chosen = get_method(method)
    except Exception as exc:  # noqa: BLE001 — reported through the future, as a worker's failure would be
        failed: Future = Future()
        failed.set_exception(exc)
        return failed
    return pool.submit(budget, measure, image, hist, k, chosen, recipe)


class InFlight:
    """The pool's work that sessions wait for, by key, and how many sessions wait for each.

    Sessions asking for the same work at once share one job (`job`): a
    second session, or a rerun, joins the running job instead of starting
    another. One session's Stop (or rerun) must stop a job only if no other
    session still waits for it (`abandon`). A job is forgotten once its
    result is kept: by the session that took it (`taken`), or by the
    `on_done` it was started with. Safe to share between threads.
    """

    def __init__(self) -> None:
        # Reentrant: a session's state discarded with waits still open (`SessionJobs`) ends them when the
        # garbage collector frees it, and the collector may run in a thread that is inside this lock.
        self._lock = threading.RLock()
        self._waiting: Counter[Hashable] = Counter()
        self._jobs: dict[Hashable, Future] = {}

    @contextmanager
    def waiting(self, key: Hashable) -> Iterator[None]:
        """A session waits for `key` while inside this block."""
        with self._lock:
            self._waiting[key] += 1
        try:
            yield
        finally:
            with self._lock:
                self._waiting[key] -= 1
                if not self._waiting[key]:
                    del self._waiting[key]

    def job(
        self, key: Hashable, submit: Callable[[], Future], *, on_done: Callable[[Future], None] | None = None
    ) -> Future:
        """The job computing `key`: the one already running (or finished, and not yet taken), else `submit()`'s.

        With `on_done`, a job this call starts is taken when it finishes
        (succeeded, failed or cancelled), right after ``on_done(job)`` has
        kept its result: no session needs to wait for it. A call that joins a
        running job adds nothing: its starter's `on_done` keeps the result.
        """
        with self._lock:
            started = key not in self._jobs
            if started:
                self._jobs[key] = submit()
            job = self._jobs[key]
        if started and on_done is not None:
            # Outside the lock: a job already done calls back at once, and the callback takes the lock.
            job.add_done_callback(functools.partial(self._finished, key, on_done))
        return job

    def _finished(self, key: Hashable, on_done: Callable[[Future], None], job: Future) -> None:
        try:
            on_done(job)  # first: a request between the two finds the result kept, not a job gone
        finally:
            self.taken(key, job)

    def taken(self, key: Hashable, job: Future) -> None:
        """`job`'s outcome is taken (kept by the caller's cache): a later request for `key` starts afresh."""
        with self._lock:
            if self._jobs.get(key) is job:
                del self._jobs[key]

    def abandon(self, key: Hashable, job: Future) -> bool:
        """A waiting session gave up on `job`; True (and `key` forgotten) if no other session waits for it.

        The caller still counts as waiting (inside `waiting(key)`), so it is one of them.
        """
        with self._lock:
            if self._waiting[key] > 1:
                return False
            if self._jobs.get(key) is job:
                del self._jobs[key]
            return True

    def withdraw(self, key: Hashable, job: Future) -> None:
        """A waiting session no longer wants `job`: cancelled (and forgotten) if still queued and no other waits.

        One step under the lock, so a session can't join the job between the
        check and the cancel. A running job finishes; its `on_done` keeps the
        result. A cancelled job's callbacks run here, inside the lock: it is
        reentrant, and `on_done` keeps nothing of a cancelled job.
        """
        with self._lock:
            if self._waiting[key] <= 1 and job.cancel():
                self.taken(key, job)


class SessionJobs:
    """The `InFlight` jobs one session asked for and still waits for between its runs: a sweep's points.

    Asking for a job (`job`) counts the session as waiting for its key until
    the job finishes or the session drops it (`drop`), whichever comes first:
    so another session's drop leaves a job this one wants queued, and a point
    this one already has (finished, kept, then perhaps evicted and asked for
    anew by another session) doesn't keep that other session's job from being
    cancelled. A session that ends without dropping (its tab closed) stops
    waiting when its state is freed: the waits are context managers, closed then.
    """

    def __init__(self, in_flight: InFlight) -> None:
        self._in_flight = in_flight
        # A job's end is noted from the thread that finishes it, while the session's own runs ask and drop.
        # The registry's own (reentrant) lock, not one of its own: `withdraw` ends waits while holding it, and
        # a closed tab's waits may end (freed by the collector) while a thread holds this one, so two locks
        # could be taken in both orders.
        self._lock = in_flight._lock
        self._asked: dict[Hashable, tuple[Future, AbstractContextManager]] = {}

    def job(
        self, key: Hashable, submit: Callable[[], Future], *, on_done: Callable[[Future], None] | None = None
    ) -> Future:
        """`InFlight.job`, with this session waiting for `key` until the job ends or `drop`.

        Each wait is ended exactly once, by whichever takes its entry out of
        the session's record: the job's end, a drop, or a new job of the key.
        """
        with self._lock:
            asked = self._asked.get(key)
        if asked is not None and not asked[0].done():
            return asked[0]  # a rerun asking again: the session already waits for it
        wait = self._in_flight.waiting(key)
        wait.__enter__()  # before joining, as a run's outcomes do
        try:
            job = self._in_flight.job(key, submit, on_done=on_done)
        except BaseException:
            wait.__exit__(None, None, None)  # no job, nothing to wait for (and no traceback keeps it open)
            raise
        with self._lock:
            replaced = self._asked.pop(key, None)  # an ended job whose end this session hasn't yet noted
            self._asked[key] = (job, wait)
        if replaced is not None:
            replaced[1].__exit__(None, None, None)
        # Weakly: a closed tab's state must still be freed while its jobs run, which ends its waits.
        job.add_done_callback(functools.partial(_job_ended, weakref.ref(self), key))
        return job

    def _stop_waiting(self, key: Hashable, job: Future | None = None) -> None:
        """This session no longer waits for `key` (for `job` only, if given: a later job of the key is waited for)."""
        with self._lock:
            asked = self._asked.get(key)
            if asked is None or (job is not None and asked[0] is not job):
                return
            del self._asked[key]
        asked[1].__exit__(None, None, None)  # outside the lock: it takes `InFlight`'s

    def drop(self) -> None:
        """Stop waiting for every job: one no other session waits for is cancelled if still queued.

        A job already running finishes (its `on_done` keeps the result).
        """
        with self._lock:
            asked = list(self._asked.items())
        for key, (job, _wait) in asked:
            self._in_flight.withdraw(key, job)  # still counted as waiting here: it must be, to be the last one
            self._stop_waiting(key, job)


def _job_ended(session: weakref.ref[SessionJobs], key: Hashable, job: Future) -> None:
    """`job` ended: its session, if still alive, no longer waits for its key."""
    if (jobs := session()) is not None:
        jobs._stop_waiting(key, job)


def method_pool() -> WorkerPool:
    """The server's pool of warm workers (QUANT_WORKERS, default 2), started by the first call."""
    return shared_pool(warm_up=warm_up)


def warm_up() -> Iterator[str]:
    """Run every method, and each family of dithering, once on a small image: a worker's first task pays no start-up.

    numba loads its compiled kernels, and scikit-learn and fastcluster their
    modules, on first use: about a second per process, paid here instead of
    on a user's first result. A generator, one method (and space) per step,
    so a worker can take work between steps; the study's methods come first.
    A task that comes first warms its own method (`warmed`) before it is timed.
    """
    from quant.dither import DITHERS
    from quant.load import from_array
    from quant.methods import METHODS, STUDY_METHODS
    from quant.pipeline import evaluate, prepare

    for name in sorted(METHODS, key=lambda name: name not in STUDY_METHODS):
        for space in ("rgb", "lab", "oklab") if name == "kmeans" else ("rgb",):
            warmed(METHODS[name], space)
            yield name
    rng = np.random.default_rng(0)
    gray = from_array(np.repeat(rng.integers(0, 256, (12, 16, 1), dtype=np.uint8), 3, axis=2))
    evaluate(prepare(gray, "kmeans").quantize(4))  # kmeans solves gray images its own way
    yield "kmeans on a gray image"
    for family in dict.fromkeys(kind.family for kind in DITHERS.values() if kind.dithers):
        warmed(METHODS["kmeans"], "rgb", family)  # one kind per family loads every dithering loop
        yield family
    # Kernels with a parallel build (kmeans' nearest-color search, the blurred ΔE) use it only on large
    # inputs: one image over that size loads it here, not on a user's first big upload.
    large = from_array(rng.integers(0, 256, (480, 640, 3), dtype=np.uint8))
    evaluate(prepare(large, "kmeans").quantize(4))
    yield "parallel kernels"


@functools.cache
def warmed(method: Method, space: str = "rgb", dither_family: str | None = None) -> None:
    """`method` run once in this process on a small image, in `space`, dithered by a kind of `dither_family` (if any).

    Its first run loads numba's kernels and the method's modules, seconds that
    are not the method's own time: `measure` calls this before it times a
    result, so a card's time is the method's even on a worker not yet warm.
    """
    from quant.dither import DITHERS

    dither = next((name for name, kind in DITHERS.items() if kind.family == dither_family), "none")
    recipe = Recipe(space=space, dither=dither, palette=("#000000", "#ffffff") if method.name == CUSTOM.name else ())
    result = quantized(prepared_for(*_warm_up_image(), method, recipe), 4, method.name, recipe)
    preview_png(result.png)
    _ = result.metrics


@functools.cache
def _warm_up_image() -> tuple[LoadedImage, Histogram]:
    """What `warmed` runs every method on, made once per process, and its histogram.

    3,072 distinct colors: enough for the steps a photo takes and a smaller
    image doesn't (the polish's search runs its parallel build from 2,048
    sampled colors), at a few milliseconds a method once loaded.
    """
    from quant.histogram import build_histogram
    from quant.load import from_array

    small = from_array(np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8))
    return small, build_histogram(small)


def measure(image: LoadedImage, hist: Histogram, k: int, method: Method, recipe: Recipe) -> Done:
    """Quantize, encode and score one method: everything a result card shows.

    The page's only call to the engine's quantize: the result encodes its
    PNG once, and its metrics reuse it. In a budgeted worker, the time budget
    covers the quantization (`Done.seconds`); encoding and scoring follow
    under their own allowance (`workers.clock_off`). `quant.CUSTOM` maps to
    `recipe.palette` (k is its size); the others cluster, keeping `recipe.lock`.
    """
    from quant.dither import DITHERS

    kind = DITHERS[recipe.dither]
    # A warm-up only moves loading out of the timing: if it fails, the result itself reports what fails.
    with suppress(Exception):
        warmed(method, recipe.space, kind.family if kind.dithers and recipe.strength > 0 else None)
    result = quantized(prepared_for(image, hist, method, recipe), k, method.name, recipe)
    clock_off()
    return Done(
        method.name,
        result.palette,
        result.pixel_counts,
        result.metrics,
        result.seconds,
        result.png,
        preview_png(result.png),
        result.notices,
        result.dither,
        result.dither_strength,
    )


def prepared_for(image: LoadedImage, hist: Histogram, method: Method, recipe: Recipe) -> Prepared:
    """`image` prepared for `method` as `recipe` says: `quant.CUSTOM` maps to ``recipe.palette``,
    the others cluster keeping ``recipe.lock``. Dithering and the seed act later, in the quantize."""
    if method.name == CUSTOM.name:
        return prepare(image, space=recipe.space, hist=hist, palette=list(recipe.palette), order=recipe.order)
    lock = list(recipe.lock) or None
    return prepare(image, method, space=recipe.space, hist=hist, lock=lock, order=recipe.order)


def quantized(prepared: Prepared, k: int, method: str, recipe: Recipe) -> Result:
    """`prepared` quantized at `k` with `recipe`'s seed and dithering; `quant.CUSTOM` ignores `k` (its
    palette's size is its k). Methods are compared by name: a worker gets a pickled copy."""
    return prepared.quantize(
        None if method == CUSTOM.name else k, seed=recipe.seed, dither=recipe.dither, dither_strength=recipe.strength
    )


def describe_failure(exc: BaseException) -> str:
    """One line a user can read: the exception's type and message, shortened."""
    message = " ".join(str(exc).split())
    if isinstance(exc, (BudgetExceeded, WorkFailed)):
        text = message  # already says what happened, in the worker's words
    else:
        text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return shorten(text, FAILURE_LIMIT)


def original_png(image: LoadedImage) -> bytes:
    """The original saved as PNG, with its transparency: the size results are compared to.

    Saved at zlib's default level, as most tools save a PNG. Pillow's
    `optimize` would shave about 3 % off a photo but takes four times as long
    (12 s on 12 megapixels), all before the first result can show.
    """
    if image.opaque is None:
        picture = Image.fromarray(image.rgb)
    else:
        alpha = np.where(image.opaque, 255, 0).astype(np.uint8)
        picture = Image.fromarray(np.dstack([image.rgb, alpha]))
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def preview_png(encoded: bytes, max_width: int = PREVIEW_WIDTH) -> bytes:
    """`encoded` itself if it is narrow enough, else a downscaled PNG of it."""
    picture: Image.Image = Image.open(io.BytesIO(encoded))
    if picture.width <= max_width:
        return encoded
    picture = picture.convert("RGBA" if _has_transparency(picture) else "RGB")
    height = max(1, round(picture.height * max_width / picture.width))
    buffer = io.BytesIO()
    picture.resize((max_width, height), Image.Resampling.LANCZOS).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def _has_transparency(picture: Image.Image) -> bool:
    return "A" in picture.getbands() or "transparency" in picture.info

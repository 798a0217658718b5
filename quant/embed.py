"""Pixel samples, and their 2D embeddings (UMAP or PCA) for the cluster maps.

A cluster map shows one embedding per image, shared by every method: the
embedding is computed once on a pixel sample, and each method colors the same
points by its own labels. A point is a *histogram entry*, drawn in proportion
to its pixel count, so the map's density is the image's.

How the app calls it::

    # at server start, once: a worker process imports umap and compiles it there
    quant.embed.start_worker()

    # per image (cache on the image bytes + method + size + seed):
    emb = quant.embed.embed(hist, method="umap", size=5_000, seed=0)
    emb.points            # (s, 2) coordinates
    emb.sample.entries    # (s,) histogram entry of each point
    # colors of one method:  palette.colors[palette.labels[emb.sample.entries]]

umap-learn is imported inside `embed` and `warm_up` only (or in the worker),
so importing quant stays fast.

Where UMAP's time goes, and why it runs in a worker
---------------------------------------------------
umap-learn finds neighbors with pynndescent, whose numba kernels take ~30 s to
compile on 2 busy cores and *cannot* be cached on disk: pynndescent marks them
``cache=False`` on purpose (its ``parallel=True`` kernels, and those taking a
distance function as an argument, whose numba type holds a memory address, so
a cached copy never matches again). Color samples are 3-D, where an exact
k-d tree (scikit-learn's `NearestNeighbors`) finds every neighbor in tens of
milliseconds; `_umap` hands those to UMAP (``precomputed_knn``), and
pynndescent's kernels are never compiled. What is left is umap's own layout
code: ~6 s to compile, then 1–3 s per map of 5,000 points.

numba's compiler is mostly Python and umap's kernels don't release the GIL, so
a UMAP in the server's process slows every session while it compiles and runs. `start_worker` starts one long-lived
process that compiles UMAP at once; from then on `embed` sends it the sample
(a few kB) and gets the coordinates back, and the server only waits on a pipe.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import parallel
from .colorspace import check_space, to_space
from .histogram import Histogram
from .numeric import is_integer
from .pipeline import Progress

EMBEDDINGS = {
    "umap": "UMAP (umap-learn): keeps local neighborhoods, so clusters separate; seconds once warm",
    "pca": "PCA (scikit-learn): a linear projection; instant",
}

#: Default number of points in a cluster map.
DEFAULT_SIZE = 5_000
#: Largest sample `embed` accepts: UMAP time grows with it, and the browser draws every point.
MAX_SIZE = 50_000
#: Training epochs for UMAP; umap-learn's default for small inputs is 500,
#: which takes twice as long for no visible gain on color data.
UMAP_EPOCHS = 200


@dataclass(frozen=True)
class PixelSample:
    """Visible pixels drawn from a histogram in proportion to their counts.

    Attributes
    ----------
    entries : ndarray of intp, shape (s,)
        The histogram entry (row of ``hist.colors``) of each drawn pixel, in
        random order. An entry appears about ``s * count / total`` times.
    total : int
        How many visible pixels the sample was drawn from.
    distinct : int
        How many distinct colors the histogram has.
    """

    entries: np.ndarray
    total: int
    distinct: int

    def __len__(self) -> int:
        return len(self.entries)

    def caption(self) -> str:
        """A one-line caption, e.g. ``"5,000 of 135,300 pixels shown (32,584 distinct colors)"``."""
        return f"{len(self):,} of {self.total:,} pixels shown ({self.distinct:,} distinct colors)"


@dataclass(frozen=True)
class Embedding:
    """A 2D embedding of a pixel sample.

    Attributes
    ----------
    points : ndarray of float32, shape (s, 2)
        Coordinates, one row per sampled pixel.
    sample : PixelSample
        Which histogram entry each row is.
    method : str
        A key of `EMBEDDINGS`.
    seconds : float
        Wall time of the embedding itself (not the sampling).
    """

    points: np.ndarray
    sample: PixelSample
    method: str
    seconds: float


def sample_pixels(hist: Histogram, size: int = DEFAULT_SIZE, *, seed: int = 0) -> PixelSample:
    """Draw at most `size` visible pixels from `hist`, in proportion to their counts.

    The draw is systematic: the pixels are lined up by color, and every
    ``total / size``-th one is taken from a random start. Each color then
    appears either ``floor`` or ``ceil`` of its expected number of times, so
    a color covering 90 % of the image gets 90 % of the points, never more by
    chance, and the sample spreads over the whole color range. An image with
    at most `size` visible pixels gives every pixel once.

    Parameters
    ----------
    hist : Histogram
        From `quant.build_histogram`.
    size : int
        Most pixels to draw, at least 1.
    seed : int
        Chooses the start and the order; the same seed gives the same sample.

    Returns
    -------
    PixelSample
    """
    if not is_integer(size) or size < 1:
        raise ValueError(f"size must be a positive integer, not {size!r}")
    total = hist.total
    drawn = min(int(size), total)
    rng = np.random.default_rng(seed)
    step = total / drawn if drawn else 1.0
    positions = (rng.random() + np.arange(drawn)) * step
    entries = np.searchsorted(np.cumsum(hist.counts), positions, side="right")
    rng.shuffle(entries)
    return PixelSample(entries.astype(np.intp), total, len(hist))


def embed(
    hist: Histogram,
    *,
    method: str = "umap",
    size: int = DEFAULT_SIZE,
    seed: int = 0,
    space: str = "lab",
    neighbors: int = 15,
    progress: Progress | None = None,
) -> Embedding:
    """Embed a pixel sample of `hist` in 2D.

    Parameters
    ----------
    hist : Histogram
        From `quant.build_histogram`.
    method : {'umap', 'pca'}
        UMAP separates clusters; PCA is instant.
    size : int
        Points to draw with `sample_pixels`, 1…`MAX_SIZE`.
    seed : int
        The same seed gives the same sample and the same coordinates.
    space : {'rgb', 'lab', 'oklab'}
        Where distances between colors are measured. CIELAB makes the map's
        neighborhoods perceptual.
    neighbors : int
        UMAP's ``n_neighbors``: larger values favor the global layout.
    progress : callable, optional
        Called as ``progress(fraction, message)`` before and after the work.

    Returns
    -------
    Embedding

    Notes
    -----
    Many pixels share one color, and UMAP cannot place identical points
    apart. Each point is moved by less than one 8-bit step (uniform
    ±0.5 in RGB, seeded) before the conversion to `space`: the color
    stays the same to the eye, and duplicates become a small blob whose size
    shows how many pixels they are.

    After `start_worker`, UMAP runs in the worker process, one map at a
    time, and a call made while it is still compiling waits for it.
    Without a worker, the first UMAP call in a process compiles numba code
    (about 5–10 s) and says so through `progress`; `warm_up` does that
    ahead. UMAP runs one at a time per process: two maps at once would
    only compete for the same cores, and where numba lacks OpenMP and TBB
    its fallback threading layer (workqueue) aborts when entered from two
    threads. PCA never waits.
    """
    if method not in EMBEDDINGS:
        raise ValueError(f"unknown embedding {method!r}; choose one of: {', '.join(EMBEDDINGS)}")
    check_space(space)
    if not is_integer(size) or not 1 <= size <= MAX_SIZE:
        raise ValueError(f"size must be an integer from 1 to {MAX_SIZE:,}, not {size!r}")
    if not is_integer(neighbors) or neighbors < 2:
        raise ValueError(f"neighbors must be an integer of at least 2, not {neighbors!r}")
    if len(hist) == 0:
        raise ValueError("the image has no visible pixels to embed")
    report = progress or (lambda fraction, message: None)
    sample = sample_pixels(hist, size, seed=seed)
    features = _features(hist, sample, space=space, seed=seed)
    if method == "umap" and not is_warm():
        report(0.0, f"UMAP of {len(sample):,} pixels: compiling it first (once per process, {READY_IN})…")
    else:
        report(0.0, f"{method.upper()} of {len(sample):,} pixels…")
    started = time.perf_counter()
    worker = _WORKER[0] if _WORKER else None
    if method == "pca":
        points = _pca(features, seed=seed)
    elif worker is not None:
        points = worker.umap(features, seed=seed, neighbors=neighbors)
    else:
        points = _umap(features, seed=seed, neighbors=neighbors)
    seconds = time.perf_counter() - started
    report(1.0, f"embedded {len(sample):,} pixels in {seconds:.1f} s")
    return Embedding(points.astype(np.float32), sample, method, seconds)


def warm_up() -> float:
    """Compile umap-learn's numba code on a small input; return the seconds it took.

    With a worker (`start_worker`), wait until the worker has compiled it
    instead, and return 0.0. Safe to call from several threads: the first
    caller does the work, the others wait for it and return 0.0. The input
    is just large enough (over 4,096 points) to take the same path as real
    samples, and trains for few epochs.
    """
    if _WORKER:
        _WORKER[0].wait_ready()
        return 0.0
    with _UMAP_LOCK:
        if _WARM_SECONDS:
            return 0.0
        started = time.perf_counter()
        _umap(_warm_up_features(), seed=0, neighbors=15, epochs=5)
        _WARM_SECONDS.append(time.perf_counter() - started)
        return _WARM_SECONDS[0]


def is_warm() -> bool:
    """Whether a UMAP map would start at once: the worker (or, without one, this process) has compiled UMAP."""
    worker = next(iter(_WORKER), None)
    if worker is not None:
        return worker.ready.is_set() and worker.warm_seconds is not None
    return bool(_WARM_SECONDS)


#: How long UMAP takes to get ready, for messages: a new worker's start-up and compile, then the
#: first map of 5,000 points (chelsea, 2 shared cores: 7.5 s at load 6.9, 14.2 s at load 8.2; it was
#: 21–59 s before the neighbors came from a k-d tree). Once warm, 1.5–3 s per map.
READY_IN = "10–15 s"


def start_worker() -> None:
    """Run every UMAP embedding of this process in one long-lived worker process, started now.

    Call it once at server start (again is a no-op). The worker imports
    umap-learn and compiles it at once (10–15 s on 2 busy cores), while
    this process carries on: numba's compiler is mostly Python and umap's
    kernels hold the GIL, so a server doing either answers slowly meanwhile.
    Its compile runs at a lower priority (`COMPILE_NICENESS`), so it doesn't
    slow the results a user waits for meanwhile. From then on `embed` sends
    each UMAP sample to the worker; a map asked for while it is still
    compiling waits for it. If the worker dies, a new one is started and
    computes the map: UMAP never compiles in this process once a worker has
    been started. PCA stays in this process.
    """
    with _WORKER_LOCK:
        if not _WORKER:
            _WORKER.append(_Worker())


def stop_worker() -> None:
    """Stop the worker, if any; later maps are computed in this process again."""
    with _WORKER_LOCK:
        if _WORKER:
            _WORKER.pop().close()


def _warm_up_features() -> np.ndarray:
    return np.random.default_rng(0).random((_UMAP_EXACT_BELOW + 100, 3)).astype(np.float32)


class _Worker:
    """A child Python process that runs `_umap`, fed pickles through its stdin and answering on its stdout."""

    def __init__(self) -> None:
        root = str(Path(__file__).resolve().parents[1])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from quant.embed import _serve; _serve()"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )
        self.ready = threading.Event()
        self.warm_seconds: float | None = None
        self._lock = threading.Lock()  # one request on the pipe at a time
        threading.Thread(target=self._await_ready, name="umap-worker-ready", daemon=True).start()

    def _await_ready(self) -> None:
        try:
            assert self.process.stdout is not None
            self.warm_seconds = pickle.load(self.process.stdout)
        except Exception:  # noqa: BLE001 — a worker that died is replaced on the next map
            self.warm_seconds = None
        finally:
            self.ready.set()

    def wait_ready(self) -> None:
        self.ready.wait()

    def umap(self, features: np.ndarray, *, seed: int, neighbors: int) -> np.ndarray:
        """The map of `features`, from this worker or, if it died, from the new worker that replaces it."""
        with self._lock:
            try:
                ok, value = self._ask(features, seed, neighbors)
            except (EOFError, OSError, pickle.UnpicklingError):
                # The worker died (killed, out of memory). A new one computes this map: compiling UMAP
                # here instead would hold the server's GIL for seconds (module docstring).
                self.close()
                return _replace(self).umap_once(features, seed=seed, neighbors=neighbors)
        if not ok:
            raise RuntimeError(f"UMAP failed in its worker process: {value}")
        return value

    def umap_once(self, features: np.ndarray, *, seed: int, neighbors: int) -> np.ndarray:
        """The map of `features` from this worker; RuntimeError if it dies too (it is replaced for the next map)."""
        with self._lock:
            try:
                ok, value = self._ask(features, seed, neighbors)
            except (EOFError, OSError, pickle.UnpicklingError) as death:
                self.close()
                _replace(self)
                raise RuntimeError("UMAP's worker process died twice in a row; try again") from death
        if not ok:
            raise RuntimeError(f"UMAP failed in its worker process: {value}")
        return value

    def _ask(self, features: np.ndarray, seed: int, neighbors: int) -> tuple[bool, Any]:
        self.wait_ready()
        if self.warm_seconds is None:
            raise EOFError("the UMAP worker did not start")
        assert self.process.stdin is not None and self.process.stdout is not None
        pickle.dump((features, seed, neighbors), self.process.stdin)
        self.process.stdin.flush()
        return pickle.load(self.process.stdout)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


def _replace(dead: _Worker) -> _Worker:
    """The worker that takes `dead`'s place (another thread may have replaced it already)."""
    with _WORKER_LOCK:
        if _WORKER and _WORKER[0] is dead:
            _WORKER[0] = _Worker()
        return _WORKER[0] if _WORKER else _Worker()


#: The niceness of the worker's compile (seconds of CPU, just after the first results): it yields the
#: cores to the page's methods and the browser, whose next results a user is waiting for. The maps
#: themselves, which a user waits for, run at the usual priority.
COMPILE_NICENESS = 10


def _serve() -> None:
    """The worker's loop: compile UMAP, say so, then embed each sample sent on stdin."""
    _exit_with_parent()
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything the libraries print goes to stderr, never into the answers
    requests = sys.stdin.buffer
    started = time.perf_counter()
    compile_umap = threading.Thread(target=_compile_in_the_background, name="umap-compile")
    compile_umap.start()
    compile_umap.join()
    pickle.dump(time.perf_counter() - started, answers)
    answers.flush()
    while True:
        try:
            features, seed, neighbors = pickle.load(requests)
        except EOFError:  # the server closed the pipe: it has stopped
            return
        answer: tuple[bool, object]
        try:
            answer = (True, _umap(features, seed=seed, neighbors=neighbors))
        except Exception as exc:  # noqa: BLE001 — reported to the caller, the worker carries on
            answer = (False, f"{type(exc).__name__}: {exc}")
        pickle.dump(answer, answers)
        answers.flush()


def _compile_in_the_background() -> None:
    """Import and compile UMAP in this thread, niced on its own (Linux niceness is per thread).

    A process can't take back a niceness it gave up without privileges, so
    only this thread is niced: the worker's maps later run at the usual priority.
    """
    if sys.platform == "linux":
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), COMPILE_NICENESS)
    _umap(_warm_up_features(), seed=0, neighbors=15, epochs=5)


def _exit_with_parent() -> None:
    """End this worker when the server that started it ends, even in the middle of its compile."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


# umap-learn takes another path below this many points (unless given neighbors, as `_umap` does);
# the warm-up input is bigger, like real samples.
_UMAP_EXACT_BELOW = 4096
# Held while umap runs: by warm_up, so callers wait for the compilation, and
# by every embedding, so umap's numba code never runs in two threads at once.
_UMAP_LOCK = threading.RLock()
_WARM_SECONDS: list[float] = []
# The worker started by start_worker, if any (a list, so no `global`), and who may replace it.
_WORKER: list[_Worker] = []
_WORKER_LOCK = threading.Lock()


def _features(hist: Histogram, sample: PixelSample, *, space: str, seed: int) -> np.ndarray:
    rng = np.random.default_rng([seed, 1])
    rgb = hist.colors[sample.entries].astype(np.float64)
    rgb += rng.uniform(-0.5, 0.5, rgb.shape)
    return to_space(np.clip(rgb, 0, 255), space).astype(np.float32)


def _pca(features: np.ndarray, *, seed: int) -> np.ndarray:
    from sklearn.decomposition import PCA

    components = min(2, *features.shape)
    points = PCA(n_components=components, random_state=seed).fit_transform(features)
    if components < 2:
        points = np.hstack([points, np.zeros((len(points), 2 - components))])
    # PCA's component signs are arbitrary; fix them so the map never flips between runs.
    signs = np.sign(points[np.abs(points).argmax(axis=0), range(2)])
    return points * np.where(signs == 0, 1, signs)


def _umap(features: np.ndarray, *, seed: int, neighbors: int, epochs: int = UMAP_EPOCHS) -> np.ndarray:
    if len(features) <= 2:
        return _pca(features, seed=seed)
    import warnings

    import umap
    from sklearn.neighbors import NearestNeighbors

    k = max(2, min(neighbors, len(features) - 1))
    # Exact neighbors from a k-d tree (each point's first neighbor is itself, as umap expects):
    # milliseconds in 3-D, and pynndescent's uncacheable kernels are never compiled (module docstring).
    distances, indices = NearestNeighbors(n_neighbors=k).fit(features).kneighbors(features)
    model = umap.UMAP(
        n_components=2,
        n_neighbors=k,
        n_epochs=epochs,
        random_state=seed,  # makes umap single-threaded, hence reproducible
        init="spectral" if len(features) > 16 else "random",
        precomputed_knn=(indices.astype(np.int32), distances.astype(np.float32)),
    )
    # umap-learn launches numba parallel kernels: see quant.parallel.
    with _UMAP_LOCK, parallel.LAUNCH, warnings.catch_warnings():
        # "n_jobs value 1 overridden to 1 by setting random_state": expected, not news.
        warnings.filterwarnings("ignore", message=".*n_jobs.*", category=UserWarning)
        warnings.filterwarnings("ignore", message=".*Graph is not fully connected.*")
        # No pynndescent index comes with our neighbors, so the model can't `transform`: we never ask it to.
        warnings.filterwarnings("ignore", message=".*knn_search_index.*")
        return model.fit_transform(features)

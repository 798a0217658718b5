"""Weighted k-means on a color histogram, compiled with numba.

The palette stage clusters distinct colors weighted by their pixel counts.
scikit-learn's `KMeans` does that well for small inputs, but its per-call
overhead and brute-force assignment dominate on the histograms of big photos,
and it cannot start from a variance split. This module is the kmeans method's
engine:

1. **Start** from a variance-minimising split (`split_init`, in the spirit of
   Wu's quantizer: repeatedly cut the cluster with the largest squared error
   where the cut lowers it most), from that split made again once Lloyd's
   iterations show which colors it serves badly (``init="feedback"``), or
   from weighted k-means++.
2. **Lloyd iterations** on a bounded working set (the histogram merged into
   at most `max_points` cells of the color space, weighted means kept).
3. **Refinement** on the full histogram: a few more Lloyd iterations over
   every distinct color, so the palette is fitted to the real colors, not to
   merged cells.

Nearest-center search sorts the centers along their widest axis and scans
outward from the point's position on that axis, stopping as soon as the
axis gap alone exceeds the best distance found: exact, and typically a few
distance evaluations per point instead of k.

**Fixed centers** (locked colors) come first among the centers and never
move: the start places the other k − L as it would with no fixed centers,
and Lloyd's iterations move only those. Over the five samples, k = 8, 16,
64 and 2 or 4 locked colors, that beats "cluster k − L, then add the locked
colors" in 28 of 30 cases (mean ΔE2000 −1.5 %, at worst +0.4 %); placing k
centers and dropping those nearest the fixed ones was as good on average
but up to 9.5 % worse.

Everything is deterministic for a seed, whatever the number of threads:
threads only split the assignment step, sums are accumulated in order.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .numeric import weighted_means
from .parallel import renamed, run_parallel_or_serial

__all__ = [
    "weighted_kmeans",
    "nearest",
    "split_init",
    "kmeanspp_init",
    "weighted_by_error",
    "grid_reduce",
    "geometric_medians",
    "WORKING_POINTS",
]


# --- nearest center --------------------------------------------------------------------------


@njit(cache=True, inline="always")
def _squared_distance(points, i, centers, j):
    d = 0.0
    for c in range(points.shape[1]):
        e = points[i, c] - centers[j, c]
        d += e * e
    return d


def _nearest_sorted_py(points, centers, order, keys, axis, guess, half_gap, labels, dist):
    """For each point, the nearest center (exact); `keys` = centers[order, axis], ascending.

    `guess` (a center index per point, or an empty array) seeds the search with
    that center's distance, so that after a Lloyd step, when most points keep
    their center, the scan stops almost at once. `half_gap[j]` is half the
    distance from center j to its nearest other center, squared: a point
    closer than that to its guess keeps it without any scan (Elkan's lemma).
    """
    n = points.shape[0]
    k = centers.shape[0]
    for i in prange(n):
        pa = points[i, axis]
        # Binary search: first key >= pa.
        lo, hi = 0, k
        while lo < hi:
            mid = (lo + hi) >> 1
            if keys[mid] < pa:
                lo = mid + 1
            else:
                hi = mid
        best = np.inf
        best_j = 0
        if guess.shape[0] > 0:
            best_j = guess[i]
            best = _squared_distance(points, i, centers, best_j)
            if best < half_gap[best_j]:
                labels[i] = best_j
                dist[i] = best
                continue
        up = lo
        down = lo - 1
        while up < k or down >= 0:
            if up < k:
                gap = keys[up] - pa
                if gap * gap > best:
                    up = k
                else:
                    j = order[up]
                    d = _squared_distance(points, i, centers, j)
                    if d < best or (d == best and j < best_j):
                        best = d
                        best_j = j
                    up += 1
            if down >= 0:
                gap = pa - keys[down]
                if gap * gap > best:
                    down = -1
                else:
                    j = order[down]
                    d = _squared_distance(points, i, centers, j)
                    if d < best or (d == best and j < best_j):
                        best = d
                        best_j = j
                    down -= 1
        labels[i] = best_j
        dist[i] = best


_nearest_serial = njit(cache=True, nogil=True)(_nearest_sorted_py)
_nearest_parallel = njit(cache=True, nogil=True, parallel=True)(renamed(_nearest_sorted_py, "_nearest_sorted_parallel"))
#: Below this many points, threads cost more than they save (and on a busy
#: machine, waiting for a descheduled thread costs far more).
_PARALLEL_POINTS = 1 << 18


def sorted_along_widest_axis(centers: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """The axis along which `centers` spread most, their order along it (stable), and their coordinates there
    in that order: what a sorted-axis nearest search scans outwards on."""
    axis = int(np.argmax(centers.max(axis=0) - centers.min(axis=0))) if len(centers) > 1 else 0
    order = np.argsort(centers[:, axis], kind="stable").astype(np.int64)
    return axis, order, np.ascontiguousarray(centers[order, axis])


def nearest(points: np.ndarray, centers: np.ndarray, guess: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Index of the nearest center for every point, and the squared distance to it.

    Exact (same answer as a brute-force search, ties to the lower index).
    `guess`, optional, is a likely center per point (e.g. the previous label).
    """
    points = np.ascontiguousarray(points, dtype=np.float64)
    centers = np.ascontiguousarray(centers, dtype=np.float64)
    axis, order, keys = sorted_along_widest_axis(centers)
    labels = np.empty(len(points), np.int64)
    dist = np.empty(len(points), np.float64)
    if guess is None:
        guess, half_gap = np.zeros(0, np.int64), np.zeros(0)
    else:
        guess = np.ascontiguousarray(guess, dtype=np.int64)
        half_gap = _half_gaps(centers)
    arguments = (points, centers, order, keys, axis, guess, half_gap, labels, dist)
    run_parallel_or_serial(_nearest_parallel, _nearest_serial, len(points) >= _PARALLEL_POINTS, *arguments)
    return labels, dist


@njit(cache=True, nogil=True)
def _half_gaps(centers):
    """(½ · distance to the nearest other center)² for each center."""
    k = centers.shape[0]
    out = np.full(k, np.inf)
    for a in range(k):
        for b in range(a + 1, k):
            d = _squared_distance(centers, a, centers, b)
            if d < out[a]:
                out[a] = d
            if d < out[b]:
                out[b] = d
    return out / 4.0


# --- Lloyd ------------------------------------------------------------------------------------


@njit(cache=True, nogil=True)
def _weighted_sums(points, weights, labels, k):
    dims = points.shape[1]
    sums = np.zeros((k, dims))
    mass = np.zeros(k)
    for i in range(points.shape[0]):
        j = labels[i]
        w = weights[i]
        mass[j] += w
        for c in range(dims):
            sums[j, c] += w * points[i, c]
    return sums, mass


def _update(points, weights, labels, dist, centers, fixed=0):
    """New centers as weighted means; an empty cluster takes the worst-served point; the first `fixed` stay."""
    k = len(centers)
    sums, mass = _weighted_sums(points, weights, labels, k)
    new = centers.copy()
    filled = mass > 0
    filled[:fixed] = False
    new[filled] = sums[filled] / mass[filled, None]
    empty = fixed + np.flatnonzero(mass[fixed:] == 0)
    if len(empty):
        cost = weights * dist
        worst = np.argsort(-cost, kind="stable")[: len(empty)]
        new[empty] = points[worst]
    return new


def lloyd(points, weights, centers, *, max_iter: int, tol: float, fixed: int = 0):
    """Lloyd iterations from `centers`; returns (centers, labels, inertia).

    Stops when no center moves by more than `tol` (in the points' units), or
    after `max_iter` iterations. The first `fixed` centers never move.
    """
    centers = np.array(centers, dtype=np.float64)
    labels, dist = nearest(points, centers)
    for _ in range(max_iter):
        moved = _update(points, weights, labels, dist, centers, fixed)
        shift = float(np.sqrt(((moved - centers) ** 2).sum(axis=1).max()))
        centers = moved
        labels, dist = nearest(points, centers, labels)
        if shift <= tol:
            break
    return centers, labels, float((weights * dist).sum())


def geometric_medians(
    points: np.ndarray, weights: np.ndarray, labels: np.ndarray, n_labels: int, *, steps: int, floor: float
) -> np.ndarray:
    """Each label's weighted geometric median (the point of least summed distance), approximately.

    `steps` Weiszfeld iterations from the weighted mean: each point is
    re-weighted by 1 / its distance to its label's current center (at least
    `floor`, so that a point on the center doesn't take all the weight).
    Zero for a label no point has, like `weighted_means`.
    """
    centers, _ = weighted_means(points, weights, labels, n_labels)
    points = np.ascontiguousarray(points, dtype=np.float64)
    weights = np.ascontiguousarray(weights, dtype=np.float64)
    labels = np.ascontiguousarray(labels, dtype=np.int64)
    for _ in range(steps):
        centers = _weiszfeld_step(points, weights, labels, centers, floor)
    return centers


@njit(cache=True, nogil=True)
def _weiszfeld_step(points, weights, labels, centers, floor):
    """Each label's mean of its points weighted by weight ÷ distance to its center (at least `floor`)."""
    by_distance = np.empty(points.shape[0])
    for i in range(points.shape[0]):
        by_distance[i] = weights[i] / max(math.sqrt(_squared_distance(points, i, centers, labels[i])), floor)
    sums, mass = _weighted_sums(points, by_distance, labels, centers.shape[0])
    out = np.zeros_like(sums)  # zero for a label no point has, like weighted_means
    for j in range(out.shape[0]):
        if mass[j] > 0:
            out[j] = sums[j] / mass[j]
    return out


# --- starts -----------------------------------------------------------------------------------


def split_init(points: np.ndarray, weights: np.ndarray, k: int) -> np.ndarray:
    """k starting centers by repeated variance-minimising splits (Wu-style, on weighted points).

    The cluster with the largest weighted squared error is cut along its axis
    of largest variance, at the position that minimises the two halves' total
    squared error. Deterministic; no seed needed.
    """
    groups = [np.arange(len(points))]
    errors = [np.inf]
    while len(groups) < k:
        target = int(np.argmax(errors))
        if errors[target] <= 0:
            break
        cut = _best_cut(points[groups[target]], weights[groups[target]])
        if cut is None:
            errors[target] = 0.0
            continue
        left, right, left_sse, right_sse = cut
        members = groups[target]
        groups[target], errors[target] = members[left], left_sse
        groups.append(members[right])
        errors.append(right_sse)
    return np.array([(weights[g, None] * points[g]).sum(axis=0) / weights[g].sum() for g in groups])


def _best_cut(p, w):
    """Best cut of one cluster: (left members, right members, left error, right error), or None."""
    if len(p) < 2:
        return None
    order, cut, left_sse, right_sse = _best_cut_numba(np.ascontiguousarray(p), np.ascontiguousarray(w))
    if cut < 0:
        return None
    return order[:cut], order[cut:], left_sse, right_sse


@njit(cache=True, nogil=True)
def _best_cut_numba(p, w):
    """Sort along the axis of largest weighted variance; the prefix that minimises total squared error."""
    m, dims = p.shape
    total_w = 0.0
    mean = np.zeros(dims)
    for i in range(m):
        total_w += w[i]
        for c in range(dims):
            mean[c] += w[i] * p[i, c]
    mean /= total_w
    var = np.zeros(dims)
    for i in range(m):
        for c in range(dims):
            e = p[i, c] - mean[c]
            var[c] += w[i] * e * e
    axis = int(np.argmax(var))
    order = np.argsort(p[:, axis], kind="mergesort")
    tsum = mean * total_w
    tsq = 0.0
    for i in range(m):
        for c in range(dims):
            tsq += w[i] * p[i, c] * p[i, c]
    cw = 0.0
    csum = np.zeros(dims)
    csq = 0.0
    best, best_cut, best_left, best_right = np.inf, -1, 0.0, 0.0
    for r in range(m - 1):
        i = order[r]
        cw += w[i]
        for c in range(dims):
            csum[c] += w[i] * p[i, c]
            csq += w[i] * p[i, c] * p[i, c]
        if p[order[r + 1], axis] <= p[i, axis]:
            continue  # cuts only between different values along the axis
        rw = total_w - cw
        left_norm = 0.0
        right_norm = 0.0
        for c in range(dims):
            left_norm += csum[c] * csum[c]
            right_norm += (tsum[c] - csum[c]) * (tsum[c] - csum[c])
        left = csq - left_norm / cw
        right = (tsq - csq) - right_norm / rw
        if left + right < best:
            best, best_cut, best_left, best_right = left + right, r + 1, left, right
    return order, best_cut, max(best_left, 0.0), max(best_right, 0.0)


def weighted_by_error(points: np.ndarray, weights: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """`weights` raised where `centers` serve the points badly: × (1 + squared error ÷ its weighted mean).

    What a feedback start splits by (libimagequant raises poorly served
    colors' weights the same way between its iterations): a split of the
    raised weights gives a color region that Lloyd's iterations left with too
    few centers, such as a photo's few saturated colors, more of them.
    """
    error = nearest(points, centers)[1]
    mean = float(np.average(error, weights=weights)) if weights.sum() > 0 else 0.0
    return weights * (1.0 + error / mean) if mean > 0 else weights


def kmeanspp_init(points: np.ndarray, weights: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Greedy weighted k-means++ (as scikit-learn: 2 + log k candidates per step, the best kept).

    Fewer than k centers when every point already coincides with one.
    """
    trials = 2 + int(np.log(k))
    first = rng.choice(len(points), p=weights / weights.sum())
    draws = rng.random((k - 1, trials))
    return _kmeanspp(np.ascontiguousarray(points, dtype=np.float64), weights, first, draws)


@njit(cache=True, nogil=True)
def _kmeanspp(points, weights, first, draws):
    """k-means++ from center `first`: step c draws candidates at `draws[c - 1]` × the total potential."""
    n, dims = points.shape
    k, trials = draws.shape[0] + 1, draws.shape[1]
    centers = np.empty((k, dims))
    centers[0] = points[first]
    closest = np.empty(n)
    for i in range(n):
        closest[i] = _squared_distance(points, i, centers, 0)
    candidate = np.empty(n)
    best = np.empty(n)
    cumulative = np.empty(n)
    for c in range(1, k):
        total = 0.0
        for i in range(n):
            total += weights[i] * closest[i]
            cumulative[i] = total
        if total <= 0:
            return centers[:c]
        best_potential, best_index = np.inf, 0
        for t in range(trials):
            index = min(np.searchsorted(cumulative, draws[c - 1, t] * total), n - 1)
            potential = 0.0
            for i in range(n):
                candidate[i] = min(closest[i], _squared_distance(points, i, points, index))
                potential += weights[i] * candidate[i]
            if potential < best_potential:
                best_potential, best_index = potential, index
                best[:] = candidate
        centers[c] = points[best_index]
        closest[:] = best
    return centers


# --- working set ------------------------------------------------------------------------------


def grid_reduce(points: np.ndarray, weights: np.ndarray, max_points: int):
    """Merge points into cells of a regular grid until at most `max_points` cells remain.

    Returns (cell means, cell weights, cell of each point). The grid is laid
    on the first three coordinates; its cells grow by 25 % a step until the
    count fits, so the merge is about as fine as the budget allows.
    """
    if len(points) <= max_points:
        return points, weights, np.arange(len(points))
    low = points[:, :3].min(axis=0)
    span = float((points[:, :3].max(axis=0) - low).max()) or 1.0
    # Start from the grid whose cell count could just hold max_points, coarsen by 20 % a step.
    cells_per_axis = max(2.0, 2.0 * max_points ** (1 / 3))
    while True:
        size = span / cells_per_axis * (1 + 1e-9)
        cell = np.floor((points[:, :3] - low) / size).astype(np.int64)
        side = int(cells_per_axis) + 2
        codes = (cell[:, 0] * side + cell[:, 1]) * side + cell[:, 2]
        unique, parent = np.unique(codes, return_inverse=True)
        if len(unique) <= max_points:
            break
        cells_per_axis *= 0.8
    means, mass = weighted_means(points, weights, parent.ravel())
    return means, mass, parent


#: Default size of the working set the Lloyd iterations run on before the refinement.
WORKING_POINTS = 1 << 15


# --- the method -------------------------------------------------------------------------------


def weighted_kmeans(
    points: np.ndarray,
    weights: np.ndarray,
    k: int,
    *,
    seed: int = 0,
    init: str = "split",
    n_init: int = 1,
    max_iter: int = 20,
    max_points: int = WORKING_POINTS,
    refine_iter: int = 10,
    tol: float | None = None,
    working_set: tuple[np.ndarray, np.ndarray] | None = None,
    fixed: np.ndarray | None = None,
    settled_splits: dict | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Cluster weighted 3-D points into at most `k` groups; returns (centers, label per point).

    Parameters
    ----------
    points : (n, 3) float
        Colors in the clustering space.
    weights : (n,) float
        Pixel counts.
    init : {'split', 'feedback', 'kmeans++'}
        Variance-split start (deterministic); that split made again after
        Lloyd's iterations, each point's weight raised by its error
        (`weighted_by_error`, deterministic); or greedy k-means++.
    n_init : int
        Starts to try (k-means++ only; a split start is always the same);
        the lowest weighted squared error wins.
    max_iter : int
        Lloyd iterations on the working set.
    max_points : int
        Size of the working set: bigger inputs are merged on a grid first.
    working_set : (points, weights), optional
        That working set, from ``grid_reduce(points, weights, max_points)``,
        when clustering the same points at several k; `max_points` is then
        not used.
    refine_iter : int
        Lloyd iterations over all `points` after the working set converged.
    tol : float, optional
        Stop when no center moves more than this (on the working set and in
        the refinement); default 1e-3 of the data's span.
    fixed : (L, 3) float, optional
        Centers that never move (locked colors, in the points' space); they
        are the first L of the k centers, so labels 0…L-1 are theirs.
    settled_splits : dict, optional
        Where the split start's centers after Lloyd's iterations on the
        working set are kept, by k and fixed centers: a feedback
        start begins from them instead of doing that work again. One dict per
        working set and weights (kmeans' precompute keeps one with them).
    """
    points = np.ascontiguousarray(points, dtype=np.float64)
    weights = np.ascontiguousarray(weights, dtype=np.float64)
    span = float((points.max(axis=0) - points.min(axis=0)).max()) or 1.0
    tol = 1e-3 * span if tol is None else tol
    if working_set is None:
        working_set = grid_reduce(points, weights, max_points)[:2]
    work_points, work_weights = working_set
    fixed = np.zeros((0, points.shape[1])) if fixed is None else np.asarray(fixed, dtype=np.float64)
    k = min(k, len(work_points) + len(fixed))
    rng = np.random.default_rng(seed)
    free = k - len(fixed)

    def settle(start):  # Lloyd's iterations on the working set: (inertia, centers)
        centers, _, inertia = lloyd(work_points, work_weights, start, max_iter=max_iter, tol=tol, fixed=len(fixed))
        return inertia, centers

    def settled_split():  # the split start, settled: the same for a feedback start after a split one, so kept
        key = (free, fixed.tobytes(), max_iter, tol)
        if key not in memo:
            memo[key] = settle(np.vstack([fixed, split_init(work_points, work_weights, free)]))
        inertia, centers = memo[key]
        return inertia, centers.copy()  # the kept array is shared with later calls: never handed out

    memo = {} if settled_splits is None else settled_splits
    runs = []  # (inertia, centers) of each start
    for _ in range(n_init if init == "kmeans++" else 1):  # a split start is always the same
        if free == 0:
            runs.append(settle(fixed))
        elif init == "split":
            runs.append(settled_split())
        elif init == "feedback":
            raised = weighted_by_error(work_points, work_weights, settled_split()[1])
            runs.append(settle(np.vstack([fixed, split_init(work_points, raised, free)])))
        else:
            runs.append(settle(np.vstack([fixed, kmeanspp_init(work_points, work_weights, free, rng)])))
    centers = min(runs, key=lambda run: run[0])[1]  # the first of equals, as before
    # grid_reduce only ever returns fewer points than it was given, or the points themselves.
    if len(work_points) == len(points):
        return centers, nearest(points, centers)[0]
    centers, labels, _ = lloyd(points, weights, centers, max_iter=refine_iter, tol=tol, fixed=len(fixed))
    return centers, labels

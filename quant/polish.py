"""A palette's last pass, on what people see: ΔE2000, with an RGB term that keeps the image's structure.

Clustering minimises squared distances in its own space, but a result is
judged by mean CIEDE2000 (how different people see each pixel's color from
the original) and by SSIM (whether edges and texture survive). `polish`
lowers, over the image's pixels, the sum of

    ΔE2000(pixel, its palette color) + λ · ‖pixel − its palette color‖  (RGB, 0…255)

ΔE2000 alone sends dark pixels to colors of the right hue but the wrong
lightness (it forgives lightness errors far from mid-gray), which costs SSIM;
the RGB term, λ = `RGB_WEIGHT`, keeps them. Two steps, each lowering the sum,
as Lloyd's do for squared error:

1. **Colors**: each palette color (locked ones excepted) takes the 8-bit color
   of least sum over its colors, by a pattern search (steps of 2 and 1
   along R, G, B and the gray diagonal) on a sample of them, drawn by pixels
   (`SAMPLE` in all), so a flat area's one color always counts in full.
2. **Assignment**: each color goes to the palette color of least sum. Exact:
   the palette is sorted along its widest RGB axis and scanned outwards from
   the color, stopping once λ × the gap along that axis alone exceeds the best
   sum found; ΔE2000 is computed only for candidates that a lower bound
   doesn't already rule out.

Assigning before the colors' step as well changed mean ΔE2000 by < 0.5 % on
the tuning photos, for a third more time. On the tuning photos (bench.images.TUNE and TUNE_HARD,
k = 16 and 64) it lowered mean ΔE2000 by 1–4 % against kmeans' palette
and kept SSIM within ±0.003 (`python -m bench.tune`).

A **gray image** (every color has R = G = B, no locked colors) is solved
exactly instead, by `solve_gray`, before any clustering: its colors are at
most 256 levels on a line, and the best k intervals of them, each with its
best gray, are found by dynamic programming (optimal one-dimensional
quantization, as in Wu, 1991).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .ciede2000 import _difference, lab_of_byte_color, lab_of_bytes
from .kmeans import sorted_along_widest_axis
from .parallel import renamed, run_parallel_or_serial

__all__ = ["polish", "summed_cost", "pixel_sample", "solve_gray", "RGB_WEIGHT", "SAMPLE", "SAMPLE_MIN", "SAMPLE_MAX"]

#: λ, the weight of the RGB distance (0…255 units) beside ΔE2000. On the tuning photos 1.5 lowered ΔE2000
#: a little more and SSIM a little more often; 3 kept SSIM and gave back a third of the ΔE2000 gain.
RGB_WEIGHT = 2.0
#: About this many colors in all judge where the palette colors go, drawn by pixels: each cluster's
#: sample is SAMPLE // k of its colors, at least SAMPLE_MIN and at most SAMPLE_MAX. On the tuning photos
#: 64 a cluster lost much of the ΔE2000 gain at k = 16 but little at k = 256, where the search's time goes.
SAMPLE = 1 << 14
SAMPLE_MIN, SAMPLE_MAX = 64, 1024
#: Pattern-search step sizes, in 8-bit levels (a first step of 4 changed nothing on the tuning photos).
_STEPS = np.array([2, 1], np.int64)


@njit(cache=True, nogil=True, inline="always")
def _lightness_term(L1, L2):
    """ΔE2000's lightness term, |ΔL| / S_L: a lower bound of ΔE2000 itself."""
    offset = (0.5 * (L1 + L2) - 50.0) ** 2
    return abs(L2 - L1) / (1.0 + 0.015 * offset / math.sqrt(20.0 + offset))


@njit(cache=True, nogil=True, inline="always")
def _cost(rgb, lab, i, color, color_lab, weight, bound):
    """ΔE2000 + weight × RGB distance of color i to a palette color; infinity when it is sure to exceed `bound`.

    Sure by a lower bound: the RGB term plus ΔE2000's lightness term, |ΔL| / S_L,
    which ΔE2000 never falls below (its rotation term is at most the product of
    the chroma and hue terms). Most candidates are dismissed without the rest.
    """
    e0, e1, e2 = rgb[i, 0] - color[0], rgb[i, 1] - color[1], rgb[i, 2] - color[2]
    spread = weight * math.sqrt(e0 * e0 + e1 * e1 + e2 * e2)
    if spread > bound or spread + _lightness_term(lab[i, 0], color_lab[0]) > bound:
        return np.inf
    return spread + _difference(lab[i, 0], lab[i, 1], lab[i, 2], color_lab[0], color_lab[1], color_lab[2])


# --- assignment ----------------------------------------------------------------------------


@njit(cache=True, nogil=True, inline="always")
def _better(rgb, lab, i, palette, palette_lab, weight, j, guess, best, best_j):
    """(cost, row) of palette row j for color i if it beats (best, best_j), ties to the lower row; else those."""
    if j != guess:  # the guess's cost is `best` already
        cost = _cost(rgb, lab, i, palette[j], palette_lab[j], weight, best)
        if cost < best or (cost == best and j < best_j):
            return cost, j
    return best, best_j


def _assign_py(rgb, lab, palette, palette_lab, weight, order, keys, axis, labels):
    """Each color's palette color of least cost (ties to the lower index), scanning from its current label."""
    k = order.shape[0]
    for i in prange(rgb.shape[0]):
        position = np.searchsorted(keys, rgb[i, axis])
        guess = best_j = labels[i]
        best = _cost(rgb, lab, i, palette[guess], palette_lab[guess], weight, np.inf)
        up, down = position, position - 1
        while up < k or down >= 0:
            if up < k:
                if weight * (keys[up] - rgb[i, axis]) > best:
                    up = k  # the RGB term alone, along the axis, already exceeds the best
                else:
                    best, best_j = _better(rgb, lab, i, palette, palette_lab, weight, order[up], guess, best, best_j)
                    up += 1
            if down >= 0:
                if weight * (rgb[i, axis] - keys[down]) > best:
                    down = -1
                else:
                    best, best_j = _better(rgb, lab, i, palette, palette_lab, weight, order[down], guess, best, best_j)
                    down -= 1
        labels[i] = best_j


_assign_serial = njit(cache=True, nogil=True)(_assign_py)
_assign_parallel = njit(cache=True, nogil=True, parallel=True)(renamed(_assign_py, "_assign_parallel"))
#: Below this many colors, threads cost more than they save.
_PARALLEL_COLORS = 1 << 18


def _assign(rgb, lab, colors, labels, weight, usable):
    """`labels` (a palette row per color, updated in place) moved to each color's `usable` row of least cost.

    Rows not usable (clusters that lost every color, whose palette color nobody chose) take no colors.
    """
    palette = colors.astype(np.float64)
    rows = np.flatnonzero(usable)
    axis, at, keys = sorted_along_widest_axis(palette[rows])
    order = rows[at]
    arguments = (rgb, lab, palette, lab_of_bytes(colors), weight, order, keys, axis, labels)
    run_parallel_or_serial(_assign_parallel, _assign_serial, len(rgb) >= _PARALLEL_COLORS, *arguments)


def _summed_cost_py(rgb, lab, counts, palette, palette_lab, labels, weight, out):
    """`out[i]`: color i's cost to its palette color, × its pixels."""
    for i in prange(rgb.shape[0]):
        j = labels[i]
        out[i] = counts[i] * _cost(rgb, lab, i, palette[j], palette_lab[j], weight, np.inf)


_summed_cost_serial = njit(cache=True, nogil=True)(_summed_cost_py)
_summed_cost_parallel = njit(cache=True, nogil=True, parallel=True)(renamed(_summed_cost_py, "_summed_cost_parallel"))


def summed_cost(
    rgb: np.ndarray,
    lab: np.ndarray,
    counts: np.ndarray,
    colors: np.ndarray,
    labels: np.ndarray,
    *,
    weight: float = RGB_WEIGHT,
) -> float:
    """What `polish` lowers, for a palette as it is: ΔE2000 + `weight` × RGB distance, summed over the pixels.

    Each color counts to its own palette color (`labels`), not the nearest:
    the palette stage compares starts by it before polishing the best one.
    Arguments as `polish`'s.
    """
    rgb = np.ascontiguousarray(rgb, dtype=np.float64)
    colors = np.ascontiguousarray(colors, dtype=np.uint8)
    per_color = np.empty(len(rgb))
    arguments = (
        rgb,
        np.ascontiguousarray(lab, dtype=np.float64),
        np.ascontiguousarray(counts, dtype=np.float64),
        colors.astype(np.float64),
        lab_of_bytes(colors),
        np.ascontiguousarray(labels, dtype=np.int64),
        weight,
        per_color,
    )
    run_parallel_or_serial(_summed_cost_parallel, _summed_cost_serial, len(rgb) >= _PARALLEL_COLORS, *arguments)
    return float(per_color.sum())


# --- colors --------------------------------------------------------------------------------


@njit(cache=True, nogil=True)
def pixel_sample(labels, counts, n_labels, size):
    """For each label, at most `size` of its colors, drawn by pixels, and what each stands for; grouped by label.

    A label of at most `size` colors keeps them all, each standing for its
    pixels. A larger one is sampled systematically along its pixels (in
    histogram order, a color taken each time the running pixel count passes
    the next of `size` evenly spaced marks), so a color of many pixels (a
    flat area's) is always in, standing for as many marks as it spans.
    Returns (sample, stands_for, start, end): label j's colors are
    ``sample[start[j]:end[j]]``. With one label (all zeros), a sample of the
    whole: what the palette stage judges a method's starts on.
    """
    members = np.zeros(n_labels, np.int64)
    pixels = np.zeros(n_labels)
    for i in range(labels.shape[0]):
        members[labels[i]] += 1
        pixels[labels[i]] += counts[i]
    bounds = np.zeros(n_labels + 1, np.int64)
    bounds[1:] = np.cumsum(np.minimum(members, size))
    sample = np.empty(bounds[-1], np.int64)
    stands_for = np.empty(bounds[-1])
    start = bounds[:-1]
    end = start.copy()
    spacing = pixels / size
    running = np.zeros(n_labels)
    next_mark = 0.5 * spacing
    for i in range(labels.shape[0]):
        label = labels[i]
        if members[label] <= size:
            sample[end[label]], stands_for[end[label]] = i, counts[i]
            end[label] += 1
            continue
        running[label] += counts[i]
        marks = 0
        while next_mark[label] < running[label]:
            next_mark[label] += spacing[label]
            marks += 1
        if marks:
            sample[end[label]], stands_for[end[label]] = i, marks * spacing[label]
            end[label] += 1
    return sample, stands_for, start, end


@njit(cache=True, nogil=True)
def _sample_cost(rgb, lab, sample, stands_for, color, color_lab, weight, bound):
    """The cost of `color` over a sample, each color weighted by what it stands for; any sum ≥ `bound` once there."""
    lab_of_byte_color(color, color_lab)
    total = 0.0
    for at in range(sample.shape[0]):
        total += stands_for[at] * _cost(rgb, lab, sample[at], color, color_lab, weight, np.inf)
        if total >= bound:
            break
    return total


def _search_py(rgb, lab, sample, stands_for, start, end, colors, first_free, weight, steps):
    """Pattern search of each free palette color over 8-bit colors, lowering its cost over its sample."""
    out = colors.copy()
    for j in prange(first_free, colors.shape[0]):
        if end[j] == start[j]:
            continue
        members, shares = sample[start[j] : end[j]], stands_for[start[j] : end[j]]
        current = colors[j].astype(np.int64)
        candidate = np.empty(3, np.int64)
        color_lab = np.empty(3)
        best = _sample_cost(rgb, lab, members, shares, current, color_lab, weight, np.inf)
        for step in steps:
            improved = True
            came_by = -1  # the move that led here: its reverse goes back to a worse color
            while improved:
                improved = False
                for move in range(8):  # +/− along R, G, B, then along the gray diagonal
                    if move == came_by ^ 1:
                        continue
                    candidate[:] = current
                    delta = step if move % 2 == 0 else -step
                    if move < 6:
                        candidate[move // 2] += delta
                    else:
                        candidate += delta
                    if candidate.min() < 0 or candidate.max() > 255:
                        continue
                    cost = _sample_cost(rgb, lab, members, shares, candidate, color_lab, weight, best)
                    if cost < best:
                        best, improved, came_by = cost, True, move
                        current[:] = candidate
        out[j] = current
    return out


_search_serial = njit(cache=True, nogil=True)(_search_py)
_search_parallel = njit(cache=True, nogil=True, parallel=True)(renamed(_search_py, "_search_parallel"))
#: Below this many sampled colors in all, threads cost more than they save.
_PARALLEL_SAMPLE = 1 << 11


def _search(rgb, lab, counts, colors, labels, fixed, weight):
    """`colors` with each free row moved to the 8-bit color of least cost over a sample of its colors."""
    per_cluster = min(SAMPLE_MAX, max(SAMPLE_MIN, SAMPLE // len(colors)))
    sample, stands_for, start, end = pixel_sample(labels, counts, len(colors), per_cluster)
    arguments = (rgb, lab, sample, stands_for, start, end, colors, fixed, weight, _STEPS)
    return run_parallel_or_serial(_search_parallel, _search_serial, len(sample) >= _PARALLEL_SAMPLE, *arguments)


# --- gray images ------------------------------------------------------------------------------


@njit(cache=True, nogil=True)
def _gray_optimum(levels, counts, k, weight):
    """The k grays (and each level's) of least total cost for sorted distinct gray `levels`: exact.

    The best palette splits the sorted levels into k runs, each served by
    one gray inside its run. `run_cost[a, b]` is the least cost of levels
    a…b with one gray, from prefix sums of each level's cost to every gray;
    then `total[j, b]`, the least cost of the first b levels with j grays.
    """
    n = levels.shape[0]
    gray_lab = np.empty((256, 3))
    byte = np.empty(3, np.int64)
    for g in range(256):
        byte[:] = g
        lab_of_byte_color(byte, gray_lab[g])
    prefix = np.zeros((n + 1, 256))
    for a in range(n):
        level = levels[a]
        for g in range(256):
            de = _lightness_term(gray_lab[level, 0], gray_lab[g, 0])  # ΔE2000 itself, between two grays
            prefix[a + 1, g] = prefix[a, g] + counts[a] * (de + weight * math.sqrt(3.0) * abs(level - g))
    run_cost = np.full((n, n), np.inf)
    run_gray = np.zeros((n, n), np.int64)
    for a in range(n):
        for b in range(a, n):
            for g in range(levels[a], levels[b] + 1):
                cost = prefix[b + 1, g] - prefix[a, g]
                if cost < run_cost[a, b]:
                    run_cost[a, b], run_gray[a, b] = cost, g
    total = np.full((k + 1, n + 1), np.inf)
    start = np.zeros((k + 1, n + 1), np.int64)
    total[0, 0] = 0.0
    for j in range(1, k + 1):
        for b in range(j, n + 1):
            for a in range(j - 1, b):
                cost = total[j - 1, a] + run_cost[a, b - 1]
                if cost < total[j, b]:
                    total[j, b], start[j, b] = cost, a
    grays = np.empty(k, np.int64)
    labels = np.empty(n, np.int64)
    end = n
    for j in range(k, 0, -1):
        a = start[j, end]
        grays[j - 1] = run_gray[a, end - 1]
        labels[a:end] = j - 1
        end = a
    return grays, labels


def _is_gray(rgb: np.ndarray) -> bool:
    """Every color R = G = B, in whole levels (bytes always are: the palette stage passes the histogram's)."""
    same = np.all(rgb[:, 0] == rgb[:, 1]) and np.all(rgb[:, 1] == rgb[:, 2])
    return bool(same and (rgb.dtype == np.uint8 or np.all(rgb == np.rint(rgb))))


def solve_gray(
    rgb: np.ndarray, counts: np.ndarray, k: int, *, weight: float = RGB_WEIGHT
) -> tuple[np.ndarray, np.ndarray] | None:
    """The k grays of least summed ΔE2000 + `weight` × RGB distance, and each color's, for a gray image: exact.

    What `polish` aims at, found without a clustering to start from: the
    palette stage asks it first (`quant.methods.LastPass.exact`), so a gray
    image isn't clustered. None when a color isn't gray (R = G = B, whole)
    or there are no more than k colors.

    Parameters
    ----------
    rgb : (n, 3) uint8 or float
        The colors.
    counts : (n,)
        Pixels per color.
    k : int
        The number of grays.
    weight : float
        λ, the RGB distance's weight beside ΔE2000.

    Returns
    -------
    colors : (k, 3) uint8, and labels : (n,) int64, or None
    """
    if k >= len(rgb) or not _is_gray(rgb):
        return None
    order = np.argsort(rgb[:, 0], kind="stable")
    counts = np.ascontiguousarray(counts, dtype=np.float64)
    grays, run_labels = _gray_optimum(rgb[order, 0].astype(np.int64), counts[order], k, weight)
    labels = np.empty(len(rgb), np.int64)
    labels[order] = run_labels
    return np.repeat(grays.astype(np.uint8)[:, None], 3, axis=1), labels


# --- the pass ---------------------------------------------------------------------------------


def polish(
    rgb: np.ndarray,
    lab: np.ndarray,
    counts: np.ndarray,
    colors: np.ndarray,
    labels: np.ndarray,
    *,
    fixed: int = 0,
    weight: float = RGB_WEIGHT,
) -> tuple[np.ndarray, np.ndarray]:
    """A palette and labels of lower summed ΔE2000 + `weight` × RGB distance over the image's pixels.

    Parameters
    ----------
    rgb : (n, 3) float
        The colors (RGB on 0…255; merged bins may be fractional).
    lab : (n, 3) float
        The same colors in CIELAB.
    counts : (n,) float
        Pixels per color.
    colors : (m, 3) uint8
        The palette; its first `fixed` rows (locked colors) stay as they are.
    labels : (n,) int
        Each color's palette row, where the assignment starts from.
    fixed : int
        How many of the first rows are locked: kept, and still offered to every color.
    weight : float
        λ, the RGB distance's weight beside ΔE2000.

    Returns
    -------
    colors : (m, 3) uint8, and labels : (n,) int64
        Some rows may end up unused or equal; the palette stage drops and merges them.
    """
    rgb = np.ascontiguousarray(rgb, dtype=np.float64)
    counts = np.ascontiguousarray(counts, dtype=np.float64)
    lab = np.ascontiguousarray(lab, dtype=np.float64)
    labels = np.array(labels, dtype=np.int64)
    usable = np.bincount(labels, minlength=len(colors)) > 0
    usable[:fixed] = True
    colors = _search(rgb, lab, counts, np.ascontiguousarray(colors, dtype=np.uint8), labels, fixed, weight)
    _assign(rgb, lab, colors, labels, weight, usable)
    return colors, labels

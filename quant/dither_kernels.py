"""The dithering loops, compiled with numba (cached on disk): `quant.dither` is their registry and entry point.

Kept apart so that importing quant (the CLI's ``--help``, the registry) does
not import numba.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True, nogil=True, error_model="numpy")
def build_grid(palette, low, cell, shape):
    """For each cell of a grid over the working space, the palette rows that can be nearest to a point in it.

    A color can be nearest somewhere in the cell only if its distance to the
    cell's box is at most the smallest distance, over all colors, to the
    box's farthest corner (Heckbert's locally sorted search). Returns CSR
    arrays: cell c's candidates are ``members[start[c]:start[c + 1]]``.
    """
    m = palette.shape[0]
    cells = shape[0] * shape[1] * shape[2]
    near = np.empty(m)
    far = np.empty(m)
    start = np.zeros(cells + 1, np.int64)
    members = np.empty(0, np.int32)
    for fill in range(2):
        used = 0
        for c in range(cells):
            i0, rest = divmod(c, shape[1] * shape[2])
            i1, i2 = divmod(rest, shape[2])
            closest_far = np.inf
            for j in range(m):
                dn = 0.0
                df = 0.0
                for axis, i in ((0, i0), (1, i1), (2, i2)):
                    lo = low[axis] + i * cell
                    hi = lo + cell
                    v = palette[j, axis]
                    below, above = lo - v, v - hi
                    gap = max(below, above, 0.0)
                    dn += gap * gap
                    reach = max(abs(v - lo), abs(v - hi))
                    df += reach * reach
                near[j] = dn
                far[j] = df
                closest_far = min(closest_far, df)
            for j in range(m):
                if near[j] <= closest_far:
                    if fill:
                        members[used] = j
                    used += 1
            if not fill:
                start[c + 1] = used
        if not fill:
            members = np.empty(used, np.int32)
    return start, members


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _distance2(palette, j, t0, t1, t2):
    d0 = palette[j, 0] - t0
    d1 = palette[j, 1] - t1
    d2 = palette[j, 2] - t2
    return d0 * d0 + d1 * d1 + d2 * d2


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _cell(t0, t1, t2, low0, low1, low2, cell, n0, n1, n2):
    """The grid cell holding (t0, t1, t2), or −1 outside the grid. Scalars only: in numba every array
    argument of a per-pixel call costs reference counting, which tripled the loops' time."""
    i0 = math.floor((t0 - low0) / cell)
    i1 = math.floor((t1 - low1) / cell)
    i2 = math.floor((t2 - low2) / cell)
    if 0 <= i0 < n0 and 0 <= i1 < n1 and 0 <= i2 < n2:
        return (i0 * n1 + i1) * n2 + i2
    return -1


@njit(cache=True, nogil=True, error_model="numpy")
def nearest(palette, start, members, low, cell, shape, t0, t1, t2):
    """The palette row nearest to (t0, t1, t2): among its grid cell's candidates, or all rows outside the grid.

    The per-pixel loops write this out in place (see `_cell`).
    """
    c = _cell(t0, t1, t2, low[0], low[1], low[2], cell, shape[0], shape[1], shape[2])
    if c < 0:
        return _nearest_of_all(palette, t0, t1, t2)
    best, best_d = -1, np.inf
    for at in range(start[c], start[c + 1]):
        j = members[at]
        d = _distance2(palette, j, t0, t1, t2)
        if d < best_d:
            best, best_d = j, d
    return best


@njit(cache=True, nogil=True, error_model="numpy")
def _nearest_of_all(palette, t0, t1, t2):
    best = 0
    best_d = _distance2(palette, 0, t0, t1, t2)
    for j in range(1, palette.shape[0]):
        d = _distance2(palette, j, t0, t1, t2)
        if d < best_d:
            best, best_d = j, d
    return best


#: The farthest a diffusion tap may reach, in rows below and in columns either side: the error buffer
#: has that many padding columns, written without bounds checks.
TAP_REACH = 2


@njit(cache=True, nogil=True, error_model="numpy")
def diffuse(
    pixel_index, colors, palette, start, members, low, cell, shape, shifts, weights, strength, flatness, limits, bounds
):
    """Error diffusion over the image, serpentine; returns the (H, W) uint8 indices.

    `colors` are the histogram's colors in the working space and
    `pixel_index` each pixel's row there (−1: transparent, which gets index
    m and neither takes nor gives error). `shifts` (t, 2) int64 are the
    taps' dy, dx, in rows order, and `weights` (t,) their shares.
    `flatness`, when not empty, is the edge-aware mode's per-pixel share of
    dithering (0…255); `limits` (2,) are its small-error floor and
    large-error ceiling, as squared distances. `bounds` (2, 3) is the box a
    nudged color may reach: the error is scaled down to stay inside it, since
    error that no palette color can pay back only piles up into streaks (a
    color already outside the box on one channel still dithers on the others).
    """
    height, width = pixel_index.shape
    m = palette.shape[0]
    pad = TAP_REACH  # columns either side: a tap reaching past the image's edge lands there, and is never read
    error = np.zeros((3, width + 2 * pad, 3), np.float32)  # rows y, y+1, y+2, by y % 3
    out = np.empty((height, width), np.uint8)
    taps = shifts.shape[0]
    slots = np.empty(taps, np.int64)  # per row: each tap's error row and signed column offset
    offsets = np.empty(taps, np.int64)
    row_colors = np.empty((width, 3), colors.dtype)
    edge_aware = flatness.shape[0] > 0
    lo0, lo1, lo2, hi0, hi1, hi2 = bounds[0, 0], bounds[0, 1], bounds[0, 2], bounds[1, 0], bounds[1, 1], bounds[1, 2]
    low0, low1, low2 = low[0], low[1], low[2]
    n0, n1, n2 = shape[0], shape[1], shape[2]
    for y in range(height):
        now, two_below = y % 3, (y + 2) % 3  # once a row: a modulo per tap cost a fifth
        error[two_below, :, :] = 0.0
        forward = y % 2 == 0
        reach = 0  # the taps that land inside the image's rows (taps go row by row)
        for t in range(taps):
            if y + shifts[t, 0] < height:
                reach = t + 1
            slots[t] = (y + shifts[t, 0]) % 3
            offsets[t] = pad + (shifts[t, 1] if forward else -shifts[t, 1])
        # The row's colors first, in a loop of independent loads: a big photo's colors are megabytes, read
        # in no order, and the diffusion loop below, one pixel after another, would wait on each.
        for x in range(width):
            p = pixel_index[y, x]
            if p >= 0:
                row_colors[x, 0], row_colors[x, 1], row_colors[x, 2] = colors[p, 0], colors[p, 1], colors[p, 2]
        for step in range(width):
            x = step if forward else width - 1 - step
            p = pixel_index[y, x]
            if p < 0:
                out[y, x] = m
                continue
            e0, e1, e2 = error[now, x + pad, 0], error[now, x + pad, 1], error[now, x + pad, 2]
            share = strength
            if edge_aware:
                share *= flatness[y, x] / 255.0
                if (e0 * e0 + e1 * e1 + e2 * e2) * share * share < limits[0]:
                    share = 0.0  # an error too small to see: don't dither this pixel at all
            c0, c1, c2 = row_colors[x, 0], row_colors[x, 1], row_colors[x, 2]
            e0, e1, e2 = e0 * share, e1 * share, e2 * share
            t0, t1, t2 = c0 + e0, c1 + e1, c2 + e2
            if not (lo0 <= t0 <= hi0 and lo1 <= t1 <= hi1 and lo2 <= t2 <= hi2):
                fits = min(_room(c0, e0, lo0, hi0), _room(c1, e1, lo1, hi1), _room(c2, e2, lo2, hi2))
                t0 = c0 + _outward(c0, e0 * fits, lo0, hi0)
                t1 = c1 + _outward(c1, e1 * fits, lo1, hi1)
                t2 = c2 + _outward(c2, e2 * fits, lo2, hi2)
            c = _cell(t0, t1, t2, low0, low1, low2, cell, n0, n1, n2)
            if c < 0:
                j = _nearest_of_all(palette, t0, t1, t2)
            else:
                j, best_d = members[start[c]], np.inf
                for at in range(start[c], start[c + 1]):
                    k = members[at]
                    g0, g1, g2 = palette[k, 0] - t0, palette[k, 1] - t1, palette[k, 2] - t2
                    d = g0 * g0 + g1 * g1 + g2 * g2
                    if d < best_d:
                        j, best_d = k, d
            out[y, x] = j
            d0, d1, d2 = t0 - palette[j, 0], t1 - palette[j, 1], t2 - palette[j, 2]
            if edge_aware and d0 * d0 + d1 * d1 + d2 * d2 > limits[1]:
                d0, d1, d2 = 0.75 * d0, 0.75 * d1, 0.75 * d2  # damp large errors: no gaudy pixels
            for t in range(reach):
                w, slot, xx = weights[t], slots[t], x + offsets[t]
                error[slot, xx, 0] += d0 * w
                error[slot, xx, 1] += d1 * w
                error[slot, xx, 2] += d2 * w
    return out


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _room(value, nudge, low, high):
    """The share (≤ 1) of `nudge` that keeps `value` + nudge within low … high; 1 for a value already outside
    (`_outward` handles those), so one channel out of the box does not stop the others dithering."""
    if low <= value <= high:
        if value + nudge > high:
            return (high - value) / nudge
        if value + nudge < low:
            return (low - value) / nudge
    return 1.0


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _outward(value, nudge, low, high):
    """`nudge`, except that a value already outside low … high is not pushed farther out."""
    if value > high:
        return min(nudge, 0.0)
    if value < low:
        return max(nudge, 0.0)
    return nudge


@njit(cache=True, nogil=True, error_model="numpy")
def ordered(pixel_index, colors, palette, start, members, low, cell, shape, thresholds, offset):
    """Ordered dithering: each pixel nudged by its cell of the tiled threshold map times `offset` (3,)."""
    height, width = pixel_index.shape
    m = palette.shape[0]
    mask = thresholds.shape[0] - 1
    out = np.empty((height, width), np.uint8)
    low0, low1, low2 = low[0], low[1], low[2]
    n0, n1, n2 = shape[0], shape[1], shape[2]
    for y in range(height):
        for x in range(width):
            p = pixel_index[y, x]
            if p < 0:
                out[y, x] = m
                continue
            nudge = thresholds[y & mask, x & mask]  # the maps' sides are powers of two
            t0 = colors[p, 0] + nudge * offset[0]
            t1 = colors[p, 1] + nudge * offset[1]
            t2 = colors[p, 2] + nudge * offset[2]
            c = _cell(t0, t1, t2, low0, low1, low2, cell, n0, n1, n2)
            if c < 0:
                j = _nearest_of_all(palette, t0, t1, t2)
            else:
                j, best_d = members[start[c]], np.inf
                for at in range(start[c], start[c + 1]):
                    k = members[at]
                    g0, g1, g2 = palette[k, 0] - t0, palette[k, 1] - t1, palette[k, 2] - t2
                    d = g0 * g0 + g1 * g1 + g2 * g2
                    if d < best_d:
                        j, best_d = k, d
            out[y, x] = j
    return out


@njit(cache=True, nogil=True, error_model="numpy")
def flatness_map(pixel_index, colors, scale):
    """How flat each pixel's neighbourhood is, 0 (edge or noise) … 255 (smooth).

    The local contrast is the largest second difference across the pixel,
    horizontally or vertically: zero on a smooth gradient, large at an edge
    and in noise. Each pixel takes the largest contrast of its 3×3
    neighbourhood, so the pixels either side of an edge count as edge too.
    """
    height, width = pixel_index.shape
    contrast = np.zeros((height, width), np.float32)
    for y in range(height):
        for x in range(width):
            p = pixel_index[y, x]
            if p < 0:
                continue
            worst = 0.0
            for dy, dx in ((0, 1), (1, 0)):
                y0, x0, y1, x1 = y - dy, x - dx, y + dy, x + dx
                if y0 < 0 or x0 < 0 or y1 >= height or x1 >= width:
                    continue
                a, b = pixel_index[y0, x0], pixel_index[y1, x1]
                if a < 0 or b < 0:
                    continue
                total = 0.0
                for c in range(3):
                    second = colors[a, c] + colors[b, c] - 2.0 * colors[p, c]
                    total += second * second
                worst = max(worst, total)
            contrast[y, x] = math.sqrt(worst)
    out = np.empty((height, width), np.uint8)
    for y in range(height):
        for x in range(width):
            worst = 0.0
            for yy in range(max(y - 1, 0), min(y + 2, height)):
                for xx in range(max(x - 1, 0), min(x + 2, width)):
                    worst = max(worst, contrast[yy, xx])
            share = max(0.0, 1.0 - worst / scale)
            out[y, x] = np.uint8(255.0 * share * share + 0.5)
    return out


@njit(cache=True, nogil=True, error_model="numpy")
def nearest_all(colors, palette, start, members, low, cell, shape):
    out = np.empty(colors.shape[0], np.int64)
    for i in range(colors.shape[0]):
        out[i] = nearest(palette, start, members, low, cell, shape, colors[i, 0], colors[i, 1], colors[i, 2])
    return out


@njit(cache=True, nogil=True, error_model="numpy")
def oklab_of_bytes(rgb, linear_of_byte, rgb_to_lms, lms_to_oklab):
    """(n, 3) sRGB uint8 to Oklab float32, one color at a time: `quant.colorspace.to_space`'s formula, in a
    tenth of its time on the million colors of a big photo's histogram."""
    out = np.empty((rgb.shape[0], 3), np.float32)
    for i in range(rgb.shape[0]):
        r = linear_of_byte[rgb[i, 0]]
        g = linear_of_byte[rgb[i, 1]]
        b = linear_of_byte[rgb[i, 2]]
        l_ = (rgb_to_lms[0, 0] * r + rgb_to_lms[0, 1] * g + rgb_to_lms[0, 2] * b) ** (1.0 / 3.0)
        m_ = (rgb_to_lms[1, 0] * r + rgb_to_lms[1, 1] * g + rgb_to_lms[1, 2] * b) ** (1.0 / 3.0)
        s_ = (rgb_to_lms[2, 0] * r + rgb_to_lms[2, 1] * g + rgb_to_lms[2, 2] * b) ** (1.0 / 3.0)
        for c in range(3):
            out[i, c] = lms_to_oklab[c, 0] * l_ + lms_to_oklab[c, 1] * m_ + lms_to_oklab[c, 2] * s_
    return out


@njit(cache=True, nogil=True, error_model="numpy")
def blurred_fit_terms(indices, blurred, m, taps):
    """The normal equations of the palette whose dithered image, blurred, best matches the image blurred.

    With the indices fixed, the blurred output is linear in the palette P, so
    the squared error ‖K∗(P[indices] − image)‖² is ``P·GP − 2 P·R`` plus a
    constant, where K is the blur and K2 = KᵀK (separable: `taps`, K's
    weights convolved with themselves): ``G[j, l]`` sums K2 over the pairs of
    pixels indexed j and l, and ``R[j]`` sums `blurred` (the image convolved
    with K2, `blurred_colors`) over the pixels indexed j. Indices ``>= m``
    (transparent) take no part. Each pair is visited once (G is symmetric).
    Returns (G, R), (m, m) and (m, 3) float64.
    """
    height, width = indices.shape
    radius = taps.shape[0] // 2
    centre = taps[radius]
    # The half of the window after a pixel (later in the row, or in a later row), as flat offsets and weights.
    count = radius + (2 * radius + 1) * radius
    dys, dxs, weights = np.empty(count, np.int64), np.empty(count, np.int64), np.empty(count)
    t = 0
    for dy in range(radius + 1):
        for dx in range(-radius if dy else 1, radius + 1):
            dys[t], dxs[t], weights[t] = dy, dx, taps[radius + dy] * taps[radius + dx]
            t += 1
    offsets = dys * width + dxs
    flat = indices.ravel()
    half = np.zeros((m, m))  # each pair once: G = half + halfᵀ + the pixels' own weight
    own = np.zeros(m)
    target = np.zeros((m, 3))
    for y in range(height):
        for x in range(width):
            j = indices[y, x]
            if j >= m:
                continue
            own[j] += centre * centre
            target[j, 0] += blurred[y, x, 0]
            target[j, 1] += blurred[y, x, 1]
            target[j, 2] += blurred[y, x, 2]
            at = y * width + x
            if radius <= x < width - radius and y < height - radius:  # the whole half window inside
                for t in range(count):
                    other = flat[at + offsets[t]]
                    if other < m:
                        half[j, other] += weights[t]
                continue
            for t in range(count):
                yy, xx = y + dys[t], x + dxs[t]
                if yy < height and 0 <= xx < width:
                    other = indices[yy, xx]
                    if other < m:
                        half[j, other] += weights[t]
    gram = half + half.T
    for j in range(m):
        gram[j, j] += own[j]
    return gram, target


@njit(cache=True, nogil=True, error_model="numpy")
def blurred_colors(pixel_index, colors, taps):
    """Each pixel's color blurred by the separable `taps`, (H, W, 3) float32; transparent pixels count as 0
    (no color: the fit leaves them out) and the blur stops at the image's edges."""
    height, width = pixel_index.shape
    radius = taps.shape[0] // 2
    across = np.zeros((height, width, 3), np.float32)
    for y in range(height):
        for x in range(width):
            for dx in range(max(-radius, -x), min(radius, width - 1 - x) + 1):
                p = pixel_index[y, x + dx]
                if p >= 0:
                    w = taps[radius + dx]
                    for c in range(3):
                        across[y, x, c] += w * colors[p, c]
    out = np.zeros((height, width, 3), np.float32)
    for y in range(height):
        for dy in range(max(-radius, -y), min(radius, height - 1 - y) + 1):
            w = taps[radius + dy]
            for x in range(width):
                for c in range(3):
                    out[y, x, c] += w * across[y + dy, x, c]
    return out


@njit(cache=True, nogil=True, error_model="numpy")
def solve_positive_definite(a, b):
    """x with a x = b, for a symmetric positive definite (m, m) and b (m, c), by Cholesky: the refit's small
    solve, kept off BLAS, which once quant's kernels had run took 0.13 s for m = 256 instead of 1 ms (its
    threads contending on the shared 2 cores; with one BLAS thread it took 1 ms)."""
    m = a.shape[0]
    low = np.zeros((m, m))
    for j in range(m):
        total = a[j, j]
        for i in range(j):
            total -= low[j, i] * low[j, i]
        low[j, j] = math.sqrt(max(total, 1e-300))
        for r in range(j + 1, m):
            total = a[r, j]
            for i in range(j):
                total -= low[r, i] * low[j, i]
            low[r, j] = total / low[j, j]
    x = b.astype(np.float64).copy()
    for c in range(x.shape[1]):
        for r in range(m):  # forward: low y = b
            total = x[r, c]
            for i in range(r):
                total -= low[r, i] * x[i, c]
            x[r, c] = total / low[r, r]
        for r in range(m - 1, -1, -1):  # back: lowᵀ x = y
            total = x[r, c]
            for i in range(r + 1, m):
                total -= low[i, r] * x[i, c]
            x[r, c] = total / low[r, r]
    return x

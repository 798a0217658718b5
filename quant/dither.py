"""Dithering, part of stage 4 (remap): each pixel to a palette index, with the error spread about.

Undithered, every pixel of one color gets the same palette color, and a
smooth gradient breaks into bands. Dithering trades that for fine grain that
averages out at viewing distance. Three families, one registry (`DITHERS`):

* **error diffusion** (Floyd–Steinberg and the larger kernels): each pixel's
  error goes on to its unvisited neighbours, rows scanned in alternate
  directions (serpentine) so the error doesn't drift one way;
* **ordered**: a threshold map tiled over the image nudges each pixel before
  the nearest color is taken: Bayer matrices, or a blue-noise map made by
  void-and-cluster (`quant.blue_noise`), shipped as package data;
* **edge-aware**, in libimagequant's manner: Floyd–Steinberg dithering only
  flat areas, since dithering an edge makes it jagged and noise is dithered
  already; errors too small to see are dropped, large ones damped.

Before dithering, the palette is refitted to its dithered output
(`fit_palette`): a clustering palette is chosen for undithered error and
sits inside the image's colors, where diffusion can't reach their extremes.

Error is measured and diffused in Oklab, and the nearest color is chosen
there too (`WORKING_SPACE`; the README's "Dithering" section says why, with
the measurements). Transparent pixels stay transparent and carry no error.
The loops are compiled with numba (cached on disk).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

import numpy as np

from .numeric import is_integer

if TYPE_CHECKING:
    from .histogram import Histogram
    from .palette import Palette

#: Where errors are measured and spread: perceptually even, so an error of one size looks one size.
WORKING_SPACE = "oklab"


@dataclass(frozen=True)
class Dither:
    """One kind of dithering, as the registry lists it.

    Attributes
    ----------
    name : str
        What the API and the CLI call it, e.g. ``"floyd-steinberg"``.
    label : str
        Its name for people.
    family : {'none', 'diffusion', 'ordered', 'edge-aware'}
        How it works.
    description : str
        One line for ``--list-methods`` and the page.
    taps : tuple of (dy, dx, weight)
        For error diffusion: where each share of a pixel's error goes
        (dx is mirrored on right-to-left rows); weights are fractions.
    """

    name: str
    label: str
    family: str
    description: str
    taps: tuple[tuple[int, int, float], ...] = ()

    @property
    def dithers(self) -> bool:
        return self.family != "none"


def _taps(divisor: int, rows: tuple[tuple[int, ...], ...]) -> tuple[tuple[int, int, float], ...]:
    """A kernel as printed in the literature: rows of weights, the current pixel in the middle of the
    first row (its weight and those before it written as 0), divided by `divisor`."""
    half = len(rows[0]) // 2
    return tuple(
        (dy, dx - half, weight / divisor)
        for dy, row in enumerate(rows)
        for dx, weight in enumerate(row)
        if weight and (dy > 0 or dx > half)
    )


DITHERS = {
    d.name: d
    for d in (
        Dither("none", "None", "none", "every pixel to its own palette color: flat areas, bands in gradients"),
        Dither(
            "floyd-steinberg",
            "Floyd–Steinberg",
            "diffusion",
            "error diffusion to 4 neighbours (1976): the classic, fine grain",
            _taps(16, ((0, 0, 7), (3, 5, 1))),
        ),
        Dither(
            "jarvis-judice-ninke",
            "Jarvis–Judice–Ninke",
            "diffusion",
            "error diffusion to 12 neighbours over 3 rows (1976): smoother, coarser grain",
            _taps(48, ((0, 0, 0, 7, 5), (3, 5, 7, 5, 3), (1, 3, 5, 3, 1))),
        ),
        Dither(
            "stucki",
            "Stucki",
            "diffusion",
            "error diffusion to 12 neighbours (1981): Jarvis–Judice–Ninke, sharper",
            _taps(42, ((0, 0, 0, 8, 4), (2, 4, 8, 4, 2), (1, 2, 4, 2, 1))),
        ),
        Dither(
            "atkinson",
            "Atkinson",
            "diffusion",
            "error diffusion of 3/4 of the error to 6 neighbours (Apple, 1984): crisp, high contrast",
            _taps(8, ((0, 0, 0, 1, 1), (0, 1, 1, 1, 0), (0, 0, 1, 0, 0))),
        ),
        Dither(
            "burkes",
            "Burkes",
            "diffusion",
            "error diffusion to 7 neighbours over 2 rows (1988): Stucki, faster",
            _taps(32, ((0, 0, 0, 8, 4), (2, 4, 8, 4, 2))),
        ),
        Dither(
            "sierra",
            "Sierra",
            "diffusion",
            "error diffusion to 10 neighbours over 3 rows (1989)",
            _taps(32, ((0, 0, 0, 5, 3), (2, 4, 5, 4, 2), (0, 2, 3, 2, 0))),
        ),
        Dither(
            "sierra-2row",
            "Sierra 2-row",
            "diffusion",
            "error diffusion to 7 neighbours over 2 rows (1990)",
            _taps(16, ((0, 0, 0, 4, 3), (1, 2, 3, 2, 1))),
        ),
        Dither(
            "sierra-lite",
            "Sierra lite",
            "diffusion",
            "error diffusion to 3 neighbours (1990): nearly as good as Floyd–Steinberg, cheaper",
            _taps(4, ((0, 0, 2), (1, 1, 0))),
        ),
        Dither("bayer2", "Bayer 2×2", "ordered", "ordered, a 2×2 Bayer matrix: a coarse regular cross-hatch"),
        Dither("bayer4", "Bayer 4×4", "ordered", "ordered, a 4×4 Bayer matrix: the classic regular pattern"),
        Dither("bayer8", "Bayer 8×8", "ordered", "ordered, an 8×8 Bayer matrix: finer steps, regular pattern"),
        Dither(
            "blue-noise",
            "Blue noise",
            "ordered",
            "ordered, a 64×64 void-and-cluster blue-noise map: even grain with no pattern",
        ),
        Dither(
            "edge-aware",
            "Edge-aware",
            "edge-aware",
            "Floyd–Steinberg on flat areas only, as libimagequant: edges stay clean, noise isn't dithered again",
            _taps(16, ((0, 0, 7), (3, 5, 1))),
        ),
    )
}


def get_dither(name: str) -> Dither:
    """The registry entry called `name`; a ValueError listing the kinds otherwise."""
    if not isinstance(name, str) or name not in DITHERS:
        raise ValueError(f"unknown dither {name!r}; choose one of: {', '.join(DITHERS)}")
    return DITHERS[name]


def check_strength(strength: float) -> float:
    """`strength` as a float, if it is a number from 0 to 1; a ValueError saying so otherwise."""
    is_number = is_integer(strength) or isinstance(strength, float | np.floating)
    if not is_number or not 0.0 <= float(strength) <= 1.0:  # NaN fails the range test too
        raise ValueError(f"dither strength must be a number from 0 to 1, not {strength!r}")
    return float(strength)


# --- threshold maps --------------------------------------------------------------------------------


def bayer_matrix(size: int) -> np.ndarray:
    """The size×size Bayer index matrix (size a power of two): ranks ``0 … size² − 1``.

    Built by the recursion M₂ₙ = [[4Mₙ, 4Mₙ+2], [4Mₙ+3, 4Mₙ+1]].
    """
    matrix = np.zeros((1, 1), np.int64)
    while len(matrix) < size:
        matrix = np.block([[4 * matrix, 4 * matrix + 2], [4 * matrix + 3, 4 * matrix + 1]])
    return matrix


@cache
def threshold_map(name: str) -> np.ndarray:
    """The ordered dither's offsets, float32, centred on 0 and within (−½, ½): (rank + ½) / cells − ½."""
    if name == "blue-noise":
        from .blue_noise import load_map

        ranks = load_map().astype(np.int64)
    else:
        ranks = bayer_matrix(int(name.removeprefix("bayer")))
    return ((ranks + 0.5) / ranks.size - 0.5).astype(np.float32)


# --- the working space -----------------------------------------------------------------------------


def working_colors(rgb: np.ndarray) -> np.ndarray:
    """(n, 3) sRGB uint8 in the working space (Oklab), float32 C-contiguous (what the loops index)."""
    from .colorspace import _LINEAR_OF_BYTE, _LMS_TO_OKLAB, _RGB_TO_LMS
    from .dither_kernels import oklab_of_bytes

    rgb = np.ascontiguousarray(rgb, dtype=np.uint8).reshape(-1, 3)
    return oklab_of_bytes(rgb, _LINEAR_OF_BYTE, _RGB_TO_LMS, _LMS_TO_OKLAB)


# --- the entry point -------------------------------------------------------------------------------

#: How far past the palette's bounding box (a share of its extent) diffused error may push a color.
OVERSHOOT = 0.1
#: Edge-aware: second differences (Oklab) at which a pixel counts as wholly edge or noise. Tuned so that
#: a smooth photographic gradient stays well below it and an 8-bit sensor noise of σ ≈ 3 reaches it.
EDGE_CONTRAST = 0.04
#: Edge-aware: an error (Oklab distance) below this is not dithered: about a fifth of a JND (≈ 0.02).
INVISIBLE_ERROR = 0.004
#: Edge-aware: errors beyond this many times the undithered mean error are damped (libimagequant's 2.4 on MSE).
LARGE_ERROR = math.sqrt(2.4)


#: The nearest-color grid: at most about this many cells, and at most this many along any axis.
GRID_CELLS = 1 << 15
GRID_SIDE = 64


@dataclass(frozen=True)
class _Search:
    """A palette in the working space, sorted, with its nearest-color grid over `low` … `high` (see `build_grid`).

    Sorted so that a pixel equally near two colors gets the same one whatever the palette's order: the fit's
    dithered image, renumbered to the palette's final order (`palette.in_order`), is then the one the remap
    would make. The sort is strict: distinct sRGB colors have distinct float32 Oklab (checked over all 2²⁴).
    """

    #: (m, 3) float32, by Oklab L, then a, then b; the loops' indices are rows here.
    colors: np.ndarray
    #: (m,) the given palette's row of each of `colors`: `_renumbered(indices, rows)` gives its numbering.
    rows: np.ndarray
    #: (2, 3) float32: the palette's box widened by `OVERSHOOT`, the farthest a diffused color may go.
    bounds: np.ndarray
    low: np.ndarray
    high: np.ndarray
    cell: float
    shape: np.ndarray
    start: np.ndarray
    members: np.ndarray

    @classmethod
    def of(cls, palette: np.ndarray, covering: np.ndarray) -> _Search:
        """For `palette` (m, 3) working-space float32, with a grid over the box of it and `covering` (n, 3)."""
        rows = np.lexsort(palette.T[::-1])
        palette = palette[rows]
        bounds = _bounds(palette, OVERSHOOT)
        low = np.minimum(bounds[0], covering.min(axis=0)) if len(covering) else bounds[0]
        high = np.maximum(bounds[1], covering.max(axis=0)) if len(covering) else bounds[1]
        extent = np.maximum(high - low, 1e-6)
        cell = max(float(extent.max()) / GRID_SIDE, float(np.prod(extent) / GRID_CELLS) ** (1 / 3))
        shape = np.ceil(extent / cell).astype(np.int64)
        from .dither_kernels import build_grid

        start, members = build_grid(palette.astype(np.float64), low.astype(np.float64), cell, shape)
        return cls(palette, rows, bounds, low.astype(np.float64), high.astype(np.float64), cell, shape, start, members)

    @property
    def positions(self) -> np.ndarray:
        """(m,) each given palette row's row in `colors`: what `rows` undoes."""
        return np.argsort(self.rows)

    @property
    def grid(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float, np.ndarray]:
        """The arguments the loops take to find a nearest color."""
        return (self.colors, self.start, self.members, self.low, self.cell, self.shape)

    @property
    def typical_gap(self) -> float:
        """The median distance from a palette color to its nearest neighbour: the ordered dither's reach."""
        if len(self.colors) < 2:
            return 0.0
        gaps2 = ((self.colors[:, None, :] - self.colors[None, :, :]) ** 2).sum(axis=2)
        np.fill_diagonal(gaps2, np.inf)
        return float(np.median(np.sqrt(gaps2.min(axis=1))))


def _bounds(palette: np.ndarray, overshoot: float) -> np.ndarray:
    """(2, 3) float32: the palette's bounding box, widened by `overshoot` × its extent on each side."""
    low, high = palette.min(axis=0), palette.max(axis=0)
    margin = overshoot * (high - low)
    return np.array([low - margin, high + margin], np.float32)


def dither_indices(
    pixel_index: np.ndarray, hist_colors: np.ndarray, palette_colors: np.ndarray, dither: str, strength: float
) -> np.ndarray:
    """Palette index of every pixel, dithered; shape (H, W), uint8.

    Parameters
    ----------
    pixel_index : ndarray of int32, shape (H, W)
        Each pixel's row in `hist_colors`; −1 for a transparent pixel, which
        gets index ``len(palette_colors)``.
    hist_colors : ndarray of uint8, shape (n, 3)
        The image's distinct colors (`Histogram.colors`).
    palette_colors : ndarray of uint8, shape (m, 3)
    dither : str
        A name from `DITHERS` other than ``"none"``.
    strength : float
        0…1: the share of the error passed on (diffusion), or of the
        threshold map's reach (ordered).
    """
    return dither_points(pixel_index, working_colors(hist_colors), working_colors(palette_colors), dither, strength)


def dither_points(
    pixel_index: np.ndarray, colors: np.ndarray, palette: np.ndarray, dither: str, strength: float
) -> np.ndarray:
    """`dither_indices` with the colors already in the working space: (n, 3) and (m, 3) float32.

    The step after the color conversion, so the tests can give a kernel
    numbers they can follow by hand.
    """
    kind = get_dither(dither)
    strength = check_strength(strength)
    colors = np.ascontiguousarray(colors, dtype=np.float32)
    palette = np.ascontiguousarray(palette, dtype=np.float32)
    if not len(colors) or not len(palette):  # nothing visible: every pixel is the transparent slot
        return np.full(pixel_index.shape, len(palette), np.uint8)
    search = _Search.of(palette, colors)
    return _renumbered(_dithered_rows(search, pixel_index, colors, kind, strength), search.rows)


def _dithered_rows(
    search: _Search,
    pixel_index: np.ndarray,
    colors: np.ndarray,
    kind: Dither,
    strength: float,
    flatness: np.ndarray | None = None,
) -> np.ndarray:
    """`dither_points`' indices with its nearest-color search built, numbered as `search.colors` are (sorted).

    `flatness`, for the edge-aware kind: its map of the image, if already made (it doesn't depend on the palette).
    """
    from .dither_kernels import diffuse, flatness_map, ordered

    pixel_index = np.ascontiguousarray(pixel_index, dtype=np.int32)
    palette = search.colors
    if kind.family == "ordered":
        reach = strength * search.typical_gap
        offset = np.array([reach, 0.0, 0.0], np.float32)  # along Oklab's L: neutral, no hue shift
        return ordered(pixel_index, colors, *search.grid, threshold_map(kind.name), offset)
    taps = np.array(kind.taps, np.float64).reshape(-1, 3)
    shifts, weights = taps[:, :2].astype(np.int64), taps[:, 2].astype(np.float32)
    if kind.family == "edge-aware":
        flatness = flatness_map(pixel_index, colors, EDGE_CONTRAST) if flatness is None else flatness
        limits = np.array([INVISIBLE_ERROR**2, _large_error2(colors, palette, search)], np.float32)
    else:
        flatness, limits = np.zeros((0, 0), np.uint8), np.zeros(2, np.float32)
    strength32 = np.float32(strength)
    return diffuse(pixel_index, colors, *search.grid, shifts, weights, strength32, flatness, limits, search.bounds)


def _renumbered(indices: np.ndarray, new: np.ndarray) -> np.ndarray:
    """`indices` (uint8) with each palette row i renumbered `new[i]`; the transparent slot, ``len(new)``, stays."""
    return np.append(new, len(new)).astype(np.uint8)[indices]


def _large_error2(colors: np.ndarray, palette: np.ndarray, search: _Search) -> float:
    """The squared error beyond which edge-aware dithering damps: `LARGE_ERROR`² × the undithered mean
    squared error (over the distinct colors, a cheap stand-in for the pixels), at least a JND²."""
    from .dither_kernels import nearest_all

    nearest = nearest_all(colors, *search.grid)
    undithered2 = float(((colors - palette[nearest]) ** 2).sum(axis=1).mean())
    return max(LARGE_ERROR**2 * undithered2, 0.02**2)


# --- a palette fitted to its dithered output -------------------------------------------------------

#: Refits of the palette to its dithered output: each costs one dither of the sample and one small solve.
REFITS = 4
#: The most pixels a refit dithers: a bigger image is sampled in tiles of `FIT_TILE`² pixels spread over it.
FIT_PIXELS = 1 << 20
FIT_TILE = 32
#: How far (pixels) the fit's pairs of pixels reach: the radius of the viewing blur applied twice.
FIT_RADIUS = 4
#: Ridge on the refit's normal equations, as a share of their mean diagonal: holds a barely used color in place.
FIT_RIDGE = 1e-6


def fit_palette(hist: Histogram, palette: Palette, dither: str, strength: float) -> tuple[Palette, np.ndarray]:
    """`palette` refitted so that its dithered image, seen from a viewing distance, best matches the original,
    and that image.

    A clustering palette is chosen for undithered error: each color sits at its
    cluster's mean, inside the image's colors, so diffusion can't reach their
    extremes, and at small k the dithered image looks washed out. Here the
    dither's indices are held fixed and the palette is solved for the least
    squared error between the dithered image and the original, both blurred by
    the blurred ΔE2000's 1-pixel Gaussian (`quant.similarity.BLUR_SIGMA`), in
    the working space (Oklab); then the image is dithered again with the new
    palette, `REFITS` times. The palette, of those tried (the given one
    included), whose own dithered image scores best on that error is kept.
    Locked colors (and so a custom palette) stay exactly as they are. A big
    image is fitted on tiles spread over it (`FIT_PIXELS`).

    Returns
    -------
    Palette
        The refitted colors, in the palette's order (`Palette.order`; by the
        dithered pixels' counts in the fitted sample), each histogram color labelled with its
        nearest one (what the palette gives undithered).
    ndarray of uint8, shape (H, W)
        The image dithered with it, as `remap` would dither it: the best fit's
        own indices, renumbered once into the palette's order, unless the fit
        dithered only tiles of the image.
    """
    fixed = np.zeros(len(palette.colors), bool) if palette.locked is None else palette.locked
    if fixed.all() or not len(hist.colors):
        return palette, dither_indices(hist.pixel_index, hist.colors, palette.colors, dither, strength)
    colors = working_colors(hist.colors)
    box = np.array([colors.min(axis=0), colors.max(axis=0)])  # all `_Search.of` needs of the colors
    kind, strength = get_dither(dither), check_strength(strength)
    sample = _fit_sample(hist.pixel_index)
    best, indices, search = _best_refit(sample, colors, box, palette.colors, fixed, kind, strength)
    fitted, numbering = palette, search.rows  # the search's sorted rows, as the palette numbers them
    if best is not palette.colors:
        fitted, numbering = _with_colors(palette, best, fixed, indices, search, colors)
    if sample.shape != hist.pixel_index.shape:  # fitted on tiles: the whole image is still to dither
        indices = _dithered_rows(search, hist.pixel_index, colors, kind, strength)
    return fitted, _renumbered(indices, numbering)


def _best_refit(
    sample: np.ndarray,
    colors: np.ndarray,
    box: np.ndarray,
    start: np.ndarray,
    fixed: np.ndarray,
    kind: Dither,
    strength: float,
) -> tuple[np.ndarray, np.ndarray, _Search]:
    """The palette (uint8), of `start` and its refits, whose dithered `sample` has the least blurred error, that
    dithered sample, numbered as its nearest-color search's sorted `colors` are (renumbered once, by the
    caller), and that search."""
    from .dither_kernels import blurred_colors, blurred_fit_terms, flatness_map

    taps = _twice_blurred_taps()
    blurred = blurred_colors(sample, colors, taps)
    flatness = flatness_map(sample, colors, EDGE_CONTRAST) if kind.family == "edge-aware" else None  # once
    best, best_error, best_indices, best_search = start, np.inf, None, None
    candidate: np.ndarray | None = start
    for refit in range(REFITS + 1):  # the first tries `start`
        if candidate is None:
            break
        points = working_colors(candidate).astype(np.float64)
        search = _Search.of(points.astype(np.float32), box)
        indices = _dithered_rows(search, sample, colors, kind, strength, flatness)
        gram, target = blurred_fit_terms(indices, blurred, len(points), taps)
        at = search.positions  # the terms, from the search's numbering into the palette's
        gram, target = gram[np.ix_(at, at)], target[at]
        error = float(np.einsum("jl,jc,lc->", gram, points, points) - 2.0 * np.sum(points * target))
        if error < best_error:
            best, best_error, best_indices, best_search = candidate, error, indices, search
        candidate = _solved(gram, target, points, candidate, fixed) if refit < REFITS else None
    assert best_indices is not None and best_search is not None  # the first candidate is always tried
    return best, best_indices, best_search


def _with_colors(
    palette: Palette,
    colors: np.ndarray,
    fixed: np.ndarray,
    indices: np.ndarray,
    search: _Search,
    hist_colors: np.ndarray,
) -> tuple[Palette, np.ndarray]:
    """`palette` with new `colors` (the `fixed` rows locked), put in its order by their pixels in `indices`
    (numbered as `search.colors` are), each of `hist_colors` (working space) labelled with its nearest color
    through `search`; and each of `search.colors`' row in that order."""
    from .dither_kernels import nearest_all
    from .palette import in_order

    counts = np.bincount(indices.ravel(), minlength=len(colors))[search.positions]
    colors, locked, rank = in_order(colors, fixed, counts, palette.order)
    numbering = rank[search.rows]
    labelled = dataclasses.replace(
        palette,
        colors=colors,
        labels=numbering[nearest_all(hist_colors, *search.grid)],
        locked=None if palette.locked is None else locked,
    )
    return labelled, numbering


def _fit_sample(pixel_index: np.ndarray) -> np.ndarray:
    """`pixel_index`, or for a big image about `FIT_PIXELS` of it: tiles of `FIT_TILE`² pixels spread evenly
    over it, put together in their order (dithered as one image, their seams a small share of it)."""
    height, width = pixel_index.shape
    if height * width <= FIT_PIXELS:
        return np.ascontiguousarray(pixel_index, np.int32)
    share = math.sqrt(FIT_PIXELS / (height * width))
    rows, columns = _runs(height, share), _runs(width, share)
    return np.ascontiguousarray(pixel_index[np.ix_(rows, columns)], np.int32)


def _runs(length: int, share: float) -> np.ndarray:
    """About `share` of 0 … length − 1, in runs of `FIT_TILE` spread evenly (all of it when that is short)."""
    runs = max(1, round(length * share / FIT_TILE))
    if runs * FIT_TILE >= length:
        return np.arange(length)
    starts = np.linspace(0, length - FIT_TILE, runs).astype(np.int64)
    return (starts[:, None] + np.arange(FIT_TILE)[None, :]).ravel()


def _twice_blurred_taps() -> np.ndarray:
    """The weights of K2 = KᵀK, the viewing blur applied twice (σ√2), cut at `FIT_RADIUS` (past it they are under
    0.2 % of the centre's); float64."""
    from .similarity import gaussian_weights

    taps = np.convolve(gaussian_weights(), gaussian_weights())
    middle = len(taps) // 2
    return taps[middle - FIT_RADIUS : middle + FIT_RADIUS + 1]


def _solved(
    gram: np.ndarray, target: np.ndarray, points: np.ndarray, current: np.ndarray, fixed: np.ndarray
) -> np.ndarray | None:
    """The palette (uint8) solving the normal equations for the free colors, the fixed ones held; None when
    it rounds two colors onto one (a palette has no duplicates) or is `current` again (nothing moved)."""
    from .colorspace import to_rgb8
    from .dither_kernels import solve_positive_definite

    free = ~fixed
    ridge = FIT_RIDGE * max(float(np.trace(gram)) / len(gram), 1e-12)
    system = gram[np.ix_(free, free)] + ridge * np.eye(int(free.sum()))
    rhs = target[free] - gram[np.ix_(free, fixed)] @ points[fixed] + ridge * points[free]
    solved = current.copy()
    solved[free] = to_rgb8(solve_positive_definite(system, rhs), "oklab")
    if len(np.unique(solved, axis=0)) < len(solved) or np.array_equal(solved, current):
        return None
    return solved

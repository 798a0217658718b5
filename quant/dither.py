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

Error is measured and diffused in Oklab, and the nearest color is chosen
there too (`WORKING_SPACE`; the README's "Dithering" section says why, with
the measurements). Transparent pixels stay transparent and carry no error.
The loops are compiled with numba (cached on disk).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import numpy as np

from .numeric import is_integer

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
    """A palette in the working space, with its nearest-color grid over `low` … `high` (see `build_grid`)."""

    colors: np.ndarray
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
        bounds = _bounds(palette, OVERSHOOT)
        low = np.minimum(bounds[0], covering.min(axis=0)) if len(covering) else bounds[0]
        high = np.maximum(bounds[1], covering.max(axis=0)) if len(covering) else bounds[1]
        extent = np.maximum(high - low, 1e-6)
        cell = max(float(extent.max()) / GRID_SIDE, float(np.prod(extent) / GRID_CELLS) ** (1 / 3))
        shape = np.ceil(extent / cell).astype(np.int64)
        from .dither_kernels import build_grid

        start, members = build_grid(palette.astype(np.float64), low.astype(np.float64), cell, shape)
        return cls(palette, bounds, low.astype(np.float64), high.astype(np.float64), cell, shape, start, members)

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
    from .dither_kernels import diffuse, flatness_map, ordered  # numba: compiled (or loaded) on first use

    kind = get_dither(dither)
    strength = check_strength(strength)
    colors = np.ascontiguousarray(colors, dtype=np.float32)
    palette = np.ascontiguousarray(palette, dtype=np.float32)
    if not len(colors) or not len(palette):  # nothing visible: every pixel is the transparent slot
        return np.full(pixel_index.shape, len(palette), np.uint8)
    search = _Search.of(palette, colors)
    pixel_index = np.ascontiguousarray(pixel_index, dtype=np.int32)
    if kind.family == "ordered":
        reach = strength * search.typical_gap
        offset = np.array([reach, 0.0, 0.0], np.float32)  # along Oklab's L: neutral, no hue shift
        return ordered(pixel_index, colors, *search.grid, threshold_map(kind.name), offset)
    taps = np.array(kind.taps, np.float64).reshape(-1, 3)
    shifts, weights = taps[:, :2].astype(np.int64), taps[:, 2].astype(np.float32)
    if kind.family == "edge-aware":
        flatness = flatness_map(pixel_index, colors, EDGE_CONTRAST)
        limits = np.array([INVISIBLE_ERROR**2, _large_error2(colors, palette, search)], np.float32)
    else:
        flatness, limits = np.zeros((0, 0), np.uint8), np.zeros(2, np.float32)
    strength32 = np.float32(strength)
    return diffuse(pixel_index, colors, *search.grid, shifts, weights, strength32, flatness, limits, search.bounds)


def _large_error2(colors: np.ndarray, palette: np.ndarray, search: _Search) -> float:
    """The squared error beyond which edge-aware dithering damps: `LARGE_ERROR`² × the undithered mean
    squared error (over the distinct colors, a cheap stand-in for the pixels), at least a JND²."""
    from .dither_kernels import nearest_all

    nearest = nearest_all(colors, *search.grid)
    undithered2 = float(((colors - palette[nearest]) ** 2).sum(axis=1).mean())
    return max(LARGE_ERROR**2 * undithered2, 0.02**2)

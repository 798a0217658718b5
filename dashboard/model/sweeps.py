"""Quality versus k on the page: one method at one k, made with the page's recipe, measured in a worker.

`quant.sweep.sweep` measures undithered results only; the page's curves must
be of what its user would get, so each point here is quantized with the
current `Recipe` (dithering, strength, locked colors, palette order) and
measured with the blurred ΔE2000 too, the metric fair to dithering. The
custom palette has one k, its size: its "sweep" is a single point. A
`SweepPlan` holds a method's recipe and k, made once per sweep.

Each point is one piece of work for the page's warm workers (`measure_point`),
cached on its own by the page, so a rerun keeps every k already measured and
the workers sweep side by side. A worker keeps the last preparation it made
(`quant.prepare`: the k-independent work), so the next k of the same method
on the same image reuses it.
"""

from __future__ import annotations

from dataclasses import dataclass

from quant.histogram import Histogram
from quant.load import LoadedImage
from quant.methods import CUSTOM, get_method
from quant.palette import DOUBLING_KS
from quant.pipeline import Prepared
from quant.sweep import SweepRow, measure_row

from .outcomes import Recipe, outcome_k, prepared_for, quantized
from .settings import Settings
from .workers import clock_off


@dataclass(frozen=True)
class SweepPlan:
    """One method's sweep at the page's settings: the recipe every point is made with, and the k it is swept at.

    Made once per sweep (`of`); its repr names the sweep, for the page's caches.
    """

    method: str
    recipe: Recipe
    ks: tuple[int, ...]

    @classmethod
    def of(cls, settings: Settings, method: str) -> SweepPlan:
        """`method`'s sweep: k = 2, 4, …, 256, with the cards' recipe; your own palette only at its own size."""
        ks = (outcome_k(settings, method),) if method == CUSTOM.name else tuple(DOUBLING_KS)
        return cls(method, Recipe.for_method(settings, method), ks)


@dataclass(frozen=True)
class SweepPoint(SweepRow):
    """One k of a method's sweep, made with the page's recipe: a `quant.sweep.SweepRow` (whose `k`, for
    the custom palette, is its size), and two more attributes.

    Attributes
    ----------
    blurred_delta_e : float
        Mean ΔE2000 after the viewing blur, as in `quant.Metrics`: it judges dithering fairly.
    dither : str
        How the remap dithered (a key of `quant.DITHERS`).
    """

    blurred_delta_e: float
    dither: str


def point_key(image_key: str, method: str, k: int, recipe: Recipe) -> tuple:
    """One point's cache key: another dither, strength, lock, order or palette is another point."""
    return ("sweep-point", image_key, method, k, recipe)


def measure_point(
    image_key: str, image: LoadedImage, hist: Histogram, k: int, method: str, recipe: Recipe
) -> SweepPoint:
    """Quantize `image` at `k` with `method` and `recipe`, and measure it: one point of a sweep.

    Runs in a worker (`outcomes.method_pool`); the budget covers the
    quantization, as for a card. `quant.CUSTOM` maps to ``recipe.palette``
    and ignores `k`.
    """
    result = quantized(_prepared(image_key, image, hist, method, recipe), k, method, recipe)
    clock_off()
    row = measure_row(len(result.palette.colors) if method == CUSTOM.name else k, result)
    return SweepPoint(**vars(row), blurred_delta_e=result.blurred_delta_e, dither=result.dither)


#: The worker's last preparation and what it was made from: the next k of a sweep reuses it.
_last_prepared: tuple[tuple, Prepared] | None = None


def _prepared(image_key: str, image: LoadedImage, hist: Histogram, method: str, recipe: Recipe) -> Prepared:
    global _last_prepared
    # Dither, strength and seed act after the palette's k-independent work: not part of what is reused.
    made_from = (image_key, method, recipe.space, recipe.lock, recipe.order, recipe.palette)
    if _last_prepared is not None and _last_prepared[0] == made_from:
        return _last_prepared[1]
    prepared = prepared_for(image, hist, get_method(method), recipe)
    _last_prepared = (made_from, prepared)
    return prepared

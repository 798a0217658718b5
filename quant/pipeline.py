"""The pipeline, fitted once and used at many k: histogram → palette → remap → metrics / export.

`prepare` does the work that doesn't depend on k, once; `Prepared.quantize`
then runs the palette and remap stages at one k and returns a `Result`. A
result computes its PNG and its metrics on first use and keeps them, so
nothing is encoded or measured twice, and callers never pass them back in.

>>> import quant
>>> prepared = quant.prepare(quant.sample_image(), "kmeans")
>>> results = [prepared.quantize(k) for k in (4, 16, 64)]
>>> [len(r.palette.colors) for r in results]
[4, 16, 64]
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .colorspace import check_space
from .histogram import Histogram, build_histogram
from .load import LoadedImage, check_image
from .methods import CUSTOM, Method, get_method
from .metrics import Metrics, blurred_delta_e, histogram_delta_e, histogram_psnr, pixel_delta_e, pixel_psnr, ssim
from .numeric import is_integer
from .palette import ComputedOnce, Palette, PaletteWork, check_order
from .remap import is_dithered, remap, render

#: How long work reports how far it got: ``progress(fraction done, message for people)``.
Progress = Callable[[float, str], None]
#: Seeds go on to scikit-learn's `random_state`, which takes 0 … 2**32 - 1.
SEED_MAX = 2**32 - 1


class Prepared(PaletteWork):
    """One image and one method, ready to be quantized at any k: the palette stage's shared work, plus the remap.

    Make it with `prepare`; threads may share one.
    """

    def quantize(
        self, k: int | None = None, *, seed: int = 0, dither: str = "none", dither_strength: float = 1.0
    ) -> Result:
        """The image reduced to at most `k` colors (2…256); the same seed gives the same result.

        With a custom palette (``prepare(image, palette=colors)``) leave out k: it is the number of colors.
        `dither` is a name from `quant.DITHERS` (``"none"``, the default, or
        e.g. ``"floyd-steinberg"``, ``"blue-noise"``, ``"edge-aware"``) and
        `dither_strength` (0…1) how much of it. Dithering happens in the remap,
        after the palette, so one prepared image serves every dither. A
        dithered result carries the method's palette refitted to its dithered
        output (`quant.dither.fit_palette`; ``Result.refitted`` says whether it
        moved); locked colors and your own palette stay exactly as given, and
        without dithering the palette is the method's own.
        """
        seed = check_seed(seed)
        dithered = is_dithered(dither, dither_strength)  # a bad name or strength fails before any work
        started = time.perf_counter()
        # The method's last pass fits a palette to undithered output; a dithered result is fitted to its own.
        palette = self.palette(k, seed, polish=not dithered)
        if dithered:
            from .dither import fit_palette  # numba: compiled (or loaded from its cache) on first use

            fitted, indices = fit_palette(self.hist, palette, dither, dither_strength)  # the fit's remap, reused
        else:
            fitted, indices = palette, remap(self.hist, palette)
        seconds = time.perf_counter() - started
        refitted = fitted is not palette
        return Result(self.image, self.hist, fitted, indices, seconds, dither, float(dither_strength), refitted)


@dataclass(frozen=True, eq=False)
class Result(ComputedOnce):
    """One method's quantization of one image at one k.

    Attributes
    ----------
    image : LoadedImage
        The original.
    hist : Histogram
        Its histogram.
    palette : Palette
        Colors, per-histogram-entry labels, and what produced them.
    indices : ndarray of uint8, shape (H, W)
        Palette index of every pixel; ``len(palette.colors)`` marks transparency.
    seconds : float
        Palette plus remap time: the quantization itself, not the PNG or the metrics.
    dither : str
        How the remap dithered (a name from `quant.DITHERS`); ``"none"`` by default.
    dither_strength : float
        How much, 0…1.
    refitted : bool
        Whether `palette` is the method's palette refitted to the dithered
        output (`quant.dither.fit_palette`), so its colors differ from the
        undithered result's at this k. Its labels give each color's nearest
        palette color: the same palette undithered.

    The PNG, the pixel counts and each metric are computed on first use and kept.
    """

    image: LoadedImage
    hist: Histogram
    palette: Palette
    indices: np.ndarray
    seconds: float
    dither: str = "none"
    dither_strength: float = 1.0
    refitted: bool = False

    @property
    def dithered(self) -> bool:
        """Whether pixels of one color may have gone to different palette colors."""
        return is_dithered(self.dither, self.dither_strength)

    @property
    def notices(self) -> tuple[str, ...]:
        return self.palette.notices

    @property
    def png(self) -> bytes:
        """The result as an optimized palette PNG (PNG8), encoded once."""
        from .export import png_bytes

        return self._once("png", lambda: png_bytes(self.indices, self.palette.colors))

    @property
    def pixel_counts(self) -> np.ndarray:
        """Visible pixels per palette color, (m,) int64."""
        if self.dithered:
            return self._once("pixel_counts", self._counted_pixels)
        return self._once("pixel_counts", lambda: self.palette.pixel_counts(self.hist.counts))

    def _counted_pixels(self) -> np.ndarray:
        visible = self.indices[self.hist.pixel_index >= 0]
        return np.bincount(visible, minlength=len(self.palette.colors))[: len(self.palette.colors)].astype(np.int64)

    @property
    def ssim(self) -> float:
        """Mean SSIM over the RGB channels against the original; 1.0 = identical."""
        return self._once("ssim", lambda: ssim(self.image.rgb, self.rgb()))

    @property
    def psnr(self) -> float:
        """PSNR over visible pixels, in dB; ``inf`` when identical."""
        if self.dithered:  # pixels of one color went to different palette colors: count them one by one
            return self._once("psnr", lambda: pixel_psnr(self.hist, self.palette, self.indices))
        return self._once("psnr", lambda: histogram_psnr(self.hist, self.palette))

    @property
    def delta_e(self) -> float:
        """Mean CIEDE2000 over visible pixels; about 2.3 is a just-noticeable difference."""
        if self.dithered:
            return self._once("delta_e", lambda: pixel_delta_e(self.hist, self.palette, self.indices))
        return self._once("delta_e", lambda: histogram_delta_e(self.hist, self.palette))

    @property
    def blurred_delta_e(self) -> float:
        """Mean CIEDE2000 after a 1-pixel Gaussian blur in linear light: ΔE as seen from a viewing distance.

        Fair to dithering, which per-pixel ΔE and SSIM penalize though it
        looks better; see `quant.metrics.blurred_delta_e`.
        """
        visible = self.hist.pixel_index >= 0
        return self._once("blurred_delta_e", lambda: blurred_delta_e(self.image.rgb, self.rgb(), visible))

    @property
    def metrics(self) -> Metrics:
        """Every metric at once (see `quant.Metrics`)."""
        return Metrics(
            ssim=self.ssim,
            psnr=self.psnr,
            delta_e=self.delta_e,
            png_bytes=len(self.png),
            colors=len(self.palette.colors),
            blurred_delta_e=self.blurred_delta_e,
        )

    def rgb(self) -> np.ndarray:
        """The quantized image, H×W×3 uint8 (transparent pixels keep their original color), rendered once."""
        return self._once("rgb", lambda: render(self.indices, self.palette, self.image.rgb))


def evaluate(result: Result) -> Metrics:
    """Every metric of `result`: its SSIM, PSNR, ΔE2000, PNG size, colors and blurred ΔE2000.

    The result keeps what it computed (its PNG above all), so evaluating it
    again, or asking for one metric (``result.ssim``), costs nothing more.
    """
    return result.metrics


def check_seed(seed: int) -> int:
    if not is_integer(seed) or not 0 <= seed <= SEED_MAX:
        raise ValueError(f"seed must be an integer from 0 to {SEED_MAX}, not {seed!r}")
    return int(seed)


def prepare(
    image: LoadedImage,
    method: str | Method | None = None,
    *,
    space: str = "rgb",
    params: dict[str, Any] | None = None,
    hist: Histogram | None = None,
    palette: Any = None,
    lock: Any = None,
    order: str | None = None,
) -> Prepared:
    """Get `image` ready to be quantized with `method` at any k: the fit-once step.

    Parameters
    ----------
    image : LoadedImage
        From `load_image`, `from_array` or `sample_image`.
    method : str or Method, optional
        A name from `METHODS` (default ``"kmeans"``), or a `Method` entry
        itself (e.g. one not in the registry). Leave it out with `palette`.
    space : {'rgb', 'lab', 'oklab'}
        Where clustering methods measure color distance. Baselines work in RGB.
    params : dict, optional
        Method parameters; see ``METHODS[method].params``.
    hist : Histogram, optional
        `image`'s histogram, if already counted (`build_histogram(image)`).
    palette : colors, optional
        Your own palette: hex codes (``"#000000 #ffffff"`` or a list) or an
        (m, 3) array of 0…255, e.g. from `read_palette`. Every pixel gets the
        nearest of these colors (measured in `space`); nothing is clustered
        and k is their number (the method is `CUSTOM`, ``"custom"``).
    lock : colors, optional
        Colors every palette keeps exactly, given as `palette` is; they count
        towards k and the method makes the rest (see ``Method.lock_note``).
    order : {'frequency', 'lightness', 'hue', 'given'}, optional
        The palette's order (see `order_colors`). Default: ``given`` for your
        own palette, else ``frequency`` (most used first).

    Returns
    -------
    Prepared
        Call ``.quantize(k, seed=...)`` on it, at as many k as you like.

    Notes
    -----
    The work shared by every k (color weights, the reduced histogram, the
    method's `precompute`) is done on the first `quantize`, or at once by
    ``prepare(...).ready()``.
    """
    from .palette_file import as_colors

    check_image(image)
    if palette is not None:
        if method not in (None, CUSTOM.name, CUSTOM) or lock is not None:
            raise ValueError("palette= maps to your colors and no method runs: leave out method and lock")
        chosen, lock = CUSTOM, palette
    else:
        chosen = method if isinstance(method, Method) else get_method("kmeans" if method is None else method)
        if chosen is CUSTOM:
            raise ValueError("the custom method maps to your own colors: give them as palette=")
    resolved = chosen.resolve_params(params)
    locked = None if lock is None else as_colors(lock)
    order = check_order(order if order is not None else "given" if chosen is CUSTOM else "frequency")
    if hist is None:
        hist = build_histogram(image)
    elif hist.pixel_index.shape != image.rgb.shape[:2] or hist.total != image.visible_count:
        raise ValueError("hist is not this image's histogram: make it with build_histogram(image)")
    return Prepared(image, hist, chosen, check_space(space), resolved, lock=locked, order=order)


def quantize(
    image: LoadedImage,
    k: int | None = None,
    method: str | Method | None = None,
    *,
    space: str = "rgb",
    seed: int = 0,
    params: dict[str, Any] | None = None,
    palette: Any = None,
    lock: Any = None,
    order: str | None = None,
    dither: str = "none",
    dither_strength: float = 1.0,
) -> Result:
    """Reduce `image` to at most `k` colors with `method` (default kmeans), in one call.

    The same as ``prepare(image, method, space=..., params=..., palette=..., lock=...,
    order=...).quantize(k, seed=seed, dither=..., dither_strength=...)``; use `prepare`
    when quantizing one image at several k or with several dithers. With `palette`, k is
    the palette's size.

    Examples
    --------
    >>> from quant import hex_colors, quantize, sample_image
    >>> result = quantize(sample_image(), 16)
    >>> len(result.palette.colors) <= 16
    True
    >>> result = quantize(sample_image(), 8, lock="#000000, #ffffff")
    >>> {"#000000", "#ffffff"} <= set(hex_colors(result.palette.colors))
    True
    >>> quantize(sample_image(), palette=["#000000", "#ff0000", "#ffffff"]).palette.colors.tolist()
    [[0, 0, 0], [255, 0, 0], [255, 255, 255]]
    """
    is_dithered(dither, dither_strength)  # a bad name or strength fails before the fit-once work
    prepared = prepare(image, method, space=space, params=params, palette=palette, lock=lock, order=order)
    return prepared.quantize(k, seed=seed, dither=dither, dither_strength=dither_strength)

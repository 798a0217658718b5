"""Dashboard settings and their round trip through a URL query string.

A shared link carries the settings, never the image: opening it restores the
methods, k, color space, seed, dithering, palette order, locked colors, your
own palette and the view on the sample image. A link is typed,
pasted and edited by people, so every value is checked here, and a bad one
falls back to its default with a notice that says what happened.

This module knows nothing about Streamlit, so it is tested on its own.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from quant.colorspace import SPACES
from quant.dither import DITHERS
from quant.errors import shorten
from quant.export import hex_colors
from quant.methods import METHODS, STUDY_METHODS
from quant.palette import DOUBLING_KS, K_MAX, K_MIN, ORDERS
from quant.palette_file import PaletteError, as_colors, parse_colors
from quant.pipeline import SEED_MAX
from quant.remap import is_dithered

#: The study's palette size, and what the dashboard opens with.
DEFAULT_K = 8
#: The quick picks offered next to the k input.
K_PICKS = DOUBLING_KS

QueryValue = str | Sequence[str]


@dataclass(frozen=True)
class Settings:
    """Everything a shared link restores.

    Attributes
    ----------
    methods : tuple of str
        Names from `quant.METHODS`, in the order their columns appear.
    k : int
        Palette size, `K_MIN` … `K_MAX`.
    space : str
        A key of `quant.SPACES`.
    seed : int
        0 … `SEED_MAX`.
    view : str
        The dashboard view shown; an empty string means the first one.
    dither : str
        A key of `quant.DITHERS`, applied to every method; ``"none"`` by default.
    strength : float
        The dithering's strength, 0 … 1 in steps of `STRENGTH_STEP`.
    order : str
        The palettes' order, one of `quant.ORDERS`.
    lock : tuple of str
        Colors (``#rrggbb``) every clustering method's palette keeps.
    palette : tuple of str
        Your own palette (``#rrggbb``); when given, a "Custom palette" card maps to exactly these colors.
    """

    methods: tuple[str, ...] = STUDY_METHODS
    k: int = DEFAULT_K
    space: str = "rgb"
    seed: int = 0
    view: str = ""
    dither: str = "none"
    strength: float = 1.0
    order: str = "frequency"
    lock: tuple[str, ...] = ()
    palette: tuple[str, ...] = ()

    @property
    def dithers(self) -> bool:
        """Whether the remap dithers: a kind other than none, at a strength above 0 (the engine's rule)."""
        return is_dithered(self.dither, self.strength)


#: The strength slider's step; a link's strength is rounded to it.
STRENGTH_STEP = 0.05


def settings_from_query(query: Mapping[str, QueryValue], *, views: Sequence[str]) -> tuple[Settings, list[str]]:
    """Read settings from URL query parameters, falling back to defaults where a value is bad.

    Parameters
    ----------
    query : mapping of str to str or list of str
        The query parameters; a repeated key may map to a list. Methods may
        be repeated or comma-separated (``methods=kmeans,gmm``). Unknown keys
        are ignored, so links with tracking parameters still work.
    views : sequence of str
        The views the dashboard has; the first is the default.

    Returns
    -------
    settings : Settings
    notices : list of str
        One sentence per value that was replaced by its default.
    """
    defaults = Settings(view=views[0])
    notices: list[str] = []
    methods = defaults.methods
    if "methods" in query:
        methods, method_notices = _parse_methods(_values(query["methods"]))
        notices += method_notices
    settings = Settings(
        methods=methods or defaults.methods,
        k=_read_int(query, "k", K_MIN, K_MAX, defaults.k, notices),
        space=_read_choice(query, "space", tuple(SPACES), defaults.space, notices, what="color space"),
        seed=_read_int(query, "seed", 0, SEED_MAX, defaults.seed, notices),
        view=_read_choice(query, "view", tuple(views), defaults.view, notices, what="view"),
        dither=_read_choice(query, "dither", tuple(DITHERS), defaults.dither, notices, what="dithering"),
        strength=_read_strength(query, defaults.strength, notices),
        order=_read_choice(query, "order", ORDERS, defaults.order, notices, what="palette order"),
        lock=_read_colors(query, "lock", notices, what="locked colors"),
        palette=_read_colors(query, "palette", notices, what="custom palette"),
    )
    return settings, notices


def settings_to_query(settings: Settings) -> dict[str, str]:
    """The query parameters that `settings_from_query` reads back as `settings`.

    Every setting is written, defaults included, so a link means the same
    thing even if the defaults change later.
    """
    return {
        "methods": ",".join(settings.methods),
        "k": str(settings.k),
        "space": settings.space,
        "seed": str(settings.seed),
        "view": settings.view,
        "dither": settings.dither,
        "strength": f"{settings.strength:g}",
        "order": settings.order,
        "lock": ",".join(code.removeprefix("#") for code in settings.lock),
        "palette": ",".join(code.removeprefix("#") for code in settings.palette),
    }


def hex_codes(text: str) -> tuple[str, ...]:
    """Hex codes typed or pasted, as ``#rrggbb`` in their order; () for blank text.

    Raises
    ------
    quant.PaletteError
        For a bad code (naming it), duplicates or more than 256 colors.
    """
    return tuple(hex_colors(parse_colors(text))) if text.strip() else ()


def _parse_methods(values: list[str]) -> tuple[tuple[str, ...], list[str]]:
    names = [name.strip() for value in values for name in value.split(",") if name.strip()]
    known = tuple(dict.fromkeys(name for name in names if name in METHODS))
    unknown = list(dict.fromkeys(name for name in names if name not in METHODS))
    notices = []
    if unknown:
        notices.append(f"unknown method{'s' if len(unknown) > 1 else ''} {', '.join(map(_quote, unknown))} left out")
    if not known:
        notices.append(f"no known method in the link; showing the study's three ({', '.join(STUDY_METHODS)})")
    return known, notices


def _read_int(query: Mapping[str, QueryValue], key: str, low: int, high: int, default: int, notices: list[str]) -> int:
    if key not in query:
        return default
    text = _last(query[key])
    value = _parse_int(text, low, high)
    if value is None:
        notices.append(f"{key}={_quote(text)} is not a whole number from {low} to {high}; using {key}={default}")
        return default
    return value


def _read_choice(
    query: Mapping[str, QueryValue], key: str, choices: tuple[str, ...], default: str, notices: list[str], *, what: str
) -> str:
    if key not in query:
        return default
    value = _last(query[key])
    if value in choices:
        return value
    notices.append(f"unknown {what} {_quote(value)}; using {default}")
    return default


def _read_strength(query: Mapping[str, QueryValue], default: float, notices: list[str]) -> float:
    if "strength" not in query:
        return default
    text = _last(query["strength"]).strip()
    try:
        value = float(text) if len(text) <= 20 else math.nan
    except ValueError:
        value = math.nan
    if not 0 <= value <= 1:  # NaN fails this too
        notices.append(f"strength={_quote(text)} is not a number from 0 to 1; using strength={default:g}")
        return default
    return round(round(value / STRENGTH_STEP) * STRENGTH_STEP, 2)


def _read_colors(query: Mapping[str, QueryValue], key: str, notices: list[str], *, what: str) -> tuple[str, ...]:
    if key not in query:
        return ()
    # A link's codes are a list, not a palette file's text: a bad one is named by its place in the list,
    # with no lines or comments to speak of.
    codes = [code for value in _values(query[key]) for code in re.split(r"[\s,]+", value) if code]
    try:
        return tuple(hex_colors(as_colors(codes))) if codes else ()
    except PaletteError as refusal:
        notices.append(f"{what} left out: {shorten(str(refusal), 100)}")
        return ()


def _parse_int(text: str, low: int, high: int) -> int | None:
    text = text.strip()
    # int() would also accept signs, "1_000" and non-ASCII digits; a link has no need of them.
    if not (text.isascii() and text.isdecimal()) or len(text) > 20:
        return None
    value = int(text)
    return value if low <= value <= high else None


def _values(value: QueryValue) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _last(value: QueryValue) -> str:
    values = _values(value)
    return values[-1] if values else ""


def _quote(text: str) -> str:
    """A URL value fit to repeat in a notice: short, on one line."""
    return repr(shorten(text, 40))

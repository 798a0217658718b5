"""What the dashboard shows, computed without Streamlit.

`app.py` only draws. Everything it draws that takes a decision — running a
method without letting its failure escape, the previews, the metric table,
the compression ratio, safe download names, the palette swatches — is here,
so it can be tested on its own.
"""

from __future__ import annotations

import html
import io
import math
import re
from dataclasses import dataclass

import numpy as np
from PIL import Image

from .budget import Budget, BudgetExceeded, WorkFailed
from quant.export import hex_colors, png_bytes
from quant.histogram import Histogram
from quant.load import LoadedImage
from quant.methods import METHODS, Method, get_method
from quant.metrics import Metrics, evaluate
from quant.palette import Palette
from quant.pipeline import quantize

#: Widest image the page shows: Streamlit resizes anything wider on every
#: rerun, so previews are made once at this width instead.
PREVIEW_WIDTH = 1460


@dataclass(frozen=True)
class Outcome:
    """One method's result as the page needs it, or the reason it failed.

    Only what is drawn is kept (no per-pixel arrays besides the encoded PNGs),
    so many outcomes fit in the cache.

    Attributes
    ----------
    method : str
        The registry name.
    palette : Palette or None
        Colors and the label of every histogram entry (the views color pixels by it).
    pixel_counts : ndarray of int64, shape (m,)
        Visible pixels per palette color.
    metrics : Metrics or None
    seconds : float
        Quantization time (palette and remap), as the engine measures it.
    png : bytes
        The result as a palette PNG (PNG8): what the download gives.
    preview : bytes
        A PNG at most `PREVIEW_WIDTH` wide, for the page.
    notices : tuple of str
    error : str
        Empty unless the method failed; then only this field is meaningful.
    """

    method: str
    palette: Palette | None
    pixel_counts: np.ndarray
    metrics: Metrics | None
    seconds: float
    png: bytes
    preview: bytes
    notices: tuple[str, ...] = ()
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error

    @property
    def colors(self) -> np.ndarray:
        """The palette's colors, (m, 3) uint8; empty when the method failed."""
        return self.palette.colors if self.palette is not None else np.zeros((0, 3), np.uint8)


def run_method(
    image: LoadedImage,
    hist: Histogram,
    k: int,
    method: str,
    *,
    space: str,
    seed: int,
    budget: Budget | None = None,
) -> Outcome:
    """Quantize `image` with one method; any failure comes back as `Outcome.error`, never raised.

    A method that breaks (a library bug, memory) must cost only its own
    column on the page, so every exception is caught and described. With a
    `budget`, the method runs in a child process that is stopped when it
    overruns its time or memory, so it can't take the server down either.
    """
    try:
        chosen = get_method(method)
        if budget is None:
            return measure(image, hist, k, chosen, space=space, seed=seed)
        return budget.call(measure, image, hist, k, chosen, space=space, seed=seed)
    except Exception as exc:  # noqa: BLE001 — the boundary that keeps tracebacks off the page
        return failed(method, exc)


def measure(image: LoadedImage, hist: Histogram, k: int, method: Method, *, space: str, seed: int) -> Outcome:
    """Quantize, encode and score one method: everything a result card shows."""
    result = quantize(image, k, method, space=space, seed=seed, hist=hist, with_metrics=False)
    encoded = png_bytes(result.indices, result.palette.colors)
    metrics = evaluate(image.rgb, hist, result.palette, result.indices, encoded=encoded)
    counts = np.bincount(result.palette.labels, weights=hist.counts, minlength=len(result.palette.colors))
    return Outcome(method.name, result.palette, counts.astype(np.int64), metrics, result.seconds,
                   encoded, preview_png(encoded), result.notices)


def failed(method: str, exc: BaseException) -> Outcome:
    return Outcome(method, None, np.zeros(0, np.int64), None, 0.0, b"", b"", error=describe_failure(exc))


def describe_failure(exc: BaseException) -> str:
    """One line a user can read: the exception's type and message, shortened."""
    message = " ".join(str(exc).split())
    if isinstance(exc, (BudgetExceeded, WorkFailed)):
        text = message  # already says what happened, in the worker's words
    else:
        text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


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
    picture = Image.open(io.BytesIO(encoded))
    if picture.width <= max_width:
        return encoded
    picture = picture.convert("RGBA" if _has_transparency(picture) else "RGB")
    height = max(1, round(picture.height * max_width / picture.width))
    buffer = io.BytesIO()
    picture.resize((max_width, height), Image.Resampling.LANCZOS).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def _has_transparency(picture: Image.Image) -> bool:
    return "A" in picture.getbands() or "transparency" in picture.info


def human_size(size: int) -> str:
    """A byte count as people read it: ``"218.9 kB"``, ``"13.5 MB"`` (decimal units, as file managers show)."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:,.1f} {unit}"
    return f"{size:,} B"


def compression_ratio(original_bytes: int, quantized_bytes: int) -> float:
    """How many times smaller the quantized PNG is than the original PNG (> 1 means smaller)."""
    return original_bytes / quantized_bytes if quantized_bytes else math.nan


# --- metrics, as columns of a table and bars of a chart ----------------------------------------


@dataclass(frozen=True)
class Column:
    """One metric as the page shows it."""

    key: str
    label: str
    unit: str
    higher_is_better: bool
    digits: int

    def format(self, value: float) -> str:
        if math.isinf(value):
            return "∞" if value > 0 else "−∞"
        if math.isnan(value):
            return "–"
        return f"{value:,.{self.digits}f}{self.unit}"

    @property
    def axis_title(self) -> str:
        unit = self.unit.strip()
        better = "higher" if self.higher_is_better else "lower"
        return f"{self.label}{f' ({unit})' if unit else ''}, {better} is better"


COLUMNS = (
    Column("ssim", "SSIM", "", True, 3),
    Column("psnr", "PSNR", " dB", True, 1),
    Column("delta_e", "ΔE2000", "", False, 2),
    Column("png_kb", "PNG8 size", " kB", False, 1),
    Column("ratio", "Compression", "×", True, 1),
    Column("seconds", "Time", " s", False, 2),
)
COLUMN_BY_KEY = {column.key: column for column in COLUMNS}


def metric_row(outcome: Outcome, original_bytes: int) -> dict[str, float]:
    """The metrics of a successful outcome, keyed like `COLUMNS`."""
    m = outcome.metrics
    return {
        "ssim": m.ssim,
        "psnr": m.psnr,
        "delta_e": m.delta_e,
        "png_kb": m.png_bytes / 1000,
        "ratio": compression_ratio(original_bytes, m.png_bytes),
        "seconds": outcome.seconds,
    }


def metrics_table(outcomes: list[Outcome], original_bytes: int) -> list[dict[str, object]]:
    """One row per successful outcome: the method's label, whether it is a baseline, colors used, every metric."""
    return [
        {"method": METHODS[o.method].label, "baseline": METHODS[o.method].family == "baseline",
         "colors": o.metrics.colors, **metric_row(o, original_bytes)}
        for o in outcomes
        if o.ok
    ]


def card_title_html(label: str) -> str:
    """A card's title on one line, cut with an ellipsis (the full label on hover) when too long.

    Room is left for the help icon Streamlit puts after it: a title that
    wrapped would push that card's image below its neighbours'.
    """
    text = html.escape(label)
    return (f'<span title="{text}" style="display:inline-block;max-width:calc(100% - 28px);overflow:hidden;'
            f'text-overflow:ellipsis;white-space:nowrap;vertical-align:bottom"><strong>{text}</strong></span>')


def metrics_html(row: dict[str, float]) -> str:
    """A compact two-column grid of labelled metric values (numbers only, nothing user-given)."""
    cells = "".join(
        f'<div style="opacity:.7">{html.escape(c.label)}</div>'
        f'<div style="text-align:right;font-variant-numeric:tabular-nums">{html.escape(c.format(row[c.key]))}</div>'
        for c in COLUMNS
    )
    return (f'<div style="display:grid;grid-template-columns:auto auto;gap:2px 12px;'
            f'font-size:0.875rem;line-height:1.5">{cells}</div>')


def swatches_html(colors: np.ndarray, pixel_counts: np.ndarray | None = None) -> str:
    """A strip of palette swatches, each showing its hex code (and share of pixels) on hover."""
    total = float(pixel_counts.sum()) if pixel_counts is not None and len(pixel_counts) else 0.0
    swatches = []
    for i, hex_code in enumerate(hex_colors(colors)):
        tip = hex_code if not total else f"{hex_code} · {100 * pixel_counts[i] / total:.1f}% of pixels"
        swatches.append(
            f'<span title="{html.escape(tip)}" aria-label="{html.escape(hex_code)}" '
            f'style="display:inline-block;width:20px;height:20px;border-radius:3px;'
            f'background:{html.escape(hex_code)};box-shadow:inset 0 0 0 1px rgba(0,0,0,.15)"></span>'
        )
    return f'<div style="display:flex;flex-wrap:wrap;gap:3px">{"".join(swatches)}</div>'


# --- text from users: file names ------------------------------------------------------------


def file_stem(name: str, fallback: str = "image") -> str:
    """A safe stem for download names from an uploaded file's name.

    Keeps letters, digits, ``.``, ``_`` and ``-`` (ASCII only), turns every
    other run into one ``-``, drops the extension and any leading dots, and
    caps the length: a name that would be empty becomes `fallback`.

    >>> file_stem("../My Photo (1).JPG")
    'My-Photo-1'
    """
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = base.rsplit(".", 1)[0] if "." in base.lstrip(".") else base
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", base).strip(".-_")
    stem = re.sub(r"\.{2,}", ".", stem)[:60].strip(".-_")
    return stem or fallback


def download_name(stem: str, k: int, method: str, extension: str) -> str:
    """`chelsea.k8.kmeans.png`: the CLI's naming, so files from both sort together."""
    return f"{stem}.k{k}.{method}.{extension}"


_MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")
# GitHub-flavoured Markdown turns bare URLs and e-mail addresses into links after escapes are
# resolved, so escaping can't stop it; a zero-width space where each pattern starts does.
_AUTOLINK_STARTS = re.compile(r"(?<=:)(?=//)|(?<=www)(?=\.)|(?=@)", re.IGNORECASE)


def escape_markdown(text: str) -> str:
    """`text` shown literally by Streamlit's Markdown (no links, images, emphasis or HTML)."""
    unlinked = _AUTOLINK_STARTS.sub("\u200b", " ".join(text.split()))
    return _MARKDOWN_SPECIALS.sub(r"\\\1", unlinked)

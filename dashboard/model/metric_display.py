"""How each metric is shown, in one place: label, unit, digits, which way is better, axis title.

The result cards, the metrics table, the bar chart and the quality-versus-k
figures all read `COLUMNS`, so a metric is named and rounded the same way
everywhere on the page.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from quant.methods import get_method

from .outcomes import Done, Outcome


def human_size(size: int) -> str:
    """A byte count as people read it: ``"218.9 kB"``, ``"13.5 MB"`` (decimal units, as file managers show).

    The page's one rule for sizes in text: the largest unit that keeps the
    number at 1 or more, one decimal. (Axes, which need one unit for every
    value, say kB in their title instead; the metrics table writes its size
    column in its largest size's unit, `table_in_one_size_unit`.)
    """
    unit, scale = size_unit(size)
    return f"{size:,} B" if unit == "B" else f"{size / scale:,.1f} {unit}"


def size_unit(size: float) -> tuple[str, float]:
    """The unit `human_size` writes `size` (bytes) in, and its bytes: the largest that keeps the number at 1 or more."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return unit, scale
    return "B", 1.0


def table_in_one_size_unit(rows: list[dict[str, object]]) -> tuple[list[dict[str, object]], str]:
    """`metrics_table`'s rows with the PNG size as ``png_size``, in the unit of their largest, and its printf format.

    A table column needs one unit for every row (so it sorts as numbers);
    the largest size's, as `human_size` would write it, keeps a small
    image's sizes in bytes ("85 B", as its card says) rather than "0.1 kB".
    """
    largest = max((float(row["png_kb"]) * 1000 for row in rows), default=0.0)  # type: ignore[arg-type]
    unit, scale = size_unit(largest)

    def in_unit(row: dict[str, object]) -> dict[str, object]:  # the same columns, in order, the size renamed
        size = float(row["png_kb"]) * 1000 / scale  # type: ignore[arg-type]
        return dict(("png_size", size) if name == "png_kb" else (name, value) for name, value in row.items())

    return [in_unit(row) for row in rows], "%d B" if unit == "B" else f"%.1f {unit}"


@dataclass(frozen=True)
class Column:
    """One metric as the page shows it.

    `text`, when given, formats a finite value instead of `digits` and `unit`:
    the PNG size column is kept in kB for axes and tables, but written as
    `human_size` says, like every other size on the page.
    """

    key: str
    label: str
    unit: str
    higher_is_better: bool
    digits: int
    text: Callable[[float], str] | None = None

    def format(self, value: float) -> str:
        if math.isinf(value):
            return "∞" if value > 0 else "−∞"
        if math.isnan(value):
            return "–"
        if self.text is not None:
            return self.text(value)
        return f"{value:,.{self.digits}f}{self.unit}"

    @property
    def short_title(self) -> str:
        """The label and its unit, e.g. ``"PSNR, dB"``: a figure's axis next to a titled panel."""
        unit = self.unit.strip()
        return f"{self.label}, {unit}" if unit else self.label

    @property
    def axis_title(self) -> str:
        """E.g. ``"PSNR (dB), higher is better"``."""
        unit = self.unit.strip()
        better = "higher" if self.higher_is_better else "lower"
        return f"{self.label}{f' ({unit})' if unit else ''}, {better} is better"

    @property
    def panel_title(self) -> str:
        """`axis_title` on two lines, e.g. ``"PSNR (dB)<br>higher is better"``: it fits a panel half a phone wide."""
        title, better = self.axis_title.rsplit(", ", 1)
        return f"{title}<br>{better}"

    def hover(self, axis: str = "y") -> str:
        """A plotly hover template piece that formats `axis` as `format` does, e.g. ``"%{y:,.1f} dB"``."""
        return f"%{{{axis}:,.{self.digits}f}}{self.unit}"


COLUMNS = (
    Column("ssim", "SSIM", "", True, 3),
    Column("psnr", "PSNR", " dB", True, 1),
    Column("delta_e", "ΔE2000", "", False, 2),
    Column("blurred_delta_e", "Blurred ΔE2000", "", False, 2),
    Column("png_kb", "PNG8 size", " kB", False, 1, text=lambda kb: human_size(round(kb * 1000))),
    Column("ratio", "Compression", "×", True, 1),
    Column("seconds", "Time", " s", False, 2),
)
COLUMN_BY_KEY = {column.key: column for column in COLUMNS}


def compression_ratio(original_bytes: int, quantized_bytes: int) -> float:
    """How many times smaller the quantized PNG is than the original PNG (> 1 means smaller)."""
    return original_bytes / quantized_bytes if quantized_bytes else math.nan


def metric_row(outcome: Done, original_bytes: int) -> dict[str, float]:
    """The metrics of a successful outcome, keyed like `COLUMNS`."""
    m = outcome.metrics
    return {
        "ssim": m.ssim,
        "psnr": m.psnr,
        "delta_e": m.delta_e,
        "blurred_delta_e": m.blurred_delta_e,
        "png_kb": m.png_bytes / 1000,
        "ratio": compression_ratio(original_bytes, m.png_bytes),
        "seconds": outcome.seconds,
    }


def sweep_values(row) -> dict[str, float]:
    """The metrics of one sweep row, keyed like `COLUMNS` (no ratio).

    A `dashboard.model.sweeps.SweepPoint`, or a `quant.sweep.SweepRow`,
    which has no blurred ΔE (NaN: plotly leaves it out).
    """
    return {
        "ssim": row.ssim,
        "psnr": row.psnr,
        "delta_e": row.delta_e,
        "blurred_delta_e": getattr(row, "blurred_delta_e", math.nan),
        "png_kb": row.png_bytes / 1000,
        "seconds": row.seconds,
    }


def metrics_table(outcomes: list[Outcome], original_bytes: int) -> list[dict[str, object]]:
    """One row per successful outcome: the method's label, whether it is a baseline, colors used, every metric."""
    return [
        {
            "method": get_method(o.method).label,  # quant.CUSTOM too
            "baseline": get_method(o.method).is_baseline,
            "colors": o.metrics.colors,
            **metric_row(o, original_bytes),
        }
        for o in outcomes
        if isinstance(o, Done)
    ]

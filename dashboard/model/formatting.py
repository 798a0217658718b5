"""Text and HTML the page shows: sizes, labels, safe file names, escaped Markdown, small HTML snippets.

Everything a user typed (an upload's name) passes through `file_stem` or
`escape_markdown` before it reaches the page; the HTML snippets escape what
they embed.
"""

from __future__ import annotations

import html
import re

import numpy as np

from quant.colorspace import SPACES
from quant.export import hex_colors
from quant.methods import get_method

# human_size lives with the metrics, whose PNG sizes it writes; the page imports it from here too.
from .metric_display import COLUMNS
from .metric_display import human_size as human_size


def method_label(name: str) -> str:
    """A method's display label, marked when it is a baseline (`quant.CUSTOM` included: "Your own palette")."""
    method = get_method(name)
    return f"{method.label} · baseline" if method.is_baseline else method.label


def space_label(name: str) -> str:
    return SPACES[name].label


def card_title_html(label: str) -> str:
    """A card's title in full: it wraps between words rather than being cut.

    A narrow card gives its title a second line; a cut title ("Orig…",
    "libimagequant · b…") hid which method a card shows. The class lets the
    card grid give every title in a row the same height (`CARD_GRID_STYLE`).
    """
    return f'<div class="quant-card-title"><strong>{html.escape(label)}</strong></div>'


def metrics_html(row: dict[str, float]) -> str:
    """Labelled metric values, one per line: the label left, the value right (numbers only, nothing user-given).

    The value never wraps and the label column gives way first, so a narrow
    card can't run a value into its label ("0.832SSIM").
    """
    cells = "".join(
        f'<div style="opacity:.7;min-width:0">{html.escape(c.label)}</div>'
        f'<div style="text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums">'
        f"{html.escape(c.format(row[c.key]))}</div>"
        for c in COLUMNS
    )
    return (
        f'<div style="display:grid;grid-template-columns:minmax(0,1fr) auto;gap:2px 12px;'
        f'font-size:0.875rem;line-height:1.5">{cells}</div>'
    )


#: How a locked swatch stands out: a dark ring inside a light one, visible on any color and background.
LOCKED_RING = "box-shadow:0 0 0 2px #fff,0 0 0 4px #1f2937"
#: A swatch's look, the one home of it: the cards' clickable strip (`frontend/swatches.js`) and the HTML
#: strips (a card shown dimmed while the next settings compute, the sidebar's locked colors) both use it.
_SWATCH_STYLE = "display:inline-block;width:20px;height:20px;border-radius:3px;padding:0;border:none;"
_UNLOCKED_EDGE = "box-shadow:inset 0 0 0 1px rgba(0,0,0,.15)"
#: The strip around the swatches.
SWATCH_STRIP_STYLE = "display:flex;flex-wrap:wrap;gap:3px;padding:2px"


def swatch_entries(
    colors: np.ndarray, pixel_counts: np.ndarray | None = None, *, locked: np.ndarray | None = None
) -> list[dict[str, object]]:
    """Each palette color as its swatch shows it: hex code, label, hover text (share of pixels), locked, style."""
    total = float(pixel_counts.sum()) if pixel_counts is not None and len(pixel_counts) else 0.0
    shares = pixel_counts / total if pixel_counts is not None and total else None
    entries: list[dict[str, object]] = []
    for i, hex_code in enumerate(hex_colors(colors)):
        is_locked = locked is not None and bool(locked[i])
        tip = hex_code if shares is None else f"{hex_code} · {100 * shares[i]:.1f}% of pixels"
        look = f"{LOCKED_RING};margin:0 3px" if is_locked else _UNLOCKED_EDGE
        entries.append(
            {
                "hex": hex_code,
                "label": f"{hex_code} locked" if is_locked else hex_code,
                "tip": tip + (" · locked" if is_locked else ""),
                "locked": is_locked,
                "style": f"{_SWATCH_STYLE}background:{hex_code};{look}",
            }
        )
    return entries


def swatches_html(
    colors: np.ndarray, pixel_counts: np.ndarray | None = None, *, locked: np.ndarray | None = None
) -> str:
    """A strip of palette swatches, each showing its hex code (and share of pixels) on hover; locked ones ringed."""
    return swatch_strip_html(swatch_entries(colors, pixel_counts, locked=locked))


def swatch_strip_html(entries: list[dict[str, object]]) -> str:
    """`swatch_entries` as an HTML strip (no clicks): for the sidebar, and a card shown dimmed."""
    spans = "".join(
        f'<span role="img" title="{html.escape(str(entry["tip"]))}" aria-label="{html.escape(str(entry["label"]))}" '
        f'style="{html.escape(str(entry["style"]))}"></span>'
        for entry in entries
    )
    return f'<div style="{SWATCH_STRIP_STYLE}">{spans}</div>'


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


def count_of(count: int, noun: str) -> str:
    """``"1 color"``, ``"1,024 colors"``: a count and its noun, singular for one."""
    return f"{count:,} {noun}" if count == 1 else f"{count:,} {noun}s"


def as_sentence(text: str) -> str:
    """The engine's notes start lower-case, to follow "note:" on a command line; on the page they start a caption."""
    return text[:1].upper() + text[1:]

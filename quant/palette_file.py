"""Palette files: the one home for reading and writing a palette as text or an image.

Read (`read_palette`): a GIMP ``.gpl``, a JSON list of hex codes (or the JSON
quant writes), a text list of hex codes, or an image (its palette if it is a
palette image, else its distinct colors). Written (`palette_gpl`,
`palette_json`, `palette_text`, `write_palette`): the same text formats, so
whatever quant writes it reads back, colors in the same order.

Every refusal is a `PaletteError` whose message says what is wrong and what
to do, naming the line (or JSON entry) at fault; as with `quant.load_image`,
the caller names the file.
"""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ImageError, shorten
from .load import read_file

#: A palette has at most this many colors: a PNG8 index is one byte.
MAX_COLORS = 256
#: What `write_palette` writes, by file extension.
TEXT_FORMATS = (".gpl", ".json", ".txt", ".hex")

_HEX = re.compile(r"#?([0-9a-fA-F]{6}|[0-9a-fA-F]{3})")


class PaletteError(ValueError):
    """A palette (a file, or hex codes typed in) that quant cannot use, with a message that says what to do."""


# --- reading ----------------------------------------------------------------------------------


def read_palette(source: str | os.PathLike | bytes) -> np.ndarray:
    """The colors of a palette file, in the file's order.

    Parameters
    ----------
    source : path or bytes
        A GIMP ``.gpl``; JSON (a list of ``"#rrggbb"`` strings, of ``[r, g, b]``
        triples, or of ``{"hex": ...}`` / ``{"rgb": [...]}`` objects, bare or as
        ``{"colors": [...]}``, which is what `palette_json` writes); a text
        list of hex codes (see `parse_colors`); or an image: a palette image
        gives the palette entries its visible pixels use, any other image its
        distinct visible colors in the order they first appear (at most 256).

    Returns
    -------
    ndarray of uint8, shape (m, 3)
        1 ≤ m ≤ 256 distinct colors.

    Raises
    ------
    PaletteError
        If the file can't be read, is empty, has a bad color (the message names
        the line), has duplicate colors or more than 256.
    """
    data = _read_bytes(source)
    if not data.strip():
        raise PaletteError("the palette file is empty: give a .gpl, a JSON or text list of hex codes, or an image")
    text = _as_text(data)
    if text is None:
        return _image_colors(data)
    stripped = text.lstrip("\ufeff \t\r\n")
    if stripped.startswith("GIMP Palette"):
        return _checked(_gpl_entries(text))
    if stripped[:1] in "[{":
        return _checked(_json_entries(text))
    return _checked(_text_entries(text))


def parse_colors(text: str) -> np.ndarray:
    """Hex codes typed or pasted as text, in order: ``"#000000, #fff"`` or one per line.

    Codes are ``#rrggbb``, ``rrggbb`` or the short ``#rgb``, separated by
    commas, spaces or new lines. A comment runs from ``;`` to the end of the
    line; a line starting with ``//`` or with ``#`` and a space is a comment too.

    Raises
    ------
    PaletteError
        For a code that isn't hex (naming its line), no colors, duplicates or
        more than 256.
    """
    return _checked(_text_entries(text))


def as_colors(value: Any) -> np.ndarray:
    """Colors given any way a person or a program gives them, as an (m, 3) uint8 array.

    `value` is hex codes as text (`parse_colors`), a sequence of hex strings,
    or an (m, 3) array of 0…255 integers. Refused as `parse_colors` refuses.
    """
    if isinstance(value, str):
        return parse_colors(value)
    if len(value) and all(isinstance(item, str) for item in value):
        return _checked([(_hex_color(item.strip(), f"color {i}"), f"color {i}") for i, item in enumerate(value, 1)])
    array = np.asarray(value)
    if array.size == 0:
        return _checked([])
    integral = array.dtype.kind in "iu" or (array.dtype.kind == "f" and np.array_equal(array, np.round(array)))
    if array.ndim != 2 or array.shape[1] != 3 or not integral or array.min() < 0 or array.max() > 255:
        raise PaletteError(
            f"colors must be hex codes or an (m, 3) array of 0…255 integers, not {array.dtype}{array.shape}"
        )
    return _checked([(tuple(row), f"color {i}") for i, row in enumerate(array.astype(int).tolist(), 1)])


Entry = tuple[tuple[int, int, int], str]  # a color, and where it was found ("line 3")


def _text_entries(text: str) -> list[Entry]:
    entries = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.split(";", 1)[0].strip()
        if line.startswith("//") or line == "#" or line.startswith(("# ", "#\t")):
            continue
        tokens = [token for token in re.split(r"[\s,]+", line) if token]
        for place, token in enumerate(tokens, start=1):
            # Pasted lists often hold every code on one line: then say which code of the line.
            where = f"line {number}" if len(tokens) == 1 else f"line {number}, code {place}"
            entries.append((_hex_color(token, where, _COMMENT_HINT), where))
    return entries


_COMMENT_HINT = " (a comment starts with '; ' or '# ')"


def _hex_color(token: str, where: str, hint: str = "") -> tuple[int, int, int]:
    match = _HEX.fullmatch(token)
    if match is None:
        raise PaletteError(f"{where}: {shorten(token, 40)!r} is not a hex color; write #rrggbb, rrggbb or #rgb{hint}")
    digits = match.group(1)
    if len(digits) == 3:
        digits = "".join(d * 2 for d in digits)
    return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)


def _gpl_entries(text: str) -> list[Entry]:
    """A GIMP palette: a "GIMP Palette" line, optional Name:/Columns: lines, # comments, "R G B name" lines."""
    entries = []
    lines = text.lstrip("\ufeff").splitlines()
    for number, line in enumerate(lines[1:], start=2):
        line = line.strip()
        if not line or line.startswith("#") or re.match(r"(Name|Columns)\s*:", line):
            continue
        fields = line.split(None, 3)
        if len(fields) < 3 or not all(f.isdigit() and int(f) <= 255 for f in fields[:3]):
            raise PaletteError(
                f"line {number}: expected 'R G B name' with R, G and B from 0 to 255, got {shorten(line, 40)!r}"
            )
        red, green, blue = (int(f) for f in fields[:3])
        entries.append(((red, green, blue), f"line {number}"))
    return entries


def _json_entries(text: str) -> list[Entry]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PaletteError(f"line {exc.lineno}: not valid JSON ({exc.msg})") from None
    items = document.get("colors") if isinstance(document, dict) else document
    if not isinstance(items, list):
        raise PaletteError('expected a JSON list of hex codes, or {"colors": [...]} as quant writes it')
    return [(_json_color(item, f"entry {index}"), f"entry {index}") for index, item in enumerate(items, start=1)]


def _json_color(item: Any, where: str) -> tuple[int, int, int]:
    if isinstance(item, dict):
        if "hex" in item:
            item = item["hex"]
        elif "rgb" in item:
            item = item["rgb"]
    if isinstance(item, str):
        return _hex_color(item.strip(), where)
    if (
        isinstance(item, list)
        and len(item) == 3
        and all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 255 for v in item)
    ):
        return item[0], item[1], item[2]
    raise PaletteError(
        f'{where}: {shorten(json.dumps(item), 40)} is not a color; write "#rrggbb", [r, g, b] or {{"hex": "#rrggbb"}}'
    )


def _checked(entries: list[Entry]) -> np.ndarray:
    """The colors of `entries` as an (m, 3) uint8 array, refusing none, duplicates and more than 256."""
    if not entries:
        raise PaletteError("the palette has no colors: give at least one hex code")
    if len(entries) > MAX_COLORS:
        raise PaletteError(f"the palette has {len(entries)} colors; a palette holds at most {MAX_COLORS}")
    first_seen: dict[tuple[int, int, int], str] = {}
    for color, where in entries:
        if color in first_seen:
            raise PaletteError(
                f"{where}: {_hex(color)} is already the color of {first_seen[color]}; remove one of the two"
            )
        first_seen[color] = where
    return np.array([color for color, _ in entries], dtype=np.uint8).reshape(-1, 3)


def _image_colors(data: bytes) -> np.ndarray:
    """A palette image's used entries in palette order; any other image's distinct colors in order of appearance."""
    from PIL import Image, ImageOps

    from .load import load_image

    try:
        loaded = load_image(data)
    except ImageError as exc:
        raise PaletteError(f"not a palette: {exc}") from None
    with Image.open(io.BytesIO(data)) as image:
        if image.mode == "P":
            indices = np.asarray(ImageOps.exif_transpose(image))
            flat = np.asarray(image.getpalette() or [], dtype=np.uint8).reshape(-1, 3)
            visible = indices if loaded.opaque is None else indices[loaded.opaque]
            used = np.unique(visible)
            colors = flat[used[used < len(flat)]]
            # An image's palette may repeat an entry; unlike a typed list, that carries no meaning.
            return colors[np.sort(np.unique(colors, axis=0, return_index=True)[1])]
    pixels = loaded.rgb.reshape(-1, 3) if loaded.opaque is None else loaded.rgb[loaded.opaque]
    if len(pixels) == 0:
        raise PaletteError("the image is fully transparent, so it has no colors to take a palette from")
    distinct, first = np.unique(pixels, axis=0, return_index=True)
    if len(distinct) > MAX_COLORS:
        raise PaletteError(
            f"the image has {len(distinct):,} distinct colors; a palette holds at most {MAX_COLORS}: "
            "quantize it first (quant IMAGE -k 256) or give a palette image"
        )
    return distinct[np.argsort(first, kind="stable")]


def _read_bytes(source: str | os.PathLike | bytes) -> bytes:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source)
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"source must be a path or bytes, not {type(source).__name__}")
    return read_file(source, PaletteError, "a palette file")


def _as_text(data: bytes) -> str | None:
    """`data` as text, or None if it is binary (an image, or something to try as one)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text if all(ch >= " " or ch in "\t\r\n" for ch in text[:4096]) else None


# --- writing ----------------------------------------------------------------------------------


def _hex(color: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*color)


def hex_colors(colors: np.ndarray) -> list[str]:
    """Each color as ``#rrggbb``, in order."""
    return [_hex(color) for color in colors.tolist()]


def palette_json(colors: np.ndarray, counts: np.ndarray | None = None) -> str:
    """The palette as JSON: hex strings, RGB triples and, if given, pixel counts; `read_palette` reads it."""
    entries = [{"hex": h, "rgb": rgb} for h, rgb in zip(hex_colors(colors), colors.tolist(), strict=True)]
    if counts is not None:
        for entry, count in zip(entries, counts.tolist(), strict=True):
            entry["pixels"] = count
    return json.dumps({"colors": entries}, indent=2)


def palette_gpl(colors: np.ndarray, name: str = "quant palette") -> str:
    """The palette as a GIMP/Inkscape/Krita `.gpl` file."""
    safe_name = " ".join(name.split())  # a newline would end the header line
    lines = ["GIMP Palette", f"Name: {safe_name}", "Columns: 8", "#"]
    lines += [f"{r:3d} {g:3d} {b:3d}\t{h}" for (r, g, b), h in zip(colors.tolist(), hex_colors(colors), strict=True)]
    return "\n".join(lines) + "\n"


def palette_text(colors: np.ndarray) -> str:
    """The palette as hex codes, one a line."""
    return "".join(f"{h}\n" for h in hex_colors(colors))


def write_palette(path: str | os.PathLike, colors: np.ndarray, *, counts: np.ndarray | None = None) -> None:
    """Write `colors` to `path` as .gpl, .json, or .txt/.hex (one hex code a line), chosen by its extension."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".gpl":
        text = palette_gpl(colors, path.stem)
    elif suffix == ".json":
        text = palette_json(colors, counts)
    elif suffix in (".txt", ".hex"):
        text = palette_text(colors)
    else:
        raise ValueError(f"{path.name}: name a palette file {', '.join(TEXT_FORMATS)}")
    path.write_text(text, encoding="utf-8")

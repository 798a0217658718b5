"""Stage 1 — load: bytes or a path in, an upright H×W×3 uint8 RGB array out.

Everything a user can throw at the loader ends in either a `LoadedImage` or an
`ImageError` whose message says what is wrong with the file.
"""

from __future__ import annotations

import dataclasses
import io
import os
import re
import struct
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ImageError, shorten
from .numeric import is_integer

#: Default refusal threshold, in pixels (width × height).
DEFAULT_MAX_PIXELS = 50_000_000

#: Raster formats quant decodes. Others that Pillow knows (EPS, which would
#: run Ghostscript, for one) are refused on purpose.
SUPPORTED_FORMATS = ("PNG", "JPEG", "MPO", "WEBP", "BMP", "TIFF", "GIF", "PPM", "TGA", "ICO")

#: Pixels with alpha below this are transparent; the rest are opaque.
ALPHA_THRESHOLD = 128

Source = bytes | bytearray | memoryview | str | os.PathLike | BinaryIO


@dataclass(frozen=True)
class LoadedImage:
    """A decoded image, ready for the histogram stage.

    Attributes
    ----------
    rgb : ndarray of uint8, shape (H, W, 3)
        The pixels, upright (EXIF orientation applied), in sRGB.
    opaque : ndarray of bool, shape (H, W), or None
        Which pixels are visible; ``None`` when the whole image is opaque.
    format : str
        The file format Pillow recognised, e.g. ``"PNG"``.
    notices : tuple of str
        Things the user should know, e.g. that only the first frame of an
        animation was used.
    """

    rgb: np.ndarray
    opaque: np.ndarray | None = None
    format: str = ""
    notices: tuple[str, ...] = field(default=())

    @property
    def height(self) -> int:
        return self.rgb.shape[0]

    @property
    def width(self) -> int:
        return self.rgb.shape[1]

    @property
    def pixel_count(self) -> int:
        return self.height * self.width

    @property
    def visible_count(self) -> int:
        return self.pixel_count if self.opaque is None else int(self.opaque.sum())


def check_image(image: object) -> LoadedImage:
    """`image` if it is a `LoadedImage` of H×W×3 uint8 pixels; a TypeError that says what to do otherwise."""
    if not isinstance(image, LoadedImage):
        raise TypeError(
            f"image must be a quant.LoadedImage, not {type(image).__name__}: make one with "
            "quant.load_image(path), or quant.from_array(rgb) for an H×W×3 uint8 array"
        )
    if image.rgb.ndim != 3 or image.rgb.shape[2] != 3 or image.rgb.dtype != np.uint8:
        raise TypeError(
            f"image.rgb must be an H×W×3 uint8 array, not {image.rgb.dtype}{image.rgb.shape}: "
            "make the image with quant.from_array, which checks it"
        )
    return image


def from_array(rgb: np.ndarray, opaque: np.ndarray | None = None) -> LoadedImage:
    """Wrap an in-memory H×W×3 uint8 array (for example a scikit-image sample).

    `opaque`, optional, says which pixels are visible: an H×W boolean mask,
    or 0/1 or 0/255 integers (as an alpha channel has them).
    """
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ImageError(f"expected an H×W×3 uint8 RGB array, got shape {rgb.shape} of {rgb.dtype}")
    if rgb.shape[0] == 0 or rgb.shape[1] == 0:
        raise ImageError("the image has no pixels")
    mask = None if opaque is None else _opacity_mask(np.asarray(opaque), rgb.shape[:2])
    if mask is not None and mask.all():
        mask = None
    return LoadedImage(np.ascontiguousarray(rgb), mask, format="array")


def _opacity_mask(opaque: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """`opaque` as an H×W bool mask; an integer mask must hold only 0/1 or only 0/255."""
    if opaque.shape != shape:
        raise ImageError(f"opaque must be an H×W mask of shape {shape}, not {opaque.shape}")
    if opaque.dtype == bool:
        return opaque
    if np.issubdtype(opaque.dtype, np.integer):
        values = set(np.unique(opaque).tolist())
        if values <= {0, 1} or values <= {0, 255}:
            return opaque != 0
    raise ImageError(f"opaque must be a boolean mask, or 0/1 or 0/255 integers; got {opaque.dtype} values")


def load_image(source: Source, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> LoadedImage:
    """Decode an image file into RGB pixels and a transparency mask.

    Parameters
    ----------
    source : bytes, path or binary file object
        The encoded image.
    max_pixels : int, optional
        Refuse images with more pixels than this. The check runs on the
        header, before any pixel data is decoded, so a decompression bomb
        costs nothing.

    Returns
    -------
    LoadedImage

    Raises
    ------
    ImageError
        If the data is empty, not an image, truncated, in an unsupported
        format, or larger than `max_pixels`.
    """
    if not is_integer(max_pixels) or max_pixels < 1:
        raise TypeError(f"max_pixels must be a positive integer, not {max_pixels!r}")
    data = _read_bytes(source)
    if not data:
        raise ImageError("the file is empty")
    try:
        return _decode(data, max_pixels)
    except _OversizedMetadata:
        # Pillow refuses a PNG whose text or ICC chunk inflates past its limits, before the pixels.
        # The pixels are what quant needs: read them again without those chunks.
        image = _decode(_without_png_metadata(data), max_pixels)
        notice = "oversized PNG metadata (text or color profile) was ignored"
        return dataclasses.replace(image, notices=(*image.notices, notice))


def _decode(data: bytes, max_pixels: int) -> LoadedImage:
    with warnings.catch_warnings():
        # Pillow's own bomb guard is a warning up to twice its limit; ours is stricter and explicit.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        image = _open(data, max_pixels)
        _check_pixel_count(image, max_pixels)
        file_format = image.format or ""
        try:
            notices = _first_frame_notice(image)  # counting frames reads the file: it can fail too
            image.load()
            image = ImageOps.exif_transpose(image)
            rgb, opaque, alpha_notices = _to_rgb(image)
        except MemoryError:
            raise ImageError("not enough memory to decode this image") from None
        except ValueError as exc:
            _raise_for_png_metadata(exc)
            raise ImageError(f"the image data is truncated or corrupt ({_short(exc)})") from None
        except Exception as exc:  # noqa: BLE001 — Pillow raises a zoo of types on bad data
            raise ImageError(f"the image data is truncated or corrupt ({_short(exc)})") from None
    return LoadedImage(rgb, opaque, format=file_format, notices=notices + alpha_notices)


def _open(data: bytes, max_pixels: int) -> Image.Image:
    """Read the header only: format, mode and size, without decoding pixels."""
    try:
        return Image.open(io.BytesIO(data), formats=_registered_formats())
    except Image.DecompressionBombError as exc:
        declared = re.search(r"\((\d+) pixels\)", str(exc))
        size = f"{int(declared.group(1)):,} pixels" if declared else "too many pixels"
        raise ImageError(
            f"the image declares {size}, over the limit of {max_pixels:,} pixels (a possible decompression bomb)"
        ) from None
    except UnidentifiedImageError:
        raise ImageError(_describe_unreadable(data)) from None
    except ValueError as exc:
        _raise_for_png_metadata(exc)
        raise ImageError(f"the file is truncated or corrupt ({_short(exc)})") from None
    except Exception as exc:  # noqa: BLE001 — as above, while reading the header
        raise ImageError(f"the file is truncated or corrupt ({_short(exc)})") from None


class _OversizedMetadata(Exception):
    """A PNG's metadata inflates past Pillow's safety limits (its pixels may be fine)."""


def _raise_for_png_metadata(exc: ValueError) -> None:
    if "MAX_TEXT_CHUNK" in str(exc) or "MAX_TEXT_MEMORY" in str(exc):
        raise _OversizedMetadata from None


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: Ancillary PNG chunks that hold metadata only: text, and the ICC profile (quant reads sRGB as is).
_METADATA_CHUNKS = (b"tEXt", b"zTXt", b"iTXt", b"iCCP")


def _without_png_metadata(data: bytes) -> bytes:
    """`data`, a PNG, with its text and ICC chunks left out; every other chunk as it was."""
    kept, at = [_PNG_SIGNATURE], len(_PNG_SIGNATURE)
    while at + 8 <= len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        end = at + 12 + length  # length, type, body, CRC
        if data[at + 4 : at + 8] not in _METADATA_CHUNKS:
            kept.append(data[at:end])
        at = end
    return b"".join(kept)


def _registered_formats() -> list[str]:
    Image.init()  # plugins register lazily; MPO and friends only after this
    return [name for name in SUPPORTED_FORMATS if name in Image.OPEN]


def _read_bytes(source: Source) -> bytes:
    if not isinstance(source, (bytes, bytearray, memoryview, str, os.PathLike)) and not hasattr(source, "read"):
        raise TypeError(
            f"source must be bytes, a path or a binary file object, not {type(source).__name__}; "
            "wrap an array of pixels with quant.from_array instead"
        )
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source)
    if isinstance(source, (str, os.PathLike)):
        return read_file(source, ImageError, "an image file")
    return source.read()


def read_file(path: str | os.PathLike, refusal: type[ValueError], what: str) -> bytes:
    """The bytes of the file at `path`; a folder, a missing or an unreadable file raises `refusal`.

    `what` names the file that was expected, e.g. ``"an image file"``.
    """
    path = Path(path)
    if path.is_dir():
        raise refusal(f"this is a folder, not {what}")
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise refusal("no such file") from None
    except OSError as exc:
        raise refusal(f"cannot read the file ({exc.strerror or exc})") from None


def _format_of(data: bytes) -> str:
    try:
        return Image.open(io.BytesIO(data)).format or ""
    except Exception:  # noqa: BLE001 — only a guess for a message: no format is an answer too
        return ""


def _describe_unreadable(data: bytes) -> str:
    """Name the kind of non-image file, so the message says more than 'unreadable'."""
    head = data[:512].lstrip()
    lowered = head.lower()
    if head.startswith(b"%PDF"):
        return "PDF documents are not supported; export the page as PNG or JPEG first"
    if lowered.startswith(b"<svg") or (lowered.startswith(b"<?xml") and b"<svg" in data[:4096].lower()):
        return "SVG is a vector format and is not supported; export it as PNG first"
    if data[4:8] == b"ftyp" and data[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"hevc", b"avif"):
        return "HEIC/HEIF/AVIF images are not supported; convert the photo to JPEG or PNG first"
    if head.startswith(b"%!PS"):
        return "PostScript/EPS files are not supported; export the image as PNG first"
    other_format = _format_of(data)
    if other_format:
        return f"{other_format} images are not supported; use PNG, JPEG, WebP, BMP, TIFF or GIF"
    if _looks_like_text(data):
        return "this is a text file, not an image"
    return "not a recognised image file (supported: PNG, JPEG, WebP, BMP, TIFF, GIF)"


def _looks_like_text(data: bytes) -> bool:
    sample = data[:1024]
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(ch >= 32 or ch in b"\t\r\n" for ch in sample)


def _check_pixel_count(image: Image.Image, max_pixels: int) -> None:
    width, height = image.size
    if width <= 0 or height <= 0:
        raise ImageError("the image has no pixels")
    if width * height > max_pixels:
        raise ImageError(
            f"the image is {width}×{height} = {width * height:,} pixels, over the limit of "
            f"{max_pixels:,} pixels; downscale it first"
        )


def _first_frame_notice(image: Image.Image) -> tuple[str, ...]:
    frames = getattr(image, "n_frames", 1)
    if getattr(image, "is_animated", False) and frames > 1:
        return (f"animated {image.format}: using the first of its {frames} frames",)
    return ()


def _short(exc: Exception) -> str:
    return shorten(str(exc) or type(exc).__name__, 120)


def _to_rgb(image: Image.Image) -> tuple[np.ndarray, np.ndarray | None, tuple[str, ...]]:
    """Convert any supported Pillow mode to RGB plus an optional opacity mask."""
    mode = image.mode
    if mode.startswith("I") or mode == "F":
        gray, range_notices = _wide_gray(image)
        return np.repeat(gray[..., None], 3, axis=2), None, range_notices
    has_alpha = mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in image.info
    if not has_alpha:
        return np.asarray(image.convert("RGB")), None, ()
    rgba = np.asarray(image.convert("RGBA"))
    alpha = rgba[..., 3]
    opaque = alpha >= ALPHA_THRESHOLD
    notices: tuple[str, ...] = ()
    if ((alpha > 0) & (alpha < 255)).any():
        notices = ("semi-transparent pixels were made fully opaque or fully transparent",)
    rgb = np.ascontiguousarray(rgba[..., :3])
    return rgb, (None if opaque.all() else opaque), notices


def _wide_gray(image: Image.Image) -> tuple[np.ndarray, tuple[str, ...]]:
    """16-bit, 32-bit and float grayscale to 8 bits, each mode by its nominal range.

    * 16-bit: 0…65535.
    * 32-bit integer: 0…255 or 0…65535 when the values fit (8- or 16-bit
      data in a wide container), otherwise the actual range, with a notice.
    * Float: 0…1, otherwise the actual range, with a notice. NaN and
      infinite values become black, with a notice.
    """
    values = np.asarray(image, dtype=np.float64)
    notices = []
    finite = np.isfinite(values)
    if not finite.all():
        notices.append(f"{np.count_nonzero(~finite):,} pixels were NaN or infinite; they are shown black")
        values = np.where(finite, values, np.nan)
    low, high = (float(np.nanmin(values)), float(np.nanmax(values))) if finite.any() else (0.0, 0.0)
    if image.mode.startswith("I;16"):
        low_nominal, high_nominal = 0.0, 65535.0
    elif image.mode == "F":
        low_nominal, high_nominal = 0.0, 1.0
    else:
        low_nominal, high_nominal = 0.0, (255.0 if high <= 255 else 65535.0)
    if low < low_nominal or high > high_nominal:
        notices.append(
            f"pixel values span {low:g}…{high:g}, outside the {image.mode} range "
            f"{low_nominal:g}…{high_nominal:g}: stretched to black…white"
        )
        low_nominal, high_nominal = low, high
    span = (high_nominal - low_nominal) or 1.0
    scaled = np.nan_to_num((values - low_nominal) * (255.0 / span), nan=0.0)
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8), tuple(notices)

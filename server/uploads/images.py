"""What a photo is, read from its bytes: its format, when and where it was taken, a
thumbnail.

The format is recognised from the first bytes (a file name or a declared type proves
nothing). Capture time and position come from EXIF, read with Pillow (pillow-heif adds
HEIC/HEIF). The thumbnail is made from the pixels alone, turned upright by the EXIF
orientation and saved without any metadata: it goes to supervisors' screens, where a
GPS position or a device serial has no business.
"""

from __future__ import annotations

import io
import math
import re
import threading
import warnings
from datetime import datetime
from typing import IO, Any

import msgspec
from PIL import ExifTags, Image, ImageOps

try:  # HEIC/HEIF (iPhones and many Android phones take these by default)
    from pillow_heif import register_heif_opener

    register_heif_opener()
    HEIF_READABLE = True
except ImportError:  # pragma: no cover - pillow-heif is a dependency; a build may lack it
    HEIF_READABLE = False

ACCEPTED_TYPES = ("image/jpeg", "image/png", "image/heic", "image/heif", "image/webp")
THUMBNAIL_PX = 320
# Decoding is the one step whose memory grows with the picture: one at a time, and JPEGs
# are decoded at a reduced scale (draft mode) straight away.
_DECODING = threading.Lock()
# Pillow format names for what is accepted: nothing else is even tried on the bytes.
_PIL_FORMATS = ["JPEG", "PNG", "WEBP", "HEIF"]
_EXIF_TIME = re.compile(r"^(\d{4}):(\d{2}):(\d{2}) (\d{2}):(\d{2}):(\d{2})$")
_EXIF_OFFSET = re.compile(r"^[+-]\d{2}:\d{2}$")
_DATETIME_ORIGINAL = 0x9003
_OFFSET_TIME_ORIGINAL = 0x9011
_DATETIME = 0x0132


class ImageFacts(msgspec.Struct, kw_only=True):
    width: int | None = None
    height: int | None = None
    taken_at: str | None = None
    lat: float | None = None
    lon: float | None = None


def read_facts(source: IO[bytes]) -> ImageFacts:
    """Size, capture time and position; what cannot be read stays None. Reads the
    headers only, never the pixels: quick whatever the photo's size."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(source, formats=_PIL_FORMATS) as image:
                exif = image.getexif()
                lat, lon = _position(exif)
                return ImageFacts(
                    width=image.width,
                    height=image.height,
                    taken_at=_taken_at(exif),
                    lat=lat,
                    lon=lon,
                )
        except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError):
            return ImageFacts()
        except Image.DecompressionBombWarning:
            return ImageFacts()


def make_thumbnail(source: IO[bytes]) -> bytes | None:
    """A small upright JPEG of the pixels alone, or None when they do not decode (a photo
    whose pixels do not decode is still evidence: its bytes are what the phone took)."""
    with _DECODING, warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(source, formats=_PIL_FORMATS) as image:
                return _thumbnail(image)
        except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError):
            return None
        except Image.DecompressionBombWarning:
            return None


def _thumbnail(image: Image.Image) -> bytes | None:
    try:
        image.draft("RGB", (THUMBNAIL_PX, THUMBNAIL_PX))  # JPEG: decode at 1/2..1/8 scale
        upright = ImageOps.exif_transpose(image)
        upright.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
        pixels = upright.convert("RGB")
    except (OSError, ValueError, SyntaxError, EOFError):
        return None
    # A new image holds the pixels and nothing else: no EXIF, XMP, ICC or comment.
    clean = Image.new("RGB", pixels.size)
    clean.paste(pixels)
    out = io.BytesIO()
    clean.save(out, "JPEG", quality=80, optimize=True)
    return out.getvalue()


def _taken_at(exif: Image.Exif) -> str | None:
    details = exif.get_ifd(ExifTags.IFD.Exif)
    text = details.get(_DATETIME_ORIGINAL) or exif.get(_DATETIME)
    match = _EXIF_TIME.match(str(text).strip()) if text else None
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(g) for g in match.groups())
    try:
        datetime(year, month, day, hour, minute, second)  # noqa: DTZ001 - only a check
    except ValueError:
        return None
    out = f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}"
    offset = str(details.get(_OFFSET_TIME_ORIGINAL) or "").strip()
    return out + offset if _EXIF_OFFSET.match(offset) else out


def _position(exif: Image.Exif) -> tuple[float | None, float | None]:
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    lat = _degrees(gps.get(2), gps.get(1), "S")
    lon = _degrees(gps.get(4), gps.get(3), "W")
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None, None
    return round(lat, 7), round(lon, 7)


def _degrees(value: Any, ref: Any, negative: str) -> float | None:
    try:
        d, m, s = (float(part) for part in value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    degrees = d + m / 60 + s / 3600
    if not math.isfinite(degrees):
        return None
    if isinstance(ref, bytes):
        ref = ref.decode("ascii", "replace")
    return -degrees if str(ref).strip().upper() == negative else degrees

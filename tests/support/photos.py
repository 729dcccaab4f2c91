"""Photos for the stories: real images made with Pillow, with EXIF like a phone writes."""

from __future__ import annotations

import base64
import hashlib
import io
import random
from typing import Any

from PIL import Image

TUS = {"Tus-Resumable": "1.0.0"}
OFFSET_TYPE = "application/offset+octet-stream"
# 2026-11-25 09:20:00 +08:00 at 33.62 N, 114.65 E (Zhoukou).
TAKEN_AT = "2026-11-25T09:20:00+08:00"
LAT, LON = 33.62, 114.65


def _rational(value: float) -> tuple[float, float, float]:
    degrees = int(value)
    minutes_full = (value - degrees) * 60
    minutes = int(minutes_full)
    seconds = round((minutes_full - minutes) * 60, 4)
    return (float(degrees), float(minutes), seconds)


def exif_bytes(
    *,
    taken_at: str = "2026:11:25 09:20:00",
    offset: str = "+08:00",
    lat: float = LAT,
    lon: float = LON,
    orientation: int = 1,
) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "PhoneMaker"  # Make: device details a thumbnail must not carry
    exif[0x0110] = "SN-123456789"
    details = exif.get_ifd(0x8769)
    details[0x9003] = taken_at
    details[0x9011] = offset
    gps = exif.get_ifd(0x8825)
    gps[1] = "N" if lat >= 0 else "S"
    gps[2] = _rational(abs(lat))
    gps[3] = "E" if lon >= 0 else "W"
    gps[4] = _rational(abs(lon))
    return exif.tobytes()


def noise_image(width: int, height: int, seed: int = 1) -> Image.Image:
    rng = random.Random(seed)
    return Image.frombytes("RGB", (width, height), rng.randbytes(width * height * 3))


def jpeg(width: int = 640, height: int = 480, *, seed: int = 1, **exif: Any) -> bytes:
    out = io.BytesIO()
    noise_image(width, height, seed).save(out, "JPEG", quality=90, exif=exif_bytes(**exif))
    return out.getvalue()


def big_jpeg(size: int, seed: int = 1) -> bytes:
    """A real JPEG of about `size` bytes (noise compresses badly), padded to exactly it
    with bytes after its end marker, which decoders ignore."""
    side = 256
    while True:
        data = jpeg(side, side, seed=seed)
        if len(data) >= size * 0.6 or side > 8000:
            break
        side = int(side * 1.4)
    if len(data) > size:
        data = jpeg(max(64, int(side * (size / len(data)) ** 0.5) - 16), seed=seed)
    rng = random.Random(seed)
    return data + rng.randbytes(max(0, size - len(data)))


def png(width: int = 64, height: int = 48) -> bytes:
    out = io.BytesIO()
    noise_image(width, height).save(out, "PNG")
    return out.getvalue()


def webp(width: int = 64, height: int = 48) -> bytes:
    out = io.BytesIO()
    noise_image(width, height).save(out, "WEBP")
    return out.getvalue()


def heic(width: int = 64, height: int = 48) -> bytes:
    from pillow_heif import register_heif_opener

    register_heif_opener()
    out = io.BytesIO()
    noise_image(width, height).save(out, "HEIF", exif=exif_bytes())
    return out.getvalue()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def metadata(data: bytes | None = None, *, digest: str | None = None, **extra: str) -> str:
    values = {"sha256": digest or sha256(data or b""), "filename": "door.jpg", **extra}
    return ",".join(
        f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items() if v is not None
    )


def checksum(data: bytes, algorithm: str = "sha256") -> str:
    return f"{algorithm} {base64.b64encode(hashlib.new(algorithm, data).digest()).decode()}"

"""The tus 1.0.0 headers: what this server announces, and how request headers are read.

https://tus.io/protocols/resumable-upload: core, creation, creation-with-upload,
checksum (sha1, sha256), termination and expiration.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, datetime
from email.utils import format_datetime

import msgspec

from server.errors import ErrorCode, InputError

TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = "creation,creation-with-upload,checksum,termination,expiration"
CHECKSUM_ALGORITHMS = ("sha1", "sha256")
OFFSET_MEDIA_TYPE = "application/offset+octet-stream"
MAX_METADATA_CHARS = 4096
MAX_FILENAME_CHARS = 255

_KEY = re.compile(r"^[A-Za-z0-9._~!#$&'*+^`|-]{1,64}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_DIGEST_BYTES = {"sha1": 20, "sha256": 32}


class Metadata(msgspec.Struct, kw_only=True):
    sha256: str
    filename: str | None = None
    filetype: str | None = None


class Checksum(msgspec.Struct, frozen=True, kw_only=True):
    algorithm: str
    digest: bytes


def base_headers() -> dict[str, str]:
    return {"Tus-Resumable": TUS_VERSION}


def http_date(when: datetime) -> str:
    """RFC 9110 date, as Upload-Expires wants it."""
    return format_datetime(when.astimezone(UTC), usegmt=True)


def parse_metadata(header: str | None) -> Metadata:
    """Upload-Metadata: `key base64,key base64,...`; sha256 required, lowercase hex."""
    field = "Upload-Metadata"
    if not header:
        raise InputError("Upload-Metadata must carry the photo's sha256", field=field)
    if len(header) > MAX_METADATA_CHARS:
        raise InputError(f"Upload-Metadata is longer than {MAX_METADATA_CHARS}", field=field)
    values: dict[str, str] = {}
    for pair in header.split(","):
        key, _, encoded = pair.strip().partition(" ")
        if not _KEY.match(key) or key in values:
            raise InputError(f"bad or repeated key {key[:64]!r}", field=field)
        try:
            values[key] = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise InputError(f"{key}: not base64 of UTF-8 text", field=field) from None
    sha256 = values.get("sha256", "")
    if not _SHA256.match(sha256):
        raise InputError(
            "sha256 must be the photo's SHA-256, 64 lowercase hex digits",
            field=f"{field}.sha256",
        )
    filename = values.get("filename") or None
    if filename is not None and (len(filename) > MAX_FILENAME_CHARS or "\x00" in filename):
        raise InputError("filename is too long", field=f"{field}.filename")
    filetype = (values.get("filetype") or "").strip().lower() or None
    return Metadata(sha256=sha256, filename=filename, filetype=filetype)


def parse_checksum(header: str | None) -> Checksum | None:
    """Upload-Checksum: `<algorithm> <base64 digest>` of this request's body."""
    if header is None:
        return None
    algorithm, _, encoded = header.strip().partition(" ")
    algorithm = algorithm.lower()
    if algorithm not in CHECKSUM_ALGORITHMS:
        raise InputError(
            f"supported: {', '.join(CHECKSUM_ALGORITHMS)}",
            code=ErrorCode.CHECKSUM_ALGORITHM_UNSUPPORTED,
            field="Upload-Checksum",
            headers={**base_headers(), "Tus-Checksum-Algorithm": ",".join(CHECKSUM_ALGORITHMS)},
        )
    try:
        digest = base64.b64decode(encoded.strip(), validate=True)
    except binascii.Error:
        digest = b""
    if len(digest) != _DIGEST_BYTES[algorithm]:
        raise InputError(
            f"not a base64 {algorithm} digest", field="Upload-Checksum", headers=base_headers()
        )
    return Checksum(algorithm=algorithm, digest=digest)


def check_version(header: str | None) -> None:
    if header != TUS_VERSION:
        raise InputError(
            f"this server speaks tus {TUS_VERSION}",
            code=ErrorCode.TUS_VERSION_UNSUPPORTED,
            field="Tus-Resumable",
            headers={**base_headers(), "Tus-Version": TUS_VERSION},
        )

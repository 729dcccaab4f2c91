"""Records of the photo store (server/uploads): uploads in progress, photos, claims."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import msgspec


class UploadState(StrEnum):
    OPEN = "open"  # bytes are still arriving
    COMPLETE = "complete"  # the photo is stored (or was stored already: deduplicated)
    FAILED = "failed"  # the bytes did not hash to the declared sha256; they are gone


class UploadRecord(msgspec.Struct, kw_only=True):
    id: str
    user_id: int
    device_id: str | None
    length: int
    received: int
    sha256: str
    metadata: str  # the Upload-Metadata header as sent, echoed by HEAD
    filename: str | None
    filetype: str | None
    media_type: str | None  # recognised from the first bytes
    state: UploadState
    created_at: datetime
    updated_at: datetime
    expires_at: datetime
    city_id: str | None
    county_id: str | None
    station_id: str | None
    # The lock that keeps two requests (of any process or node) from writing the upload at
    # once: its holder and the end of its lease; None, or a time passed, is free.
    lock_holder: str | None = None
    lock_until: datetime | None = None
    # The holder whose step moved the offset last (None: no locked step has yet).
    written_by: str | None = None


class PhotoRecord(msgspec.Struct, kw_only=True):
    sha256: str
    size: int
    media_type: str
    width: int | None = None
    height: int | None = None
    # As the camera wrote it: local time, with its UTC offset when the camera gave one.
    taken_at: str | None = None
    lat: float | None = None
    lon: float | None = None
    # 0: not made yet (it is made when first asked for), 1: stored, -1: the pixels do not
    # decode, so there is none.
    thumbnail: int = 0
    uploaded_by: int
    received_at: datetime


class PhotoClaim(msgspec.Struct, kw_only=True):
    """A visit log entry that names a photo."""

    sha256: str
    entry_id: str
    task_kind: str
    task_id: int
    officer_id: int


class ClaimedPhoto(msgspec.Struct, kw_only=True):
    """One photo of one visit entry: the stored photo, or None while it is still pending."""

    entry_id: str
    officer_id: int
    recorded_at: datetime
    sha256: str
    photo: PhotoRecord | None

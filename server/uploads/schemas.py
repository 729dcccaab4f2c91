"""Wire types of photos: a stored photo's facts, and a task's photos visit by visit."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import Meta


class PhotoPosition(msgspec.Struct, kw_only=True):
    lat: float
    lon: float


class PhotoOut(msgspec.Struct, kw_only=True):
    """A stored photo. Its bytes are exactly those taken: `sha256` is their SHA-256."""

    sha256: str
    size: int
    media_type: str
    width: int | None
    height: int | None
    taken_at: Annotated[
        str | None,
        Meta(
            description="Capture time from EXIF, as the camera wrote it: local time, with"
            " its UTC offset when the camera recorded one"
        ),
    ] = None
    position: PhotoPosition | None = None
    received_at: datetime
    content_url: str
    thumbnail_url: str | None = None


class VisitPhotoOut(msgspec.Struct, kw_only=True):
    """One photo a visit entry names: `received` (with the photo), or `pending`."""

    sha256: str
    status: Literal["received", "pending"]
    photo: PhotoOut | None = None


class VisitPhotosOut(msgspec.Struct, kw_only=True):
    entry_id: str
    officer_id: int
    recorded_at: datetime
    photos: list[VisitPhotoOut]


class TaskPhotosOut(msgspec.Struct, kw_only=True):
    """The photos of a task's visit log, entry by entry."""

    task_kind: str
    task_id: int
    received: int
    pending: int
    visits: list[VisitPhotosOut]

"""Reading stored photos: who may see which, a task's photos visit by visit, byte ranges.

An officer sees the photos they sent or that their own visit entries name; a supervisor
those sent from, or named by visit logs within, their jurisdiction. Anything else answers
404, exactly like a photo that does not exist.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from server.auth.principal import Principal
from server.errors import ErrorCode, InputError, NotFound
from server.store.interface import Store
from server.store.records import Role
from server.store.upload_records import PhotoRecord
from server.uploads import images
from server.uploads.schemas import (
    PhotoOut,
    PhotoPosition,
    TaskPhotosOut,
    VisitPhotoOut,
    VisitPhotosOut,
)
from server.uploads.storage import PhotoStorage

PHOTOS_PATH = "/api/v1/photos"
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def photo_out(photo: PhotoRecord) -> PhotoOut:
    base = f"{PHOTOS_PATH}/{photo.sha256}"
    position = None
    if photo.lat is not None and photo.lon is not None:
        position = PhotoPosition(lat=photo.lat, lon=photo.lon)
    return PhotoOut(
        sha256=photo.sha256,
        size=photo.size,
        media_type=photo.media_type,
        width=photo.width,
        height=photo.height,
        taken_at=photo.taken_at,
        position=position,
        received_at=photo.received_at,
        content_url=f"{base}/content",
        thumbnail_url=None if photo.thumbnail < 0 else f"{base}/thumbnail",
    )


def etag(sha256: str, variant: str = "") -> str:
    return f'"{sha256}{variant}"'


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """[start, end) of a single `bytes=` range; None for the whole photo (no header, or a
    form this server does not serve, such as several ranges). Raises when unsatisfiable."""
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if first:
        start = int(first)
        end = min(int(last) + 1, size) if last else size
        if last and int(last) < start:
            return None  # syntactically invalid: ignored, as RFC 9110 says
    elif last:
        start, end = max(0, size - int(last)), size
    else:
        return None
    if start >= size or end <= start:
        raise InputError(
            f"the photo has {size} bytes",
            code=ErrorCode.RANGE_NOT_SATISFIABLE,
            field="Range",
            headers={"Content-Range": f"bytes */{size}"},
        )
    return start, end


class PhotoService:
    def __init__(self, store: Store, storage: PhotoStorage) -> None:
        self.store = store
        self.storage = storage

    def visible(self, principal: Principal, sha256: str) -> PhotoRecord:
        photo = self.store.get_photo(sha256)
        if photo is None or not self.store.photo_visible_to(sha256, principal.jurisdiction):
            raise NotFound("photo not found")
        return photo

    def get(self, principal: Principal, sha256: str) -> PhotoOut:
        return photo_out(self.visible(principal, sha256))

    def content(
        self, principal: Principal, sha256: str, range_header: str | None
    ) -> tuple[PhotoRecord, tuple[int, int] | None, Iterator[bytes]]:
        photo = self.visible(principal, sha256)
        span = parse_range(range_header, photo.size)
        start, end = span or (0, photo.size)
        return photo, span, self.storage.read_photo(sha256, start, end)

    def thumbnail(self, principal: Principal, sha256: str) -> bytes:
        """The stored thumbnail, made on first demand (decoding a photo takes tens of ms,
        which an upload's last answer need not wait for)."""
        photo = self.visible(principal, sha256)
        data = self.storage.get_thumbnail(sha256) if photo.thumbnail >= 0 else None
        if data is None and photo.thumbnail == 0:
            with self.storage.open_photo_file(sha256) as source:
                data = images.make_thumbnail(source)
            if data is not None:
                self.storage.put_thumbnail(sha256, data)
            self.store.set_photo_thumbnail(sha256, 1 if data is not None else -1)
        if data is None:
            raise NotFound("this photo has no thumbnail (its pixels could not be decoded)")
        return data

    def of_task(self, principal: Principal, kind: str, task_id: int) -> TaskPhotosOut:
        what = f"{kind} {task_id}"
        claimed = self.store.photos_of_task(kind, task_id)
        if principal.role == Role.OFFICER:
            # An officer sees the photos of their own entries, on any task they visited.
            claimed = [c for c in claimed if c.officer_id == principal.user_id]
            if not claimed and not self._officer_holds(principal, kind, task_id):
                raise NotFound(f"{what} not found")
        else:
            task = (
                self.store.get_warning(task_id)
                if kind == "warning"
                else self.store.get_publicity_task(task_id)
            )
            principal.check_covers(task, what)
        visits: dict[str, VisitPhotosOut] = {}
        received = pending = 0
        for item in claimed:
            visit = visits.get(item.entry_id)
            if visit is None:
                visit = visits[item.entry_id] = VisitPhotosOut(
                    entry_id=item.entry_id,
                    officer_id=item.officer_id,
                    recorded_at=item.recorded_at,
                    photos=[],
                )
            if item.photo is None:
                pending += 1
                visit.photos.append(VisitPhotoOut(sha256=item.sha256, status="pending"))
            else:
                received += 1
                visit.photos.append(
                    VisitPhotoOut(
                        sha256=item.sha256, status="received", photo=photo_out(item.photo)
                    )
                )
        return TaskPhotosOut(
            task_kind=kind,
            task_id=task_id,
            received=received,
            pending=pending,
            visits=list(visits.values()),
        )

    def _officer_holds(self, principal: Principal, kind: str, task_id: int) -> bool:
        if kind == "warning":
            warning = self.store.get_warning(task_id)
            return warning is not None and warning.officer_id == principal.user_id
        task = self.store.get_publicity_task(task_id)
        return task is not None and principal.user_id in task.officer_ids

"""Photos in SQLite: uploads in progress, stored photos, their senders and claims.

The bytes live in a PhotoStorage (server/uploads/storage.py); these tables say what the
bytes are, who sent them, and which visit logs name them. `photo_claims` is derived from
the visit logs a moment after each push (server/store/sqlite/claims.py); every method here
that reads claims catches them up first.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from server.clock import iso
from server.store.records import Actor, Jurisdiction
from server.store.sqlite.base import to_record
from server.store.sqlite.claims import SQLiteClaims
from server.store.upload_records import (
    ClaimedPhoto,
    PhotoRecord,
    UploadRecord,
    UploadState,
)

_UPLOAD_COLUMNS = (
    "id",
    "user_id",
    "device_id",
    "length",
    "received",
    "sha256",
    "metadata",
    "filename",
    "filetype",
    "media_type",
    "state",
    "created_at",
    "updated_at",
    "expires_at",
    "city_id",
    "county_id",
    "station_id",
)
_PHOTO_COLUMNS = (
    "sha256",
    "size",
    "media_type",
    "width",
    "height",
    "taken_at",
    "lat",
    "lon",
    "thumbnail",
    "uploaded_by",
    "received_at",
)
_SCOPE_COLUMNS = frozenset({"city_id", "county_id", "station_id"})
# A photo may go when it is old, no visit log names it, and nobody sent it (again) lately:
# a sender who found it already stored counts as a fresh arrival.
_UNCLAIMED = (
    "p.received_at <= ?"
    " AND NOT EXISTS (SELECT 1 FROM photo_claims c WHERE c.sha256 = p.sha256)"
    " AND NOT EXISTS (SELECT 1 FROM photo_owners o WHERE o.sha256 = p.sha256 AND o.at > ?)"
)


# An upload's lock (server/uploads/service.py), taken in one statement: the check (free,
# or its lease past) and the take are one atomic step on any database, no read-then-write
# two processes could interleave. A conditional UPDATE ... RETURNING that SQLite (3.35+)
# and PostgreSQL both run as written: the row comes back only when the WHERE let the
# update through, that is when `holder` holds the lock now. A complete upload is never
# locked: nothing writes to it again.
LOCK_UPLOAD_SQL = (
    "UPDATE uploads SET lock_holder = ?, lock_until = ?"
    " WHERE id = ? AND state != 'complete' AND (lock_until IS NULL OR lock_until <= ?)"
    " RETURNING *"
)
# A renewal holds on only while nobody else took the lock: its lease may have passed
# meanwhile, but if no other holder came, nothing else wrote to the upload either.
RENEW_UPLOAD_LOCK_SQL = (
    "UPDATE uploads SET lock_until = ? WHERE id = ? AND lock_holder = ? RETURNING id"
)
UNLOCK_UPLOAD_SQL = (
    "UPDATE uploads SET lock_holder = NULL, lock_until = NULL WHERE id = ? AND lock_holder = ?"
)
# No upload of the photo is locked now: a request is completing one, and may be storing
# the bytes of this photo again this moment (see remove_unclaimed_photo).
_NOT_LOCKED = (
    "NOT EXISTS (SELECT 1 FROM uploads u WHERE u.sha256 = p.sha256"
    " AND u.lock_until IS NOT NULL AND u.lock_until > ?)"
)


def _upload_row(upload: UploadRecord) -> tuple[Any, ...]:
    values: list[Any] = []
    for column in _UPLOAD_COLUMNS:
        value = getattr(upload, column)
        values.append(iso(value) if isinstance(value, datetime) else value)
    return tuple(values)


def _photo_row(photo: PhotoRecord) -> tuple[Any, ...]:
    values: list[Any] = []
    for column in _PHOTO_COLUMNS:
        value = getattr(photo, column)
        if isinstance(value, datetime):
            value = iso(value)
        elif isinstance(value, bool):
            value = int(value)
        values.append(value)
    return tuple(values)


class SQLiteUploads(SQLiteClaims):
    # -- uploads -------------------------------------------------------------------------

    def create_upload(self, upload: UploadRecord, *, max_open: int) -> UploadRecord | None:
        """Insert the upload unless its user already holds `max_open` unfinished ones
        (None then). If the photo is stored already, the upload is created complete and
        its user recorded as a sender of the photo: the bytes need not travel again."""
        placeholders = ", ".join("?" for _ in _UPLOAD_COLUMNS)
        with self.transaction() as conn:
            now = self._now()
            open_count = conn.execute(
                "SELECT count(*) AS n FROM uploads WHERE user_id = ? AND state = 'open'"
                " AND expires_at > ?",
                (upload.user_id, now),
            ).fetchone()["n"]
            if open_count >= max_open:
                return None
            photo = conn.execute(
                "SELECT size, media_type FROM photos WHERE sha256 = ?", (upload.sha256,)
            ).fetchone()
            if photo is not None and photo["size"] == upload.length:
                upload.state = UploadState.COMPLETE
                upload.received = upload.length
                upload.media_type = photo["media_type"]
                self._add_owner(conn, upload)
            conn.execute(
                f"INSERT INTO uploads ({', '.join(_UPLOAD_COLUMNS)}) VALUES ({placeholders})",  # noqa: S608
                _upload_row(upload),
            )
        return upload

    def get_upload(self, upload_id: str) -> UploadRecord | None:
        row = self._one("SELECT * FROM uploads WHERE id = ?", (upload_id,))
        return None if row is None else to_record(row, UploadRecord)

    def advance_upload(
        self,
        upload_id: str,
        from_offset: int,
        to_offset: int,
        expires_at: datetime,
        media_type: str | None,
    ) -> bool:
        """Move an open upload's offset if it still stands at `from_offset` (False if not);
        the lock's holder, if any, is recorded as the upload's last writer."""
        with self.transaction() as conn:
            cursor = conn.execute(
                "UPDATE uploads SET received = ?, expires_at = ?, updated_at = ?,"
                " media_type = coalesce(?, media_type), written_by = lock_holder"
                " WHERE id = ? AND received = ? AND state = 'open'",
                (to_offset, iso(expires_at), self._now(), media_type, upload_id, from_offset),
            )
            return cursor.rowcount == 1

    def lock_upload(self, upload_id: str, holder: str, ttl: timedelta) -> UploadRecord | None:
        """Lock the unfinished upload for `holder` until now + ttl, if nobody holds it or
        its holder's lease has passed; the upload as it stands then, or None."""
        now = self.clock.now()
        with self.transaction() as conn:
            row = conn.execute(
                LOCK_UPLOAD_SQL, (holder, iso(now + ttl), upload_id, iso(now))
            ).fetchone()
        return None if row is None else to_record(row, UploadRecord)

    def renew_upload_lock(self, upload_id: str, holder: str, ttl: timedelta) -> bool:
        """Hold the lock on until now + ttl, if `holder` holds it still; False if another
        holder took it (after its lease passed) or the upload is gone."""
        now = self.clock.now()
        with self.transaction() as conn:
            row = conn.execute(
                RENEW_UPLOAD_LOCK_SQL, (iso(now + ttl), upload_id, holder)
            ).fetchone()
        return row is not None

    def unlock_upload(self, upload_id: str, holder: str) -> None:
        """Free the lock if `holder` holds it (nothing otherwise)."""
        with self.transaction() as conn:
            conn.execute(UNLOCK_UPLOAD_SQL, (upload_id, holder))

    def fail_upload(self, upload_id: str) -> None:
        with self.transaction() as conn:
            conn.execute(
                "UPDATE uploads SET state = 'failed', updated_at = ? WHERE id = ?",
                (self._now(), upload_id),
            )

    def delete_upload(self, upload_id: str) -> bool:
        """Remove an unfinished (or failed) upload's record; a complete one stays."""
        with self.transaction() as conn:
            cursor = conn.execute(
                "DELETE FROM uploads WHERE id = ? AND state != 'complete'", (upload_id,)
            )
            return cursor.rowcount == 1

    def complete_upload(self, upload_id: str, photo: PhotoRecord, actor: Actor) -> PhotoRecord:
        """Record the stored photo (unless it is there already), its sender, and the upload
        as complete, in one transaction; audits photo.receive for a new photo."""
        with self.transaction() as conn:
            upload_row = conn.execute("SELECT * FROM uploads WHERE id = ?", (upload_id,)).fetchone()
            if upload_row is None:
                raise ValueError(f"no upload {upload_id}")
            upload = to_record(upload_row, UploadRecord)
            existing = conn.execute(
                "SELECT * FROM photos WHERE sha256 = ?", (photo.sha256,)
            ).fetchone()
            if existing is None:
                placeholders = ", ".join("?" for _ in _PHOTO_COLUMNS)
                conn.execute(
                    f"INSERT INTO photos ({', '.join(_PHOTO_COLUMNS)}) VALUES ({placeholders})",  # noqa: S608
                    _photo_row(photo),
                )
                scope = {
                    "city_id": upload.city_id,
                    "county_id": upload.county_id,
                    "station_id": upload.station_id,
                }
                after = {
                    "size": photo.size,
                    "media_type": photo.media_type,
                    "upload_id": upload_id,
                    "taken_at": photo.taken_at,
                }
                self._append_audit(
                    conn, [("photo.receive", "photo", photo.sha256, None, after, scope)], actor
                )
                stored = photo
            else:
                stored = to_record(existing, PhotoRecord)
            self._add_owner(conn, upload)
            conn.execute(
                "UPDATE uploads SET state = 'complete', received = length, updated_at = ?,"
                " media_type = ? WHERE id = ?",
                (self._now(), stored.media_type, upload_id),
            )
        return stored

    def _add_owner(self, conn: Any, upload: UploadRecord) -> None:
        conn.execute(
            "INSERT OR IGNORE INTO photo_owners (sha256, user_id, city_id, county_id,"
            " station_id, at) VALUES (?, ?, ?, ?, ?, ?)",
            (
                upload.sha256,
                upload.user_id,
                upload.city_id,
                upload.county_id,
                upload.station_id,
                self._now(),
            ),
        )

    def expired_uploads(self, now: datetime, limit: int = 500) -> list[UploadRecord]:
        """Unfinished or failed uploads past their expiry that no lock holds at `now`,
        oldest first."""
        rows = self._query(
            "SELECT * FROM uploads WHERE state IN ('open', 'failed') AND expires_at <= ?"
            " AND (lock_until IS NULL OR lock_until <= ?)"
            " ORDER BY expires_at LIMIT ?",
            (iso(now), iso(now), limit),
        )
        return [to_record(r, UploadRecord) for r in rows]

    # -- photos --------------------------------------------------------------------------

    def get_photo(self, sha256: str) -> PhotoRecord | None:
        row = self._one("SELECT * FROM photos WHERE sha256 = ?", (sha256,))
        return None if row is None else to_record(row, PhotoRecord)

    def photo_visible_to(self, sha256: str, scope: Jurisdiction) -> bool:
        """Whether a photo was sent by, or is claimed by a visit log of, someone within the
        jurisdiction (an officer's: themselves)."""
        self.catch_up_claims()
        if scope.column == "officer_id":
            owner_sql = "SELECT 1 FROM photo_owners WHERE sha256 = ? AND user_id = ?"
            claim_sql = "SELECT 1 FROM photo_claims WHERE sha256 = ? AND officer_id = ?"
        elif scope.column in _SCOPE_COLUMNS:
            owner_sql = f"SELECT 1 FROM photo_owners WHERE sha256 = ? AND {scope.column} = ?"  # noqa: S608
            claim_sql = f"SELECT 1 FROM photo_claims WHERE sha256 = ? AND {scope.column} = ?"  # noqa: S608
        else:
            raise ValueError(f"photos cannot be scoped by {scope.column}")
        params = (sha256, scope.value)
        return self._one(owner_sql, params) is not None or self._one(claim_sql, params) is not None

    def photos_of_task(self, kind: str, task_id: int) -> list[ClaimedPhoto]:
        """Every photo named by the task's visit log, entry by entry, with the stored photo
        or None while it has not arrived."""
        self.catch_up_claims()
        rows = self._query(
            "SELECT v.entry_id, v.officer_id, v.recorded_at, c.sha256, p.sha256 AS p_sha256,"
            " p.size, p.media_type, p.width, p.height, p.taken_at, p.lat, p.lon, p.thumbnail,"
            " p.uploaded_by, p.received_at"
            # Driven by the claims' own task index: joined the other way round there is no
            # index to find a visit's claims by, and every claim on record was scanned.
            " FROM photo_claims c JOIN visit_logs v ON v.entry_id = c.entry_id"
            " LEFT JOIN photos p ON p.sha256 = c.sha256"
            " WHERE c.task_kind = ? AND c.task_id = ? ORDER BY v.hlc, v.entry_id, c.sha256",
            (kind, task_id),
        )
        out: list[ClaimedPhoto] = []
        for row in rows:
            photo = None
            if row["p_sha256"] is not None:
                photo = {k: row[k] for k in _PHOTO_COLUMNS if k != "sha256"}
                photo["sha256"] = row["p_sha256"]
            item = {
                "entry_id": row["entry_id"],
                "officer_id": row["officer_id"],
                "recorded_at": row["recorded_at"],
                "sha256": row["sha256"],
                "photo": photo,
            }
            out.append(to_record(item, ClaimedPhoto))
        return out

    def set_photo_thumbnail(self, sha256: str, state: int) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE photos SET thumbnail = ? WHERE sha256 = ?", (state, sha256))

    def unclaimed_photos(self, received_before: datetime, limit: int = 500) -> list[str]:
        """Photos that arrived before the time and that no visit log names."""
        self.catch_up_claims()
        rows = self._query(
            f"SELECT sha256 FROM photos p WHERE {_UNCLAIMED} ORDER BY received_at LIMIT ?",  # noqa: S608
            (iso(received_before), iso(received_before), limit),
        )
        return [r["sha256"] for r in rows]

    def remove_unclaimed_photo(self, sha256: str, received_before: datetime) -> bool:
        """Forget a photo if, within this transaction, no visit log claims it, it is still
        old enough, and no upload of it is locked (a request of any process may be storing
        its bytes again); audits photo.remove. False when it must stay."""
        with self.transaction() as conn:
            self._catch_up_claims_in(conn)
            row = conn.execute(
                f"SELECT * FROM photos p WHERE sha256 = ? AND {_UNCLAIMED} AND {_NOT_LOCKED}",  # noqa: S608
                (sha256, iso(received_before), iso(received_before), self._now()),
            ).fetchone()
            if row is None:
                return False
            owners = conn.execute(
                "SELECT city_id, county_id, station_id FROM photo_owners WHERE sha256 = ?",
                (sha256,),
            ).fetchall()
            conn.execute("DELETE FROM photos WHERE sha256 = ?", (sha256,))
            conn.execute("DELETE FROM photo_owners WHERE sha256 = ?", (sha256,))
            conn.execute("DELETE FROM uploads WHERE sha256 = ?", (sha256,))
            scope = owners[0] if owners else {}
            self._append_audit(
                conn,
                [
                    (
                        "photo.remove",
                        "photo",
                        sha256,
                        {"size": row["size"], "media_type": row["media_type"]},
                        None,
                        {k: scope.get(k) for k in ("city_id", "county_id", "station_id")},
                    )
                ],
                Actor.system(),
            )
            return True

    def delete_uploads(self, upload_ids: Sequence[str]) -> int:
        """Forget expired uploads (their bytes are the storage's to drop)."""
        with self.transaction() as conn:
            cursor = conn.executemany(
                "DELETE FROM uploads WHERE id = ? AND state != 'complete'",
                [(i,) for i in upload_ids],
            )
            return cursor.rowcount

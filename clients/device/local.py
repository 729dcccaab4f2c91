"""The phone's own database: its copy of the scope, its outbox, and what it was told.

One SQLite file (sqlite-utils over the standard driver). Every method that changes more
than one row does so in one transaction, so a phone killed at any instant finds, when it
starts again, either all of a step or none of it: a pulled page together with the cursor
that follows it, a recorded visit together with its mutation in the outbox, a push verdict
together with the outbox row it retires.

Tables:
- `state`: key/value (device id, tokens, the signed-in user, cursor, HLC, event seq);
- `tasks`: the scope, keyed (kind, id), the task and its visit log as the server sent them;
- `outbox`: mutations not yet answered, oldest first; the order is never changed;
- `recorded`: every mutation made here, with the verdict once it is known;
- `rejected`: mutations the server refused, kept for the officer to see;
- `conflicts`: mutations the server applied with a conflict on record;
- `snapshot_seen`: the tasks a from-zero pull has delivered so far (see `apply_page`);
- `photos`: the upload queue: each photo taken here by sha256, its copy on this device,
  the tus upload URL once created, and `pending` until the server holds it (`done`), or
  `rejected` with the server's code.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import sqlite_utils

from clients.device.errors import UnknownTask, UnsentRecords
from sync import checksum
from sync.hlc import HLC, merge, tick
from sync.protocol import (
    Change,
    MutationResult,
    RecordVisit,
    Remove,
    SetField,
    Task,
    Upsert,
    VisitEntry,
    VisitOut,
    WarningTask,
    encoder,
)
from sync.vocab import TaskKind

SCHEMA = """
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS tasks (
    kind TEXT NOT NULL, id INTEGER NOT NULL, version INTEGER NOT NULL,
    task TEXT NOT NULL, visits TEXT NOT NULL, PRIMARY KEY (kind, id));
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, mutation_id TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS recorded (
    mutation_id TEXT PRIMARY KEY, type TEXT NOT NULL, kind TEXT NOT NULL,
    task_id INTEGER NOT NULL, hlc TEXT NOT NULL, entry_id TEXT UNIQUE, field TEXT,
    value TEXT, body TEXT NOT NULL, status TEXT NOT NULL, conflict_id INTEGER,
    created_at TEXT NOT NULL, seen INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS rejected (
    mutation_id TEXT PRIMARY KEY, kind TEXT NOT NULL, task_id INTEGER NOT NULL,
    code TEXT NOT NULL, detail TEXT NOT NULL, field TEXT, body TEXT NOT NULL,
    at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS conflicts (
    mutation_id TEXT PRIMARY KEY, conflict_id INTEGER NOT NULL, kind TEXT NOT NULL,
    task_id INTEGER NOT NULL, at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS snapshot_seen (
    kind TEXT NOT NULL, id INTEGER NOT NULL, PRIMARY KEY (kind, id));
CREATE TABLE IF NOT EXISTS photos (
    sha256 TEXT PRIMARY KEY, path TEXT NOT NULL, size INTEGER NOT NULL,
    filename TEXT NOT NULL, filetype TEXT NOT NULL, upload_url TEXT,
    state TEXT NOT NULL DEFAULT 'pending', code TEXT, added_at TEXT NOT NULL);
"""
# Everything that goes on a wipe. The device id and the HLC stay: they describe the
# install, not the officer, and the HLC must never run backwards on this node.
WIPED_TABLES = (
    "tasks",
    "outbox",
    "recorded",
    "rejected",
    "conflicts",
    "snapshot_seen",
    "photos",
)
WIPED_STATE = ("access_token", "refresh_token", "user", "cursor", "snapshot_open", "event_seq")

_task_decoder: msgspec.json.Decoder[Task] = msgspec.json.Decoder(Task)
_visits_decoder = msgspec.json.Decoder(list[VisitOut])
_entry_decoder = msgspec.json.Decoder(VisitEntry)
_mutation_decoder: msgspec.json.Decoder[RecordVisit | SetField] = msgspec.json.Decoder(
    RecordVisit | SetField
)


@dataclass(frozen=True)
class LocalTask:
    """A task as this device shows it to the officer."""

    kind: str
    id: int
    version: int
    task: Task
    visits: list[VisitOut]
    # Recorded here and not yet in the server's log as far as this device knows.
    pending: list[VisitEntry]
    # officer_notes as shown: this device's own unsent edit first, else the server's value.
    notes: str | None
    # Photos of this task's visits taken here that the server does not hold yet (sha256).
    photos_pending: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rejected:
    mutation_id: str
    kind: str
    task_id: int
    code: str
    detail: str
    field: str | None
    mutation: RecordVisit | SetField


@dataclass(frozen=True)
class ConflictNote:
    mutation_id: str
    conflict_id: int
    kind: str
    task_id: int


@dataclass(frozen=True)
class PageOutcome:
    upserts: int
    removes: int
    ignored: int
    # The local checksum after the page; only computed on the last page of a pull.
    checksum: str | None


class LocalStore:
    """The device's database. Thread-safe: one lock around one connection, because the
    event follower and the sync loop may run on different threads."""

    def __init__(self, path: str | Path, device_id: str) -> None:
        conn = sqlite3.connect(str(path), check_same_thread=False)
        self.db = sqlite_utils.Database(conn)
        self._lock = threading.RLock()
        # WAL keeps readers off the writer's back; FULL sync because a record the officer
        # saw saved must survive a power cut, not only a killed app.
        self.db.enable_wal()
        self.db.execute("PRAGMA synchronous=FULL")
        # Deleted rows are overwritten, not left in free pages: removing a task must
        # remove its resident's details from the file, not only from the tables.
        self.db.execute("PRAGMA secure_delete=ON")
        with self.atomic():
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    self.db.execute(statement)
            stored = self._get("device_id")
            if stored is None:
                self._set("device_id", device_id)
                self._set("hlc", HLC.zero(device_id).encode())
            elif stored != device_id:
                raise ValueError(f"this database belongs to device {stored!r}, not {device_id!r}")
        self.device_id = device_id

    def close(self) -> None:
        with self._lock:
            self.db.close()

    @contextmanager
    def atomic(self) -> Iterator[None]:
        with self._lock, self.db.atomic():
            yield

    # -- key/value state -----------------------------------------------------------------

    def _get(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def _set(self, key: str, value: str | None) -> None:
        if value is None:
            self.db.execute("DELETE FROM state WHERE key = ?", (key,))
        else:
            self.db.execute(
                "INSERT INTO state (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def get_state(self, key: str) -> str | None:
        with self._lock:
            return self._get(key)

    # -- session -------------------------------------------------------------------------

    def access_token(self) -> str | None:
        return self.get_state("access_token")

    def refresh_token(self) -> str | None:
        return self.get_state("refresh_token")

    def save_tokens(self, access: str, refresh: str | None) -> None:
        with self.atomic():
            self._set("access_token", access)
            if refresh is not None:
                self._set("refresh_token", refresh)

    def user(self) -> dict[str, Any] | None:
        text = self.get_state("user")
        return None if text is None else msgspec.json.decode(text, type=dict[str, Any])

    def start_session(self, user: dict[str, Any], access: str, refresh: str | None) -> None:
        """Keep a new login. Another officer's data is cleared first; their unsent records
        must never go up under this officer's name, so that case is refused."""
        wiped = False
        with self.atomic():
            previous = self._get("user")
            if previous is not None:
                before = msgspec.json.decode(previous, type=dict[str, Any]).get("id")
                if before != user.get("id"):
                    if self._count("outbox") or self._pending_photos():
                        raise UnsentRecords(
                            "this device holds unsent records of another officer; that"
                            " officer must sign in and sync first"
                        )
                    self._wipe()
                    wiped = True
            self._set("user", encoder.encode(user).decode())
            self._set("access_token", access)
            self._set("refresh_token", refresh)
        if wiped:
            self._forget_freed_pages()

    def end_session(self) -> None:
        with self.atomic():
            self._set("access_token", None)
            self._set("refresh_token", None)

    # -- clock ---------------------------------------------------------------------------

    def hlc(self) -> HLC:
        with self._lock:
            return self._clock()

    def _clock(self) -> HLC:
        # Set when the file is created and never deleted, not even by a wipe.
        return HLC.decode(self._get("hlc") or "")

    def _tick(self, now_ms: int) -> HLC:
        clock = tick(self._clock(), now_ms)
        self._set("hlc", clock.encode())
        return clock

    def _merge(self, remote: str | None, now_ms: int) -> None:
        if not remote:
            return
        try:
            theirs = HLC.decode(remote)
        except ValueError:
            return  # a server that sends no usable clock orders nothing for us
        self._set("hlc", merge(self._clock(), theirs, now_ms).encode())

    # -- recording -----------------------------------------------------------------------

    def record_visit(
        self, kind: str, task_id: int, entry: VisitEntry, mutation_id: str, now_ms: int
    ) -> RecordVisit:
        """Store the entry and its mutation, with a fresh HLC tick, in one transaction."""
        with self.atomic():
            self._require_task(kind, task_id)
            mutation = RecordVisit(
                mutation_id=mutation_id,
                hlc=self._tick(now_ms).encode(),
                task_kind=TaskKind(kind),
                task_id=task_id,
                entry=entry,
            )
            self._enqueue(mutation, now_ms, entry_id=entry.entry_id, body=encoder.encode(entry))
            return mutation

    def set_field(
        self, kind: str, task_id: int, field: str, value: str | None, mutation_id: str, now_ms: int
    ) -> SetField:
        with self.atomic():
            self._require_task(kind, task_id)
            base = self._field_base(kind, task_id, field)
            mutation = msgspec.convert(
                {
                    "mutation_id": mutation_id,
                    "hlc": self._tick(now_ms).encode(),
                    "task_kind": kind,
                    "task_id": task_id,
                    "field": field,
                    "value": value,
                    "base_hlc": base,
                },
                SetField,
            )
            self._enqueue(
                mutation, now_ms, field=field, value=value, body=encoder.encode({"value": value})
            )
            return mutation

    def _require_task(self, kind: str, task_id: int) -> None:
        if not self._task_row(kind, task_id):
            raise UnknownTask(f"{kind} {task_id} is not on this device")

    def _enqueue(
        self,
        mutation: RecordVisit | SetField,
        now_ms: int,
        *,
        body: bytes,
        entry_id: str | None = None,
        field: str | None = None,
        value: str | None = None,
    ) -> None:
        self.db.table("recorded").insert(
            {
                "mutation_id": mutation.mutation_id,
                "type": "record_visit" if isinstance(mutation, RecordVisit) else "set_field",
                "kind": mutation.task_kind.value,
                "task_id": mutation.task_id,
                "hlc": mutation.hlc,
                "entry_id": entry_id,
                "field": field,
                "value": value,
                "body": body.decode(),
                "status": "pending",
                "conflict_id": None,
                "created_at": _iso_ms(now_ms),
                "seen": 0,
            }
        )
        self.db.execute(
            "INSERT INTO outbox (mutation_id, body) VALUES (?, ?)",
            (mutation.mutation_id, encoder.encode(mutation).decode()),
        )

    def _field_base(self, kind: str, task_id: int, field: str) -> str | None:
        """The HLC of the value this device last saw for the field: the server's, or its
        own later edit when no pull has shown the server's answer to it yet.

        Once a pull has brought the task back after an edit was answered, the server's
        HLC is the one to build on even if the edit's own is higher: the server orders a
        phone whose clock runs ahead by its own clock instead, and stores that."""
        seen: list[str] = []
        row = self._task_row(kind, task_id)
        if row is not None:
            task = _task_decoder.decode(row["task"])
            if field in task.fields:
                seen.append(task.fields[field].hlc)
        mine = self.db.execute(
            "SELECT hlc FROM recorded WHERE type = 'set_field' AND kind = ? AND task_id = ?"
            " AND field = ? AND status != 'rejected' AND seen = 0 ORDER BY hlc DESC LIMIT 1",
            (kind, task_id, field),
        ).fetchone()
        if mine is not None:
            seen.append(mine[0])
        return max(seen) if seen else None

    # -- outbox and verdicts -------------------------------------------------------------

    def outbox_batch(self, limit: int) -> list[tuple[str, str]]:
        """The oldest `limit` unanswered mutations: (mutation id, wire JSON)."""
        with self._lock:
            return [
                (r[0], r[1])
                for r in self.db.execute(
                    "SELECT mutation_id, body FROM outbox ORDER BY seq LIMIT ?", (limit,)
                ).fetchall()
            ]

    def outbox_size(self) -> int:
        with self._lock:
            return self._count("outbox")

    def store_verdicts(
        self, results: Sequence[MutationResult], server_hlc: str, now_ms: int
    ) -> None:
        """Keep the server's verdicts and retire their mutations, in one transaction: a
        kill before the commit leaves them in the outbox to be sent, and answered, again."""
        with self.atomic():
            at = _iso_ms(now_ms)
            for result in results:
                row = self.db.execute(
                    "SELECT o.body, r.kind, r.task_id FROM outbox o JOIN recorded r"
                    " USING (mutation_id) WHERE o.mutation_id = ?",
                    (result.mutation_id,),
                ).fetchone()
                if row is None:
                    continue  # answered before (a replayed batch); the first verdict stays
                body, kind, task_id = row
                # The server may have ordered the edit by its own clock (this phone's ran
                # ahead); the next edit must build on the HLC the server stored.
                self.db.execute(
                    "UPDATE recorded SET status = ?, conflict_id = ?, hlc = coalesce(?, hlc)"
                    " WHERE mutation_id = ?",
                    (result.status, result.conflict_id, result.hlc, result.mutation_id),
                )
                if result.status == "rejected":
                    problem = result.problem
                    self.db.table("rejected").upsert(
                        {
                            "mutation_id": result.mutation_id,
                            "kind": kind,
                            "task_id": task_id,
                            "code": problem.code if problem else "rejected",
                            "detail": problem.detail if problem else "",
                            "field": problem.field if problem else None,
                            "body": body,
                            "at": at,
                        },
                        pk="mutation_id",
                    )
                elif result.status == "conflict" and result.conflict_id is not None:
                    self.db.table("conflicts").upsert(
                        {
                            "mutation_id": result.mutation_id,
                            "conflict_id": result.conflict_id,
                            "kind": kind,
                            "task_id": task_id,
                            "at": at,
                        },
                        pk="mutation_id",
                    )
                self.db.execute("DELETE FROM outbox WHERE mutation_id = ?", (result.mutation_id,))
            self._merge(server_hlc, now_ms)

    def rejected(self) -> list[Rejected]:
        with self._lock:
            rows = list(self.db.table("rejected").rows_where(order_by="rowid"))
        return [
            Rejected(
                mutation_id=r["mutation_id"],
                kind=r["kind"],
                task_id=r["task_id"],
                code=r["code"],
                detail=r["detail"],
                field=r["field"],
                mutation=_mutation_decoder.decode(r["body"]),
            )
            for r in rows
        ]

    def conflicts(self) -> list[ConflictNote]:
        with self._lock:
            rows = list(self.db.table("conflicts").rows_where(order_by="rowid"))
        return [
            ConflictNote(
                mutation_id=r["mutation_id"],
                conflict_id=r["conflict_id"],
                kind=r["kind"],
                task_id=r["task_id"],
            )
            for r in rows
        ]

    def recorded(self) -> list[dict[str, Any]]:
        """Every mutation made on this device that it still keeps, with its status."""
        with self._lock:
            return list(self.db.table("recorded").rows_where(order_by="rowid"))

    # -- pull ----------------------------------------------------------------------------

    def cursor(self) -> str | None:
        return self.get_state("cursor")

    def start_from_zero(self) -> None:
        """Forget the cursor and start tracking which tasks the coming snapshot holds; the
        tasks themselves stay on show until the snapshot is complete."""
        with self.atomic():
            self._set("cursor", None)
            self._set("snapshot_open", "1")
            self.db.execute("DELETE FROM snapshot_seen")

    def apply_page(
        self,
        changes: Sequence[Change],
        ignored: int,
        cursor: str,
        has_more: bool,
        server_hlc: str | None,
        now_ms: int,
    ) -> PageOutcome:
        """Apply one pulled page and keep its cursor, in one transaction.

        During a pull from zero every upserted task is noted; when the pull is caught up,
        the tasks the server did not send are dropped (they left the scope while this
        device was not looking, or were never in it).
        """
        upserts = removes = dropped = 0
        with self.atomic():
            from_zero = self._get("snapshot_open") == "1"
            for change in changes:
                if isinstance(change, Upsert):
                    upserts += 1
                    task = change.task
                    kind = "warning" if isinstance(task, WarningTask) else "publicity"
                    self.db.table("tasks").upsert(
                        {
                            "kind": kind,
                            "id": task.id,
                            "version": task.version,
                            "task": encoder.encode(task).decode(),
                            "visits": encoder.encode(change.visits).decode(),
                        },
                        pk=("kind", "id"),
                    )
                    # Edits answered before this copy was read are in it, or lost to what is.
                    self.db.execute(
                        "UPDATE recorded SET seen = 1 WHERE type = 'set_field' AND kind = ?"
                        " AND task_id = ? AND status != 'pending'",
                        (kind, task.id),
                    )
                    if from_zero:
                        self.db.execute(
                            "INSERT OR IGNORE INTO snapshot_seen (kind, id) VALUES (?, ?)",
                            (kind, task.id),
                        )
                elif isinstance(change, Remove):
                    removes += 1
                    self._drop_task(change.kind, change.id)
                    self.db.execute(
                        "DELETE FROM snapshot_seen WHERE kind = ? AND id = ?",
                        (change.kind, change.id),
                    )
            self._set("cursor", cursor)
            self._merge(server_hlc, now_ms)
            digest = None
            if not has_more:
                if from_zero:
                    for kind, task_id in self.db.execute(
                        "SELECT kind, id FROM tasks WHERE (kind, id) NOT IN"
                        " (SELECT kind, id FROM snapshot_seen)"
                    ).fetchall():
                        self._drop_task(kind, task_id)
                        dropped += 1
                    self.db.execute("DELETE FROM snapshot_seen")
                    self._set("snapshot_open", None)
                digest = self._checksum()
        if removes or dropped:
            self._forget_freed_pages()
        return PageOutcome(upserts=upserts, removes=removes, ignored=ignored, checksum=digest)

    def _drop_task(self, kind: str, task_id: int) -> None:
        """The task and everything about its resident go; what the officer recorded on it
        and has not yet sent stays in the outbox, because that is the officer's."""
        self.db.execute("DELETE FROM tasks WHERE kind = ? AND id = ?", (kind, task_id))
        self.db.execute(
            "DELETE FROM recorded WHERE kind = ? AND task_id = ?"
            " AND mutation_id NOT IN (SELECT mutation_id FROM outbox)",
            (kind, task_id),
        )

    def _forget_freed_pages(self) -> None:
        """Make dropped rows unreadable from the file, not only from the tables.

        secure_delete zeroes most freed space, but a page rebuilt when its neighbours are
        rebalanced keeps stale bytes in its gap, and the write-ahead log keeps old page
        images until a checkpoint. VACUUM rewrites the file from the live rows alone
        (a phone's file is small), and the checkpoint empties the log."""
        with self._lock:
            self.db.vacuum()
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def checksum(self) -> str:
        with self._lock:
            return self._checksum()

    def _checksum(self) -> str:
        return checksum.of(
            (r[0], r[1], r[2]) for r in self.db.execute("SELECT kind, id, version FROM tasks")
        )

    # -- reading -------------------------------------------------------------------------

    def _task_row(self, kind: str, task_id: int) -> dict[str, Any] | None:
        rows = list(
            self.db.table("tasks").rows_where("kind = ? AND id = ?", [kind, task_id], limit=1)
        )
        return rows[0] if rows else None

    def tasks(self) -> list[LocalTask]:
        with self._lock:
            rows = list(self.db.table("tasks").rows_where(order_by="kind, id"))
            return [self._local_task(r) for r in rows]

    def task(self, kind: str, task_id: int) -> LocalTask | None:
        with self._lock:
            row = self._task_row(kind, task_id)
            return None if row is None else self._local_task(row)

    def _local_task(self, row: dict[str, Any]) -> LocalTask:
        task = _task_decoder.decode(row["task"])
        visits = _visits_decoder.decode(row["visits"])
        on_server = {v.entry_id for v in visits}
        pending = [
            _entry_decoder.decode(r[0])
            for r in self.db.execute(
                "SELECT body FROM recorded WHERE type = 'record_visit' AND kind = ?"
                " AND task_id = ? AND mutation_id IN (SELECT mutation_id FROM outbox)"
                " ORDER BY hlc",
                (row["kind"], row["id"]),
            )
        ]
        notes_field = task.fields.get("officer_notes")
        notes = notes_field.value if notes_field else None
        unsent = self.db.execute(
            "SELECT value FROM recorded WHERE type = 'set_field' AND kind = ? AND task_id = ?"
            " AND field = 'officer_notes'"
            " AND mutation_id IN (SELECT mutation_id FROM outbox) ORDER BY hlc DESC LIMIT 1",
            (row["kind"], row["id"]),
        ).fetchone()
        if unsent is not None:
            notes = unsent[0]
        named = {p for v in visits for p in v.photos} | {p for e in pending for p in e.photos}
        waiting = tuple(
            sorted(
                r[0]
                for r in self.db.execute("SELECT sha256 FROM photos WHERE state != 'done'")
                if r[0] in named
            )
        )
        return LocalTask(
            kind=row["kind"],
            id=row["id"],
            version=row["version"],
            task=task,
            visits=visits,
            pending=[e for e in pending if e.entry_id not in on_server],
            notes=notes,
            photos_pending=waiting,
        )

    def _count(self, table: str) -> int:
        return int(self.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # noqa: S608

    def counts(self) -> dict[str, int]:
        with self._lock:
            return {t: self._count(t) for t in ("tasks", "outbox", "recorded", "rejected")}

    # -- photos --------------------------------------------------------------------------

    def add_photo(
        self, sha256: str, path: str, size: int, filename: str, filetype: str, now_ms: int
    ) -> None:
        """Queue a photo for upload (once per sha256: taking it twice changes nothing)."""
        with self.atomic():
            self.db.execute(
                "INSERT OR IGNORE INTO photos (sha256, path, size, filename, filetype, state,"
                " added_at) VALUES (?, ?, ?, ?, ?, 'pending', ?)",
                (sha256, path, size, filename, filetype, _iso_ms(now_ms)),
            )

    def photos_to_upload(self) -> list[dict[str, Any]]:
        with self._lock:
            return [
                dict(r)
                for r in self.db.table("photos").rows_where(
                    "state = 'pending'", order_by="added_at, sha256"
                )
            ]

    def photo(self, sha256: str) -> dict[str, Any] | None:
        with self._lock:
            rows = list(self.db.table("photos").rows_where("sha256 = ?", [sha256], limit=1))
        return rows[0] if rows else None

    def save_upload_url(self, sha256: str, url: str | None) -> None:
        with self.atomic():
            self.db.execute("UPDATE photos SET upload_url = ? WHERE sha256 = ?", (url, sha256))

    def settle_photo(self, sha256: str, state: str, code: str | None = None) -> None:
        """`done` once the server holds the photo; `rejected` (with its code) for good."""
        with self.atomic():
            self.db.execute(
                "UPDATE photos SET state = ?, code = ? WHERE sha256 = ?", (state, code, sha256)
            )

    def _pending_photos(self) -> int:
        return int(
            self.db.execute("SELECT count(*) FROM photos WHERE state = 'pending'").fetchone()[0]
        )

    # -- events --------------------------------------------------------------------------

    def event_seq(self) -> int:
        text = self.get_state("event_seq")
        return int(text) if text else 0

    def save_event_seq(self, seq: int) -> None:
        with self.atomic():
            if seq > int(self._get("event_seq") or 0):
                self._set("event_seq", str(seq))

    # -- wipe ----------------------------------------------------------------------------

    def wipe(self) -> None:
        """Delete every task, resident detail, record and token held here."""
        with self.atomic():
            self._wipe()
        self._forget_freed_pages()

    def _wipe(self) -> None:
        # The photos' copies go with their rows: a lost phone must not keep them either.
        for (path,) in self.db.execute("SELECT path FROM photos").fetchall():
            Path(path).unlink(missing_ok=True)
        for table in WIPED_TABLES:
            self.db.execute(f"DELETE FROM {table}")  # noqa: S608
        for key in WIPED_STATE:
            self._set(key, None)


def _iso_ms(now_ms: int) -> str:
    return datetime.fromtimestamp(now_ms / 1000, UTC).isoformat(timespec="milliseconds")

"""The SQLite store's plumbing: one writer, many readers, sequence numbers, the audit chain.

SQLite in WAL mode lets readers run beside one writer. Every write in beatsync goes
through `SQLiteBase.transaction()`, which holds the single writer connection under a
lock, so writes are serialised in-process and each is all-or-nothing. Readers use one
connection per thread and never wait for the writer.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import msgspec
from sqlite_utils import Database

from server.clock import Clock, iso
from server.store import outcome_feed
from server.store.errors import PendingMigrations, StoreUnavailable, register_unavailable
from server.store.peer_commits import PeerCommitWatcher
from server.store.records import Actor, AuditEntry, AuditItem, AuditVerdict, UnitKey
from server.store.sqlite import migrations
from server.store.sqlite.checkpoint import BACKSTOP_PAGES, wal_checkpointer
from server.store.supervision_records import EscalationStep
from server.store.sync_records import ClaimSide, ConflictRecord, ConflictSide, FieldSide, TaskSide
from server.store.visit_records import VisitRecord

T = TypeVar("T")
V = TypeVar("V", bound=VisitRecord)

GENESIS_HASH = "0" * 64
_encode = msgspec.json.Encoder(order="sorted").encode
_decode_obj = msgspec.json.Decoder(dict[str, Any]).decode
_decode_list = msgspec.json.Decoder(list[Any]).decode


def connect(path: str | Path, *, readonly: bool = False) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=10)
    conn.execute("PRAGMA busy_timeout = 10000")
    conn.execute("PRAGMA foreign_keys = ON")
    if readonly:
        conn.execute("PRAGMA query_only = ON")
    else:
        conn.execute("PRAGMA journal_mode = WAL")
        # NORMAL in WAL mode is durable against application crashes, which is what a
        # killed server is; a power cut may lose the last commits, not corrupt the file.
        conn.execute("PRAGMA synchronous = NORMAL")
    conn.row_factory = _dict_row
    return conn


def _dict_row(cursor: sqlite3.Cursor, row: Sequence[Any]) -> dict[str, Any]:
    return {d[0]: v for d, v in zip(cursor.description, row, strict=True)}


def to_record(row: Mapping[str, Any], kind: type[T]) -> T:
    # strict=False: SQLite gives 0/1 for booleans and ISO text for datetimes.
    return msgspec.convert(row, kind, strict=False)


def visit_record(row: Mapping[str, Any], kind: type[V]) -> V:
    """A visit_logs row (with whatever columns the reader joined) as its record: its
    photos, flags and materials are JSON text in the table."""
    lists = {k: _decode_list(row[k]) for k in ("photos", "flags", "materials")}
    return to_record({**row, **lists}, kind)


def audit_hash(prev_hash: str, body: Mapping[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode() + _encode(body)).hexdigest()


# SQLite's answers that mean the file, not the statement: another process holding the lock
# past the busy timeout, a missing or unwritable folder, a failing disk.
_UNAVAILABLE = ("database is locked", "unable to open database file", "disk I/O error")


def _sqlite_unavailable(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and str(exc).startswith(_UNAVAILABLE)


register_unavailable(_sqlite_unavailable)


class SQLiteBase:
    # Whether a result column holds one type, whatever the row (not SQLite's way).
    _typed_columns = False

    @staticmethod
    def _json_items(column: str) -> str:
        """A table of a JSON array column's items, for a FROM list (alias: item.value)."""
        return f"json_each({column})"

    @staticmethod
    def _json_item(alias: str, key: str) -> str:
        """An item's member `key`, as a number, from `_json_items`."""
        return f"json_extract({alias}.value, '$.{key}')"

    def __init__(self, path: str | Path, clock: Clock, *, migrate: bool = True) -> None:
        self.path = str(path)
        self.clock = clock
        self._write_lock = threading.Lock()
        self._open()
        self._listeners: list[Callable[[frozenset[int], int], None]] = []
        self._touched: set[int] = set()
        self._audit_listeners: list[Callable[[frozenset[UnitKey], int], None]] = []
        self._audited: dict[UnitKey, int] = {}
        self._escalation_listeners: list[Callable[[list[EscalationStep]], None]] = []
        self._watcher: PeerCommitWatcher | None = None
        self._watch_marks: tuple[int, int, int] = (0, 0, 0)
        if not migrate:
            self._refuse_pending()
        self.migrations_applied_now = self._migrate()

    # -- connections -------------------------------------------------------------------
    # What another SQL backend replaces (server/store/postgres/store.py): how connections
    # are opened and closed, how a write begins, what follows a commit, and migrations.

    def _open(self) -> None:
        try:
            self._writer = connect(self.path)
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable(f"cannot open the database at {self.path}: {exc}") from exc
        self._writer.execute(f"PRAGMA wal_autocheckpoint = {BACKSTOP_PAGES}")
        # Pushes write visit logs, audit entries and their indexes; a larger page cache
        # keeps those pages in memory between transactions.
        self._writer.execute("PRAGMA cache_size = -32768")
        self._checkpointer = wal_checkpointer(self.path)
        self._local = threading.local()
        self._all_readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()

    def _close_connections(self) -> None:
        self._checkpointer.close()
        with self._readers_lock:
            for conn in self._all_readers:
                conn.close()
            self._all_readers.clear()
        self._local = threading.local()
        self._writer.close()

    def _writable(self) -> sqlite3.Connection:
        """The writer connection, ready for a transaction (called under the write lock)."""
        return self._writer

    def _begin_write(self, conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")

    def _before_commit(self, conn: sqlite3.Connection) -> None:
        """Last statements of every write transaction, after the caller's."""

    def _rollback(self, conn: sqlite3.Connection) -> None:
        conn.execute("ROLLBACK")

    def _committed(self) -> None:
        self._checkpointer.poke()

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.path, readonly=True)
            self._local.conn = conn
            with self._readers_lock:
                self._all_readers.append(conn)
        return conn

    def _query(
        self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()
    ) -> list[dict[str, Any]]:
        return self._reader().execute(sql, params).fetchall()

    def _one(
        self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()
    ) -> dict[str, Any] | None:
        row: dict[str, Any] | None = self._reader().execute(sql, params).fetchone()
        return row

    @contextmanager
    def _snapshot(self) -> Iterator[sqlite3.Connection]:
        """The thread's reader inside one read transaction.

        A task is two tables; read outside a transaction, a write committed between the
        task row and its assignees would pair version N with the officers of N+1.
        """
        conn = self._reader()
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.execute("COMMIT")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """The only way to write: one writer, one transaction, all or nothing."""
        with self._write_lock:
            conn = self._writable()
            self._touched = set()
            self._audited = {}
            self._begin_write(conn)
            try:
                yield conn
                self._before_commit(conn)
            except BaseException:
                self._rollback(conn)
                raise
            conn.execute("COMMIT")
            touched, self._touched = frozenset(self._touched), set()
            audited, self._audited = self._audited, {}
        self._committed()
        if touched:
            head = self.current_seq()
            for listener in self._listeners:
                listener(touched, head)
        if audited:
            units, newest = frozenset(audited), max(audited.values())
            for audit_listener in self._audit_listeners:
                audit_listener(units, newest)

    def on_scope_change(self, listener: Callable[[frozenset[int], int], None]) -> None:
        """Call listener(officer ids, head seq) after each commit that changed their scopes.

        Runs on the writing thread, after the commit: a listener must only hand off.
        """
        self._listeners.append(listener)
        self._watch_peers()

    def on_audit(self, listener: Callable[[frozenset[UnitKey], int], None]) -> None:
        """Call listener(units, newest audit id) after each commit that appended to the
        audit log; units are the (level, unit id) of every city, county and station the
        new entries belong to. Same thread rule as on_scope_change."""
        self._audit_listeners.append(listener)
        self._watch_peers()

    def on_escalation(self, listener: Callable[[list[EscalationStep]], None]) -> None:
        """Call listener(steps: id, level and unit ids) when escalation steps are recorded,
        by this process or another on the same database, within a second."""
        self._escalation_listeners.append(listener)
        self._watch_peers()

    # -- other processes' commits ---------------------------------------------------------

    def _watch_peers(self) -> None:
        """Start telling the listeners of other processes' commits (peer_commits.py), from
        the logs' current ends: what came before is what a reconnecting stream reads."""
        if self._watcher is not None:
            return
        self._watch_marks = self._log_ends()
        self._watcher = self._peer_watcher()
        self._watcher.start()

    def _peer_watcher(self) -> PeerCommitWatcher:
        return PeerCommitWatcher(self._poll_peer_commits)

    def _log_ends(self) -> tuple[int, int, int]:
        row = self._one(
            "SELECT (SELECT coalesce(max(id), 0) FROM scope_changes) AS changes,"
            " (SELECT coalesce(max(id), 0) FROM audit_log) AS audit,"
            " (SELECT coalesce(max(id), 0) FROM escalations) AS escalations"
        )
        assert row is not None  # noqa: S101 -- a SELECT of scalars has a row
        return int(row["changes"]), int(row["audit"]), int(row["escalations"])

    def _poll_peer_commits(self) -> None:
        """Tell the listeners what was committed since the last poll, by anyone. Ids only
        grow in commit order (one writer at a time), so reading past the last one told
        misses nothing."""
        changes, audit, steps = self._watch_marks
        new_changes, new_audit, new_steps = self._log_ends()
        if new_changes > changes:
            # Each officer with the seq of their own newest change, not the head: a stream
            # told a newer seq than its officer's changes would wake for nothing.
            by_seq: dict[int, set[int]] = {}
            for r in self._query(
                "SELECT officer_id, max(seq) AS seq FROM scope_changes"
                " WHERE id > ? AND id <= ? GROUP BY officer_id",
                (changes, new_changes),
            ):
                by_seq.setdefault(int(r["seq"]), set()).add(int(r["officer_id"]))
            for seq, officers in sorted(by_seq.items()):
                for listener in self._listeners:
                    listener(frozenset(officers), seq)
        if new_audit > audit:
            units = _units_of(
                self._query(
                    "SELECT DISTINCT city_id, county_id, station_id FROM audit_log"
                    " WHERE id > ? AND id <= ?",
                    (audit, new_audit),
                )
            )
            for audit_listener in self._audit_listeners:
                audit_listener(units, new_audit)
        if new_steps > steps:
            recorded = [
                to_record(r, EscalationStep)
                for r in self._query(
                    "SELECT id, level, city_id, county_id, station_id FROM escalations"
                    " WHERE id > ? AND id <= ?",
                    (steps, new_steps),
                )
            ]
            for escalation_listener in self._escalation_listeners:
                escalation_listener(recorded)
        self._watch_marks = (new_changes, new_audit, new_steps)

    def close(self) -> None:
        if self._watcher is not None:
            self._watcher.close()
        self._close_connections()

    def _migrate(self) -> list[str]:
        # sqlite-utils wants plain tuple rows, so migrations get a connection of their own,
        # taken under the writer lock like any other write.
        with self._write_lock:
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=10)
            try:
                return migrations.apply(Database(conn))
            finally:
                conn.close()

    def _refuse_pending(self) -> None:
        """Raise PendingMigrations if an existing database is behind this code. A new one
        (nothing applied yet) is created here: no older release can be serving from it."""
        applied = self.applied_migrations()
        pending = [name for name in migrations.known() if name not in applied]
        if applied and pending:
            self._writer.close()
            raise PendingMigrations(self.path, pending)

    def known_migrations(self) -> list[str]:
        return migrations.known()

    def applied_migrations(self) -> list[str]:
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=10)
        try:
            return migrations.applied(Database(conn))
        finally:
            conn.close()

    # -- helpers used inside transactions ------------------------------------------------

    def _now(self) -> str:
        return iso(self.clock.now())

    @staticmethod
    def _next_seq(conn: sqlite3.Connection, count: int = 1) -> int:
        """Reserve `count` sequence numbers; return the first. Bumps counters.seq."""
        row = conn.execute(
            "UPDATE counters SET value = value + ? WHERE name = 'seq' RETURNING value", (count,)
        ).fetchone()
        last = int(row["value"])
        return last - count + 1

    def current_seq(self) -> int:
        row = self._one("SELECT value FROM counters WHERE name = 'seq'")
        return int(row["value"]) if row else 0

    # -- the platform's outcome feed (server/store/outcome_feed.py) ------------------------

    @staticmethod
    def _outcome_amount(conn: Any, entry_id: str | None) -> int | None:
        """The amount prevented of the visit entry that holds a warning's outcome: the
        warning row keeps it, so that a city-month report need not look each one up."""
        if entry_id is None:
            return None
        row = conn.execute(
            "SELECT amount_prevented FROM visit_logs WHERE entry_id = ?", (entry_id,)
        ).fetchone()
        return None if row is None else row["amount_prevented"]

    @staticmethod
    def _tell_platform(conn: Any, changes: Iterable[tuple[Mapping[str, Any], Any]]) -> None:
        """Put on the outcome feed what each warning change (old row, new row) tells the
        platform, in the transaction that makes the change."""
        rows = [row for old, new in changes if (row := outcome_feed.feed_row(old, new))]
        if rows:
            conn.executemany(outcome_feed.INSERT, rows)

    def _append_audit(
        self,
        conn: sqlite3.Connection,
        entries: Sequence[AuditItem],
        actor: Actor,
    ) -> None:
        """Append entries (action, entity, entity_id, before, after, scope) to the chain."""
        if not entries:
            return
        last = conn.execute("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()
        prev_hash = last["hash"] if last else GENESIS_HASH
        next_id = (last["id"] if last else 0) + 1
        at = self._now()
        rows = []
        for action, entity, entity_id, before, after, scope in entries:
            # Encoded once: the row keeps the text, the hashed body embeds the same bytes
            # (the sorted encoding of a dict is the same alone or nested), so the chain is
            # unchanged and `_walk_audit` verifies it as before.
            before_json = None if before is None else _encode(before)
            after_json = None if after is None else _encode(after)
            city, county, station = (
                scope.get("city_id"),
                scope.get("county_id"),
                scope.get("station_id"),
            )
            body = {
                "id": next_id,
                "at": at,
                "actor_user_id": actor.user_id,
                "actor_device_id": actor.device_id,
                "action": action,
                "entity": entity,
                "entity_id": entity_id,
                "city_id": city,
                "county_id": county,
                "station_id": station,
                "before": None if before_json is None else msgspec.Raw(before_json),
                "after": None if after_json is None else msgspec.Raw(after_json),
            }
            digest = audit_hash(prev_hash, body)
            rows.append(
                (
                    next_id,
                    at,
                    actor.user_id,
                    actor.device_id,
                    action,
                    entity,
                    entity_id,
                    city,
                    county,
                    station,
                    None if before_json is None else before_json.decode(),
                    None if after_json is None else after_json.decode(),
                    prev_hash,
                    digest,
                )
            )
            prev_hash = digest
            for level, unit in (("city", city), ("county", county), ("station", station)):
                if unit:
                    self._audited[(level, str(unit))] = next_id
            next_id += 1
        conn.executemany(
            "INSERT INTO audit_log (id, at, actor_user_id, actor_device_id, action, entity,"
            " entity_id, city_id, county_id, station_id, before, after, prev_hash, hash)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )

    # -- audit reads -----------------------------------------------------------------------

    def list_audit(
        self,
        *,
        column: str | None = None,
        value: str | int | None = None,
        entity: str | None = None,
        entity_id: str | None = None,
        after_id: int = 0,
        limit: int = 100,
    ) -> list[AuditEntry]:
        """Audit entries after `after_id`, oldest first, optionally within a jurisdiction."""
        where = ["id > ?"]
        params: list[Any] = [after_id]
        if column is not None:
            if column not in {"city_id", "county_id", "station_id"}:
                raise ValueError(f"audit cannot be scoped by {column}")
            where.append(f"{column} = ?")
            params.append(value)
        if entity is not None:
            where.append("entity = ?")
            params.append(entity)
        if entity_id is not None:
            where.append("entity_id = ?")
            params.append(entity_id)
        params.append(limit)
        rows = self._query(
            f"SELECT * FROM audit_log WHERE {' AND '.join(where)} ORDER BY id LIMIT ?",  # noqa: S608
            params,
        )
        return [to_record(_audit_row(r), AuditEntry) for r in rows]

    def latest_audit_id(self, column: str, value: str) -> int:
        """The newest audit entry of a city, county or station (0: none); one index seek."""
        if column not in {"city_id", "county_id", "station_id"}:
            raise ValueError(f"audit cannot be scoped by {column}")
        row = self._one(
            f"SELECT max(id) AS id FROM audit_log WHERE {column} = ?",  # noqa: S608
            (value,),
        )
        return int(row["id"]) if row and row["id"] is not None else 0

    def verify_audit(self, anchor: tuple[int, str] | None = None) -> AuditVerdict:
        """Walk the whole chain; report the first entry whose hash or link is wrong.

        A chain cut short is still a valid chain: only an anchor, an entry's id and hash
        kept elsewhere, shows that entries were removed from the end."""
        verdict = self._walk_audit()
        if not verdict.ok or anchor is None:
            return verdict
        anchor_id, anchor_hash = anchor
        row = self._one("SELECT hash FROM audit_log WHERE id = ?", (anchor_id,))
        if row is None or row["hash"] != anchor_hash:
            return AuditVerdict(
                ok=False,
                checked=verdict.checked,
                first_bad_id=anchor_id,
                reason=(
                    "the anchored entry is gone: entries were removed from the end"
                    if row is None
                    else "the anchored entry has another hash: the chain was rewritten"
                ),
                head_id=verdict.head_id,
                head_hash=verdict.head_hash,
            )
        return verdict

    def _walk_audit(self) -> AuditVerdict:
        prev_hash = GENESIS_HASH
        expected_id: int | None = None
        checked = 0
        for row in self._reader().execute("SELECT * FROM audit_log ORDER BY id"):
            entry = _audit_row(row)
            if expected_id is not None and entry["id"] != expected_id:
                return AuditVerdict(
                    ok=False,
                    checked=checked,
                    first_bad_id=entry["id"],
                    reason=f"entry {expected_id} is missing",
                )
            if entry["prev_hash"] != prev_hash:
                return AuditVerdict(
                    ok=False,
                    checked=checked,
                    first_bad_id=entry["id"],
                    reason="link to the previous entry is broken",
                )
            body = {
                k: entry[k]
                for k in (
                    "id",
                    "at",
                    "actor_user_id",
                    "actor_device_id",
                    "action",
                    "entity",
                    "entity_id",
                    "city_id",
                    "county_id",
                    "station_id",
                    "before",
                    "after",
                )
            }
            if audit_hash(prev_hash, body) != entry["hash"]:
                return AuditVerdict(
                    ok=False,
                    checked=checked,
                    first_bad_id=entry["id"],
                    reason="entry content does not match its hash",
                )
            prev_hash = entry["hash"]
            expected_id = entry["id"] + 1
            checked += 1
        return AuditVerdict(
            ok=True,
            checked=checked,
            head_id=None if expected_id is None else expected_id - 1,
            head_hash=None if expected_id is None else prev_hash,
        )


def _audit_row(row: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(row)
    for key in ("before", "after"):
        if out[key] is not None:
            out[key] = _decode_obj(out[key])
    return out


def _units_of(rows: Sequence[Mapping[str, Any]]) -> frozenset[UnitKey]:
    return frozenset(
        (level, str(r[f"{level}_id"]))
        for r in rows
        for level in ("city", "county", "station")
        if r[f"{level}_id"]
    )


def conflict_record(row: Mapping[str, Any]) -> ConflictRecord:
    """A conflicts row as its record, each side in the shape its rule and content name."""
    sides = {k: _side(row["rule"], row[k]) for k in ("winner", "loser")}
    return to_record(
        {**row, "officer_ids": _decode_list(row["officer_ids"]), **sides}, ConflictRecord
    )


def _side(rule: str, text: str | None) -> ConflictSide | None:
    """A conflict's side as stored (JSON) in its record: its shape follows from the rule,
    and where the rule allows two, from whether a claim or the task's state was kept."""
    if not text:
        return None
    side = _decode_obj(text)
    if rule == "concurrent_edit":
        return msgspec.convert(side, FieldSide)
    if "assignees" in side:
        return msgspec.convert(side, TaskSide)
    return msgspec.convert(side, ClaimSide)

"""Device scopes in SQLite: who holds which task, the change log pulls read, checksums.

A task is in an officer's scope while it is assigned to them, or they recorded a visit on
it, until it is cancelled or has been closed longer than the retention period. Every
write of a task calls `_refresh_scope` in its own transaction; it compares the scope the
task should have with the one recorded, and appends one row per affected officer to the
change log: `upsert` (fetch the task again) or `remove` (drop it and its personal data).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import NamedTuple, TypeVar

from server.clock import iso
from server.store.scope_order import UPSERT_MEMBER, UPSERT_MEMBER_KEYED
from server.store.sqlite.base import SQLiteBase
from sync import checksum

T = TypeVar("T")
CHUNK = 900  # bound parameters per IN list; far below SQLite's limit


class SQLiteScope(SQLiteBase):
    def _refresh_scope(
        self, conn: sqlite3.Connection, kind: str, task_id: int, seq: int, *, expired: bool = False
    ) -> None:
        """Bring scope_members, scope_checksums and scope_changes in line with one task."""
        self._refresh_scopes(conn, [(kind, task_id, seq)], expired=expired)

    def _refresh_scopes(
        self,
        conn: sqlite3.Connection,
        tasks: Sequence[tuple[str, int, int]],
        *,
        expired: bool = False,
        known: Mapping[tuple[str, int], KnownTask] | None = None,
    ) -> None:
        """The same for many tasks (kind, id, seq of the change) in a handful of statements.

        A push or an ingest touches hundreds of tasks; reading and writing them in bulk is
        what keeps the single writer fast. `known`: the caller already holds every task's
        new version, state and assignees, unchanged assignees included (a push), so they
        are not read again.
        """
        if not tasks:
            return
        seq_of = {(k, i): s for k, i, s in tasks}
        inputs = _load_scope_inputs(conn, list(seq_of), known)
        assignees, holders, version = inputs.assignees, inputs.holders, inputs.version
        cancelled, current, stored_key = inputs.cancelled, inputs.current, inputs.sort_key
        if known is None:
            conn.executemany(
                "INSERT OR IGNORE INTO assignment_history (task_kind, task_id, officer_id)"
                " VALUES (?, ?, ?)",
                [(k, i, o) for (k, i), officers in assignees.items() for o in officers],
            )
        now = self._now()
        upserts: list[tuple[int, str, int, int]] = []
        deletes: list[tuple[int, str, int]] = []
        changes: list[tuple[int, int, str, int, str, str | None, str]] = []
        delta: dict[int, int] = {}
        for key, seq in seq_of.items():
            kind, task_id = key
            desired = set() if key in cancelled or expired else assignees[key] | holders[key]
            reason = "cancelled" if key in cancelled else "retention" if expired else "reassigned"
            new_version = version[key]
            for officer in desired:
                old = current[key].get(officer)
                if old == new_version:
                    continue
                upserts.append((officer, kind, task_id, new_version))
                delta[officer] = (
                    delta.get(officer, 0)
                    ^ checksum.task_hash(kind, task_id, new_version)
                    ^ (checksum.task_hash(kind, task_id, old) if old is not None else 0)
                )
                changes.append((seq, officer, kind, task_id, "upsert", None, now))
            for officer in set(current[key]) - desired:
                deletes.append((officer, kind, task_id))
                delta[officer] = delta.get(officer, 0) ^ checksum.task_hash(
                    kind, task_id, current[key][officer]
                )
                changes.append((seq, officer, kind, task_id, "remove", reason, now))
        # The member's place in the pull's order comes from the task row as it now is:
        # from the caller when it holds the row (a push), else read in the statement.
        keyed = {key: k.sort_key for key, k in (known or {}).items() if k.sort_key}
        _write_members(conn, upserts, keyed, stored_key)
        conn.executemany(
            "DELETE FROM scope_members WHERE officer_id = ? AND task_kind = ? AND task_id = ?",
            deletes,
        )
        _write_changes(conn, changes)
        self._apply_checksum_deltas(conn, delta)
        self._touched.update(c[1] for c in changes)

    @staticmethod
    def _apply_checksum_deltas(conn: sqlite3.Connection, delta: dict[int, int]) -> None:
        stored: dict[int, int] = {}
        for chunk in chunks(list(delta)):
            marks = ",".join("?" * len(chunk))
            for r in conn.execute(
                f"SELECT officer_id, checksum FROM scope_checksums"  # noqa: S608
                f" WHERE officer_id IN ({marks})",
                chunk,
            ):
                stored[r["officer_id"]] = int(r["checksum"], 16)
        conn.executemany(
            "INSERT INTO scope_checksums (officer_id, checksum) VALUES (?, ?)"
            " ON CONFLICT (officer_id) DO UPDATE SET checksum = excluded.checksum",
            [(o, f"{stored.get(o, 0) ^ d:016x}") for o, d in delta.items()],
        )

    def latest_change(self, officer_id: int) -> int:
        """The seq of the newest change in this officer's scope (0: none)."""
        row = self._one(
            "SELECT max(seq) AS s FROM scope_changes WHERE officer_id = ?", (officer_id,)
        )
        return int(row["s"] or 0) if row else 0

    def sweep_retention(self, retention: timedelta) -> int:
        """Drop tasks closed longer than `retention` from every scope; returns how many.

        Phones receive `remove` for them and delete the residents' data they held.
        """
        cutoff = iso(self.clock.now() - retention)
        rows = self._query(
            "SELECT DISTINCT m.task_kind, m.task_id FROM scope_members m"
            " LEFT JOIN warnings w ON m.task_kind = 'warning' AND w.id = m.task_id"
            " LEFT JOIN publicity_tasks p ON m.task_kind = 'publicity' AND p.id = m.task_id"
            " WHERE coalesce(w.closed_at, p.closed_at) < ?",
            (cutoff,),
        )
        if not rows:
            return 0
        with self.transaction() as conn:
            first = self._next_seq(conn, len(rows))
            self._refresh_scopes(
                conn,
                [(r["task_kind"], r["task_id"], first + n) for n, r in enumerate(rows)],
                expired=True,
            )
        return len(rows)

    def compact_changes(self, keep_after: datetime) -> int:
        """Forget change-log rows written before `keep_after`; cursors older than the
        newest forgotten row must resync from zero (410 resync_required)."""
        with self.transaction() as conn:
            row = conn.execute(
                "SELECT max(seq) AS s FROM scope_changes WHERE at < ?", (iso(keep_after),)
            ).fetchone()
            if row["s"] is None:
                return 0
            deleted = conn.execute("DELETE FROM scope_changes WHERE seq <= ?", (row["s"],)).rowcount
            conn.execute(
                "UPDATE counters SET value = max(value, ?) WHERE name = 'changes_horizon'",
                (row["s"],),
            )
        return int(deleted)


def chunks(items: Sequence[T]) -> Iterator[list[T]]:
    for start in range(0, len(items), CHUNK):
        yield list(items[start : start + CHUNK])


class KnownTask(NamedTuple):
    """A task's scope inputs as a caller already holds them."""

    version: int
    cancelled: bool
    assignees: set[int]
    sort_key: str | None = None  # scope_order.sort_key of the task as it will be stored
    # Who recorded on it (task_visitors, this write's visitors included); None: read them.
    holders: set[int] | None = None


class _ScopeInputs(NamedTuple):
    assignees: dict[tuple[str, int], set[int]]
    holders: dict[tuple[str, int], set[int]]
    version: dict[tuple[str, int], int]
    cancelled: set[tuple[str, int]]
    current: dict[tuple[str, int], dict[int, int]]
    # (kind, task id, officer) -> the member's stored sort_key, read only for a caller
    # that knows the tasks (a push), to tell a member whose place in the order stays.
    sort_key: dict[tuple[str, int, int], str]


def _load_scope_inputs(
    conn: sqlite3.Connection,
    keys: list[tuple[str, int]],
    known: Mapping[tuple[str, int], KnownTask] | None = None,
) -> _ScopeInputs:
    """Everything that decides the tasks' scopes, read in a few queries per kind."""
    visitors_known = known is not None and all(known[key].holders is not None for key in keys)
    inputs = _ScopeInputs(
        assignees={} if known is not None else {key: set() for key in keys},
        holders={} if visitors_known else {key: set() for key in keys},
        version={},
        cancelled=set(),
        current={key: {} for key in keys},
        sort_key={},
    )
    if known is not None:
        # A push: what it holds of every task, taken as it is (nothing below changes it).
        for key in keys:
            task = known[key]
            inputs.version[key], inputs.assignees[key] = task.version, task.assignees
            if task.cancelled:
                inputs.cancelled.add(key)
            if visitors_known:
                inputs.holders[key] = task.holders or set()
    for kind in ("warning", "publicity"):
        ids = [i for k, i in keys if k == kind]
        for chunk in chunks(ids):
            marks = ",".join("?" * len(chunk))
            if known is None:
                _read_tasks(conn, kind, chunk, inputs)
            # Plain tuples: these two reads return a row per officer per task.
            rows = conn.cursor()
            rows.row_factory = None
            if not visitors_known:
                for task_id, officer_id in rows.execute(
                    "SELECT task_id, officer_id FROM task_visitors"  # noqa: S608
                    f" WHERE task_kind = ? AND task_id IN ({marks})",
                    (kind, *chunk),
                ):
                    inputs.holders[(kind, task_id)].add(officer_id)
            _read_members(rows, kind, chunk, inputs, with_keys=known is not None)
    return inputs


def _write_members(
    conn: sqlite3.Connection,
    upserts: list[tuple[int, str, int, int]],
    keyed: Mapping[tuple[str, int], str],
    stored_key: Mapping[tuple[str, int, int], str],
) -> None:
    """Member rows (officer, kind, task id, version), new or at a new version. A member
    whose place in the order stays (most of a push's: a visit rarely moves its task in
    the order) has only its version written, leaving the order's index alone."""
    versions, upsert_keyed, upsert_read = [], [], []
    for u in upserts:
        key = u[1:3]
        if key not in keyed:
            upsert_read.append((*u, u[2]))
        elif stored_key.get((*key, u[0])) == keyed[key]:
            versions.append((u[3], *u[:3]))
        else:
            upsert_keyed.append((*u, keyed[key]))
    conn.executemany(
        "UPDATE scope_members SET version = ?"
        " WHERE officer_id = ? AND task_kind = ? AND task_id = ?",
        versions,
    )
    conn.executemany(UPSERT_MEMBER_KEYED, upsert_keyed)
    for kind, statement in UPSERT_MEMBER.items():
        conn.executemany(statement, [u for u in upsert_read if u[1] == kind])


def _write_changes(
    conn: sqlite3.Connection, changes: list[tuple[int, int, str, int, str, str | None, str]]
) -> None:
    """Append change-log rows (seq, officer, kind, task id, op, reason, at), in order."""
    if any(c[5] is not None for c in changes):
        conn.executemany(
            "INSERT INTO scope_changes (seq, officer_id, task_kind, task_id, op, reason, at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            changes,
        )
        return
    # Only upserts (a push's, nearly always), whose NULL reason is written in the
    # statement: the driver binds None through a failed adapter lookup per row.
    conn.executemany(
        "INSERT INTO scope_changes (seq, officer_id, task_kind, task_id, op, reason, at)"
        " VALUES (?, ?, ?, ?, 'upsert', NULL, ?)",
        [(c[0], c[1], c[2], c[3], c[6]) for c in changes],
    )


def _read_members(
    rows: sqlite3.Cursor, kind: str, chunk: list[int], into: _ScopeInputs, *, with_keys: bool
) -> None:
    """The recorded members of one chunk of tasks of one kind, at their versions; with
    their sort keys too for a caller that knows the tasks (a push)."""
    marks = ",".join("?" * len(chunk))
    if not with_keys:
        for task_id, officer_id, held in rows.execute(
            "SELECT task_id, officer_id, version FROM scope_members"  # noqa: S608
            f" WHERE task_kind = ? AND task_id IN ({marks})",
            (kind, *chunk),
        ):
            into.current[(kind, task_id)][officer_id] = held
        return
    for task_id, officer_id, held, order in rows.execute(
        "SELECT task_id, officer_id, version, sort_key FROM scope_members"  # noqa: S608
        f" WHERE task_kind = ? AND task_id IN ({marks})",
        (kind, *chunk),
    ):
        into.current[(kind, task_id)][officer_id] = held
        into.sort_key[(kind, task_id, officer_id)] = order


def _read_tasks(conn: sqlite3.Connection, kind: str, chunk: list[int], into: _ScopeInputs) -> None:
    """Version, cancellation and assignees of one chunk of tasks of one kind."""
    marks = ",".join("?" * len(chunk))
    if kind == "warning":
        for r in conn.execute(
            "SELECT id, version, state AS st, officer_id FROM warnings"  # noqa: S608
            f" WHERE id IN ({marks})",
            chunk,
        ):
            key = (kind, r["id"])
            into.version[key] = r["version"]
            if r["st"] == "cancelled":
                into.cancelled.add(key)
            if r["officer_id"] is not None:
                into.assignees[key].add(r["officer_id"])
        return
    for r in conn.execute(
        "SELECT id, version, status AS st FROM publicity_tasks"  # noqa: S608
        f" WHERE id IN ({marks})",
        chunk,
    ):
        key = (kind, r["id"])
        into.version[key] = r["version"]
        if r["st"] == "cancelled":
            into.cancelled.add(key)
    for r in conn.execute(
        "SELECT task_id, officer_id FROM publicity_assignees"  # noqa: S608
        f" WHERE task_id IN ({marks})",
        chunk,
    ):
        into.assignees[(kind, r["task_id"])].add(r["officer_id"])

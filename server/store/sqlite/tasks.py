"""Warnings and publicity tasks in SQLite: ingest, scoped listing, versioned updates."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import msgspec

from server.clock import iso
from server.errors import ConflictError, ErrorCode, NotFound
from server.store.overdue import overdue_sql, past_deadline_sql
from server.store.queries import WarningQuery
from server.store.records import (
    PUBLICITY_FINAL,
    WARNING_FINAL,
    Actor,
    Jurisdiction,
    NewWarning,
    PublicityTask,
    WarningRecord,
)
from server.store.sqlite.base import to_record
from server.store.sqlite.scope import SQLiteScope

# Fields whose changes the audit log records. Residents' personal data stays out of it:
# the audit log is read by many supervisors and kept for years.
WARNING_AUDIT_FIELDS = (
    "state",
    "queue",
    "city_id",
    "county_id",
    "station_id",
    "officer_id",
    "deadline_at",
    "outcome",
    "routing_reason",
    "cancel_reason",
)
PUBLICITY_AUDIT_FIELDS = (
    "title",
    "grid_code",
    "station_id",
    "venue_kind",
    "audience",
    "window_start",
    "window_end",
    "status",
    "officer_ids",
    "notes",
)
WARNING_COLUMNS = tuple(f for f in NewWarning.__struct_fields__)
SCOPE_COLUMNS = frozenset({"city_id", "county_id", "station_id", "officer_id"})
# What an update may change; identity, sequence and timestamps belong to the store.
WARNING_MUTABLE = frozenset(
    {
        "state",
        "queue",
        "county_id",
        "station_id",
        "officer_id",
        "deadline_at",
        "outcome",
        "routing_reason",
        "cancel_reason",
        "dispatched_at",
    }
)
PUBLICITY_MUTABLE = frozenset(
    {"title", "venue_kind", "audience", "window_start", "window_end", "status", "notes"}
)
# What a new publicity task is given (PublicityService.create); the rest is the store's.
PUBLICITY_CREATED = PUBLICITY_MUTABLE | {
    "grid_code",
    "city_id",
    "county_id",
    "station_id",
    "created_by",
}


def _closed_at(state: str, old: dict[str, Any], now: str, final: tuple[str, ...]) -> str | None:
    """When the task closed: kept from the first closing, cleared if it reopens."""
    if state not in final:
        return None
    return str(old["closed_at"]) if old.get("closed_at") else now


def _check_columns(changes: dict[str, Any], allowed: frozenset[str]) -> None:
    unknown = set(changes) - allowed
    if unknown:
        raise ValueError(f"cannot change {sorted(unknown)}")


def _text(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return (
            value.isoformat()
            if isinstance(value, date) and not isinstance(value, datetime)
            else iso(value)
        )
    if isinstance(value, msgspec.Struct):
        raise TypeError("structs are not column values")
    return value


def _pick(row: dict[str, Any], fields: Sequence[str]) -> dict[str, Any]:
    return {f: _text(row[f]) for f in fields if f in row}


def _scope(row: dict[str, Any]) -> dict[str, str | None]:
    return {k: row.get(k) for k in ("city_id", "county_id", "station_id")}


def _clock_filters(query: WarningQuery) -> list[tuple[bool, str, list[Any]]]:
    """(keep or drop, condition, its parameters) for overdue and past_deadline, judged at
    query.at."""
    filters: list[tuple[bool, str, list[Any]]] = []
    if query.overdue is None and query.past_deadline is None:
        return filters
    if query.at is None:
        raise ValueError("overdue and past_deadline are judged at a time: give `at`")
    if query.overdue is not None:
        if not query.limits:
            raise ValueError("overdue needs the risk levels' limits")
        filters.append((query.overdue, *overdue_sql(query.at, query.limits)))
    if query.past_deadline is not None:
        filters.append((query.past_deadline, past_deadline_sql(), [iso(query.at)]))
    return filters


class SQLiteTasks(SQLiteScope):
    # -- warnings -------------------------------------------------------------------------

    def ingest_warnings(
        self, rows: Sequence[NewWarning], actor: Actor
    ) -> list[tuple[WarningRecord, bool]]:
        """Insert routed warnings that are new; return the stored one for each, in order.

        Idempotent on (client_id, platform_id): an id seen before (in an earlier request or
        earlier in this batch) returns the stored warning with created=False and changes
        nothing. Bumps seq once per created warning; audits warning.ingest.
        """
        if not rows:
            return []
        now = self._now()
        with self.transaction() as conn:
            existing = self._existing(conn, rows)
            fresh: dict[tuple[int, str], NewWarning] = {}
            for row in rows:
                key = (row.client_id, row.platform_id)
                if key not in existing and key not in fresh:
                    fresh[key] = row
            if fresh:
                first = self._next_seq(conn, len(fresh))
                values = [
                    (
                        *(_text(getattr(w, c)) for c in WARNING_COLUMNS),
                        first + i,
                        now,
                        now,
                        now if w.officer_id is not None else None,
                    )
                    for i, w in enumerate(fresh.values())
                ]
                conn.executemany(
                    f"INSERT INTO warnings ({', '.join(WARNING_COLUMNS)}, seq, created_at,"  # noqa: S608
                    f" updated_at, dispatched_at) VALUES"
                    f" ({', '.join('?' * (len(WARNING_COLUMNS) + 4))})",
                    values,
                )
                created = self._existing(conn, list(fresh.values()))
                self._append_audit(
                    conn,
                    [
                        (
                            "warning.ingest",
                            "warning",
                            str(created[k]["id"]),
                            None,
                            _pick(created[k], WARNING_AUDIT_FIELDS),
                            _scope(created[k]),
                        )
                        for k in fresh
                    ],
                    actor,
                )
                self._refresh_scopes(
                    conn, [("warning", created[k]["id"], created[k]["seq"]) for k in fresh]
                )
                existing.update(created)
        return [
            (
                to_record(existing[(r.client_id, r.platform_id)], WarningRecord),
                (r.client_id, r.platform_id) in fresh and fresh[(r.client_id, r.platform_id)] is r,
            )
            for r in rows
        ]

    @staticmethod
    def _existing(
        conn: sqlite3.Connection, rows: Sequence[NewWarning]
    ) -> dict[tuple[int, str], dict[str, Any]]:
        found: dict[tuple[int, str], dict[str, Any]] = {}
        by_client: dict[int, list[str]] = {}
        for row in rows:
            by_client.setdefault(row.client_id, []).append(row.platform_id)
        for client_id, ids in by_client.items():
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                for hit in conn.execute(
                    f"SELECT * FROM warnings WHERE client_id = ? AND platform_id IN ({marks})",  # noqa: S608
                    (client_id, *chunk),
                ):
                    found[(client_id, hit["platform_id"])] = hit
        return found

    def get_warning(self, warning_id: int) -> WarningRecord | None:
        row = self._one("SELECT * FROM warnings WHERE id = ?", (warning_id,))
        return to_record(row, WarningRecord) if row else None

    def list_warnings(self, scope: Jurisdiction, query: WarningQuery) -> list[WarningRecord]:
        """Warnings in a jurisdiction matching the query, by deadline then id (keyset paged)."""
        if scope.column not in SCOPE_COLUMNS:
            raise ValueError(f"cannot scope by {scope.column}")
        where = [f"{scope.column} = ?"]
        params: list[Any] = [scope.value]
        if query.states:
            where.append(f"state IN ({','.join('?' * len(query.states))})")
            params.extend(query.states)
        for column in (
            "station_id",
            "county_id",
            "officer_id",
            "queue",
            "risk_level",
            "fraud_type",
        ):
            value = getattr(query, column)
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        for wanted, sql, values in _clock_filters(query):
            where.append(sql if wanted else f"NOT ({sql})")
            params.extend(values)
        start, end = query.received
        if start is not None:
            where.append("created_at >= ?")
            params.append(iso(start))
        if end is not None:
            where.append("created_at < ?")
            params.append(iso(end))
        if query.after is not None:
            where.append("(deadline_at, id) > (?, ?)")
            params.extend(query.after)
        params.append(query.limit)
        rows = self._query(
            f"SELECT * FROM warnings w WHERE {' AND '.join(where)}"  # noqa: S608
            " ORDER BY deadline_at, id LIMIT ?",
            params,
        )
        return [to_record(r, WarningRecord) for r in rows]

    def update_warning(
        self,
        warning_id: int,
        expected_version: int,
        changes: dict[str, Any],
        action: str,
        actor: Actor,
    ) -> WarningRecord:
        """Apply changes to one warning if it is still at expected_version.

        Raises NotFound, or ConflictError(INVALID_TRANSITION) when someone changed it first.
        Bumps version and seq; audits `action` with before and after of the changed fields.
        """
        if not changes:
            raise ValueError("nothing to change")
        _check_columns(changes, WARNING_MUTABLE)
        now = self._now()
        with self.transaction() as conn:
            old = conn.execute("SELECT * FROM warnings WHERE id = ?", (warning_id,)).fetchone()
            if old is None:
                raise NotFound(f"warning {warning_id}")
            if old["version"] != expected_version:
                raise ConflictError(
                    f"warning {warning_id} changed meanwhile (version {old['version']},"
                    f" expected {expected_version}); reload and retry",
                    code=ErrorCode.INVALID_TRANSITION,
                )
            values = {k: _text(v) for k, v in changes.items()}
            values["closed_at"] = _closed_at(
                values.get("state", old["state"]), old, now, WARNING_FINAL
            )
            sets = ", ".join(f"{k} = ?" for k in values)
            seq = self._next_seq(conn)
            row = conn.execute(
                f"UPDATE warnings SET {sets}, version = version + 1, seq = ?,"  # noqa: S608
                " updated_at = ? WHERE id = ? RETURNING *",
                (*values.values(), seq, now, warning_id),
            ).fetchone()
            self._tell_platform(conn, [(old, row)])
            audited = [f for f in WARNING_AUDIT_FIELDS if f in values]
            self._append_audit(
                conn,
                [
                    (
                        action,
                        "warning",
                        str(warning_id),
                        _pick(old, audited),
                        _pick(row, audited),
                        _scope(row),
                    )
                ],
                actor,
            )
            self._refresh_scope(conn, "warning", warning_id, seq)
        return to_record(row, WarningRecord)

    # -- publicity tasks -----------------------------------------------------------------

    def create_publicity_task(
        self, fields: dict[str, Any], officer_ids: Sequence[int], actor: Actor
    ) -> PublicityTask:
        """Insert a task with its assignees. Bumps seq; audits publicity.create."""
        _check_columns(fields, PUBLICITY_CREATED)
        now = self._now()
        with self.transaction() as conn:
            values = {k: _text(v) for k, v in fields.items()}
            seq = self._next_seq(conn)
            columns = [*values, "seq", "created_at", "updated_at"]
            row = conn.execute(
                f"INSERT INTO publicity_tasks ({', '.join(columns)})"  # noqa: S608
                f" VALUES ({', '.join('?' * len(columns))}) RETURNING *",
                (*values.values(), seq, now, now),
            ).fetchone()
            conn.executemany(
                "INSERT INTO publicity_assignees (task_id, officer_id) VALUES (?, ?)",
                [(row["id"], o) for o in sorted(set(officer_ids))],
            )
            task = self._publicity_row(conn, row)
            self._append_audit(
                conn,
                [
                    (
                        "publicity.create",
                        "publicity_task",
                        str(row["id"]),
                        None,
                        _pick(task, PUBLICITY_AUDIT_FIELDS),
                        _scope(row),
                    )
                ],
                actor,
            )
            self._refresh_scope(conn, "publicity", row["id"], seq)
        return to_record(task, PublicityTask)

    @staticmethod
    def _publicity_row(conn: sqlite3.Connection, row: dict[str, Any]) -> dict[str, Any]:
        officers = [
            r["officer_id"]
            for r in conn.execute(
                "SELECT officer_id FROM publicity_assignees WHERE task_id = ? ORDER BY officer_id",
                (row["id"],),
            )
        ]
        return {**row, "officer_ids": officers}

    def get_publicity_task(self, task_id: int) -> PublicityTask | None:
        with self._snapshot() as conn:
            row = conn.execute("SELECT * FROM publicity_tasks WHERE id = ?", (task_id,)).fetchone()
            return to_record(self._publicity_row(conn, row), PublicityTask) if row else None

    def list_publicity_tasks(
        self,
        scope: Jurisdiction,
        *,
        statuses: Sequence[str] = (),
        after_id: int = 0,
        limit: int = 100,
        active_on: date | None = None,
    ) -> list[PublicityTask]:
        """Tasks in a jurisdiction (officer scope: tasks they are assigned), by id."""
        params: list[Any] = []
        if scope.column == "officer_id":
            where = ["id IN (SELECT task_id FROM publicity_assignees WHERE officer_id = ?)"]
        elif scope.column in SCOPE_COLUMNS:
            where = [f"{scope.column} = ?"]
        else:
            raise ValueError(f"cannot scope by {scope.column}")
        params.append(scope.value)
        if statuses:
            where.append(f"status IN ({','.join('?' * len(statuses))})")
            params.extend(statuses)
        if active_on is not None:
            where.append("window_start <= ? AND window_end >= ?")
            params.extend([active_on.isoformat(), active_on.isoformat()])
        where.append("id > ?")
        params.extend([after_id, limit])
        with self._snapshot() as conn:
            rows = conn.execute(
                f"SELECT * FROM publicity_tasks WHERE {' AND '.join(where)}"  # noqa: S608
                " ORDER BY id LIMIT ?",
                params,
            ).fetchall()
            return [to_record(self._publicity_row(conn, r), PublicityTask) for r in rows]

    def update_publicity_task(
        self,
        task_id: int,
        expected_version: int,
        changes: dict[str, Any],
        officer_ids: Sequence[int] | None,
        action: str,
        actor: Actor,
    ) -> PublicityTask:
        """Change a task and, when officer_ids is given, replace its assignees.

        Raises NotFound or ConflictError (version moved). Bumps version and seq.
        """
        if not changes and officer_ids is None:
            raise ValueError("nothing to change")
        _check_columns(changes, PUBLICITY_MUTABLE)
        now = self._now()
        with self.transaction() as conn:
            old_row = conn.execute(
                "SELECT * FROM publicity_tasks WHERE id = ?", (task_id,)
            ).fetchone()
            if old_row is None:
                raise NotFound(f"publicity task {task_id}")
            if old_row["version"] != expected_version:
                raise ConflictError(
                    f"publicity task {task_id} changed meanwhile (version"
                    f" {old_row['version']}, expected {expected_version}); reload and retry"
                )
            old = self._publicity_row(conn, old_row)
            values = {k: _text(v) for k, v in changes.items()}
            values["closed_at"] = _closed_at(
                values.get("status", old["status"]), old, now, PUBLICITY_FINAL
            )
            sets = "".join(f"{k} = ?, " for k in values)
            seq = self._next_seq(conn)
            row = conn.execute(
                f"UPDATE publicity_tasks SET {sets}version = version + 1, seq = ?,"  # noqa: S608
                " updated_at = ? WHERE id = ? RETURNING *",
                (*values.values(), seq, now, task_id),
            ).fetchone()
            if officer_ids is not None:
                conn.execute("DELETE FROM publicity_assignees WHERE task_id = ?", (task_id,))
                conn.executemany(
                    "INSERT INTO publicity_assignees (task_id, officer_id) VALUES (?, ?)",
                    [(task_id, o) for o in sorted(set(officer_ids))],
                )
            new = self._publicity_row(conn, row)
            fields = [f for f in PUBLICITY_AUDIT_FIELDS if _pick(old, [f]) != _pick(new, [f])]
            self._append_audit(
                conn,
                [
                    (
                        action,
                        "publicity_task",
                        str(task_id),
                        _pick(old, fields),
                        _pick(new, fields),
                        _scope(row),
                    )
                ],
                actor,
            )
            self._refresh_scope(conn, "publicity", task_id, seq)
        return to_record(new, PublicityTask)

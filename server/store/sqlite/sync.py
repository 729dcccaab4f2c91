"""Offline sync in SQLite: applying pushed mutations, serving pulls, keeping conflicts.

A push is one transaction: each mutation is checked for replay, decided by the merge
engine (sync.merge), and its visit log, task change, scope change, conflict and audit
entry are written together, so a crash leaves either all of a push or none of it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec

from server.clock import Clock
from server.store import outcome_feed
from server.store.group_commit import GroupCommit
from server.store.push_merge import Prepared, prepare
from server.store.queries import ResyncRequired
from server.store.records import Actor
from server.store.sqlite.base import conflict_record, to_record, visit_record
from server.store.sqlite.claims import SQLiteClaims
from server.store.sqlite.push import PushBatch, keep_rejections
from server.store.sqlite.scope import SQLiteScope, chunks
from server.store.sync_records import (
    PULLED_PUBLICITY_COLUMNS,
    PULLED_VISIT_COLUMNS,
    PULLED_WARNING_COLUMNS,
    RESOLVABLE_COLUMNS,
    ConflictRecord,
    PulledField,
    PulledPublicity,
    PulledVisit,
    PulledWarning,
    PullItem,
    PullRows,
    PushContext,
    RejectedMutation,
)
from server.store.visit_records import VisitRecord
from sync import merge
from sync.hlc import HLC
from sync.protocol import (
    MutationResult,
    RecordVisit,
    SetField,
    VisitEntry,
)
from sync.vocab import TaskKind

_encode = msgspec.json.Encoder(order="sorted").encode
_Push = tuple[PushContext, Sequence[RecordVisit | SetField], Sequence[Prepared]]
_Pushed = tuple[list[MutationResult], str]

# A pulled visit's columns, and its review's (PulledVisit's last three fields).
_VISIT_SELECT = ", ".join(
    [*(f"v.{c}" for c in PULLED_VISIT_COLUMNS[:-3]), "r.decision", "r.note", "r.reviewed_at"]
)


class SQLiteSync(SQLiteScope, SQLiteClaims):
    # -- push --------------------------------------------------------------------------

    def __init__(self, path: str | Path, clock: Clock, *, migrate: bool = True) -> None:
        super().__init__(path, clock, migrate=migrate)
        self._pushes: GroupCommit[_Push, _Pushed] = GroupCommit(self._apply_pushes)

    def apply_push(
        self, ctx: PushContext, mutations: Sequence[RecordVisit | SetField]
    ) -> tuple[list[MutationResult], str]:
        """Apply a device's mutations in order; return a verdict each and the server HLC.

        Replays (same user, same mutation id, same content) return the recorded verdict
        and change nothing. Bumps seq and version of every task a push changes, once.
        Pushes arriving together share one transaction, each in a savepoint of its own:
        a push is still all or nothing, and its failure fails no other push.
        """
        return self._pushes.submit((ctx, mutations, prepare(ctx, mutations)))

    def _apply_pushes(self, pushes: Sequence[_Push]) -> list[_Pushed | BaseException]:
        outcomes: list[_Pushed | BaseException] = []
        with self.transaction() as conn:
            server_hlc = self._load_hlc(conn)
            for ctx, mutations, prepared in pushes:
                conn.execute("SAVEPOINT push")
                try:
                    batch = PushBatch(self, conn, ctx, mutations, prepared)
                    batch.load()
                    after = merge_server(batch.decide_all(server_hlc), ctx.now_ms)
                    batch.write()
                except Exception as exc:
                    conn.execute("ROLLBACK TO push")
                    conn.execute("RELEASE push")
                    outcomes.append(exc)
                    continue
                conn.execute("RELEASE push")
                server_hlc = after
                outcomes.append((batch.results, after.encode()))
            self._save_hlc(conn, server_hlc)
        self._claimer.poke()
        return outcomes

    @staticmethod
    def _load_hlc(conn: sqlite3.Connection) -> HLC:
        rows = {
            r["name"]: r["value"]
            for r in conn.execute(
                "SELECT name, value FROM counters WHERE name IN ('hlc_wall', 'hlc_counter')"
            )
        }
        return HLC(int(rows["hlc_wall"]), int(rows["hlc_counter"]), "server")

    @staticmethod
    def _save_hlc(conn: sqlite3.Connection, hlc: HLC) -> None:
        conn.executemany(
            "UPDATE counters SET value = ? WHERE name = ?",
            [(hlc.wall_ms, "hlc_wall"), (hlc.counter, "hlc_counter")],
        )

    def server_hlc(self) -> str:
        conn = self._reader()
        return self._load_hlc(conn).encode()

    def record_rejections(
        self, ctx: PushContext, items: Sequence[tuple[str, str, str, str]]
    ) -> None:
        """Keep mutations that could not even be decoded: (mutation id, code, detail, body)."""
        with self.transaction() as conn:
            keep_rejections(
                conn,
                [
                    (
                        ctx.user_id,
                        ctx.device_pk,
                        mutation_id,
                        code,
                        detail,
                        body,
                        ctx.received_at,
                        ctx.city_id,
                        ctx.county_id,
                        ctx.station_id,
                    )
                    for mutation_id, code, detail, body in items
                ],
            )

    def _record_conflict(
        self,
        conn: sqlite3.Connection,
        task: merge.TaskView,
        row: dict[str, Any],
        decision: merge.VisitDecision,
        entry: VisitEntry,
        ctx: PushContext,
    ) -> int:
        officers = sorted(
            {ctx.user_id, *task.assignees}
            | (
                {decision.losing_claim.officer_id}
                if decision.losing_claim and decision.losing_claim.officer_id
                else set()
            )
        )
        winner = decision.new_claim or task.outcome_claim
        loser = decision.losing_claim
        if decision.conflict == merge.ConflictRule.DOUBLE_VISIT and decision.new_claim is None:
            winner = task.outcome_claim
        state_column = "state" if task.kind == TaskKind.WARNING else "status"
        cur = conn.execute(
            "INSERT INTO conflicts (rule, task_kind, task_id, city_id, county_id, station_id,"
            " officer_ids, entry_id, winner, loser, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (
                decision.conflict.value if decision.conflict else "",
                task.kind.value,
                task.id,
                row["city_id"],
                row["county_id"],
                row["station_id"],
                _encode(officers).decode(),
                entry.entry_id,
                _encode(winner).decode()
                if winner
                else _encode(
                    {"state": row[state_column], "assignees": sorted(task.assignees)}
                ).decode(),
                _encode(loser).decode() if loser else None,
                ctx.received_at,
            ),
        )
        return int(cur.fetchone()["id"])

    def _record_field_conflict(
        self,
        conn: sqlite3.Connection,
        row: dict[str, Any],
        mutation: SetField,
        hlc: HLC,
        decision: merge.FieldDecision,
        stored: tuple[str | None, str, int, str | None],
        ctx: PushContext,
    ) -> int:
        """Keep both values of a concurrent edit, the winner's and the one that lost, each
        with the mutation that set it (None: set by a supervisor's resolution, or before
        mutations were kept with values), so an auditor matches both to what phones sent."""
        stored_value, stored_hlc, stored_user, stored_mutation = stored
        theirs = {
            "value": stored_value,
            "hlc": stored_hlc,
            "user_id": stored_user,
            "mutation_id": stored_mutation,
        }
        mine = {
            "value": mutation.value,
            "hlc": hlc.encode(),
            "user_id": ctx.user_id,
            "mutation_id": mutation.mutation_id,
        }
        winner, loser = (mine, theirs) if decision.apply else (theirs, mine)
        cur = conn.execute(
            "INSERT INTO conflicts (rule, task_kind, task_id, city_id, county_id,"
            " station_id, officer_ids, entry_id, winner, loser, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (
                merge.ConflictRule.CONCURRENT_EDIT.value,
                mutation.task_kind.value,
                mutation.task_id,
                row["city_id"],
                row["county_id"],
                row["station_id"],
                _encode(sorted({ctx.user_id, stored_user})).decode(),
                None,
                _encode({"field": mutation.field.value, **winner}).decode(),
                _encode({"field": mutation.field.value, **loser}).decode(),
                ctx.received_at,
            ),
        )
        return int(cur.fetchone()["id"])

    # -- pull --------------------------------------------------------------------------

    def pull_rows(
        self,
        officer_id: int,
        *,
        snapshot_at: int | None,
        after_key: str,
        after_seq: int,
        limit: int,
    ) -> PullRows:
        """One page of an officer's scope, read in one snapshot.

        Snapshot mode (snapshot_at given): the tasks now in scope, most urgent first, after
        `after_key`. Log mode: the scope changes after `after_seq`, in seq order. Raises
        ResyncRequired when after_seq is older than the kept change log.
        """
        with self._snapshot() as conn:
            head = int(
                conn.execute("SELECT value FROM counters WHERE name = 'seq'").fetchone()["value"]
            )
            if snapshot_at is not None:
                items, last_key, more = self._snapshot_page(conn, officer_id, after_key, limit)
                last_seq = snapshot_at
                caught_up = not more and head == snapshot_at
            else:
                horizon = int(
                    conn.execute(
                        "SELECT value FROM counters WHERE name = 'changes_horizon'"
                    ).fetchone()["value"]
                )
                if after_seq < horizon:
                    raise ResyncRequired
                items, last_seq, more = self._log_page(conn, officer_id, after_seq, limit)
                last_key = ""
                caught_up = not more
            self._fill(conn, items)
            checksum = None
            if caught_up:
                row = conn.execute(
                    "SELECT checksum FROM scope_checksums WHERE officer_id = ?", (officer_id,)
                ).fetchone()
                checksum = row["checksum"] if row else "0" * 16
        return PullRows(
            items=items,
            last_key=last_key,
            last_seq=last_seq,
            head=head,
            more=more,
            checksum=checksum,
        )

    @staticmethod
    def _snapshot_page(
        conn: sqlite3.Connection, officer_id: int, after_key: str, limit: int
    ) -> tuple[list[PullItem], str, bool]:
        # A range scan of (officer_id, sort_key): a page costs the same whatever the
        # size of the scope.
        cursor = conn.cursor()
        cursor.row_factory = None  # tuples: a page builds no dict per row
        rows = cursor.execute(
            "SELECT task_kind, task_id, sort_key FROM scope_members"
            " WHERE officer_id = ? AND sort_key > ? ORDER BY sort_key LIMIT ?",
            (officer_id, after_key, limit + 1),
        ).fetchall()
        more = len(rows) > limit
        rows = rows[:limit]
        items = [PullItem(op="upsert", kind=kind, id=id_, seq=0) for kind, id_, _ in rows]
        return items, rows[-1][2] if rows else after_key, more

    @staticmethod
    def _log_page(
        conn: sqlite3.Connection, officer_id: int, after_seq: int, limit: int
    ) -> tuple[list[PullItem], int, bool]:
        rows = conn.execute(
            "SELECT seq, task_kind, task_id, op, reason FROM scope_changes"
            " WHERE officer_id = ? AND seq > ? ORDER BY seq, id LIMIT ?",
            (officer_id, after_seq, limit + 1),
        ).fetchall()
        more = len(rows) > limit
        rows = rows[:limit]
        # Whether the page's tasks are still held: asked of them alone, never of the scope.
        members: set[tuple[str, int]] = set()
        for kind in {r["task_kind"] for r in rows if r["op"] == "upsert"}:
            ids = sorted({r["task_id"] for r in rows if r["task_kind"] == kind})
            for chunk in chunks(ids):
                members.update(
                    (kind, m["task_id"])
                    for m in conn.execute(
                        "SELECT task_id FROM scope_members WHERE officer_id = ?"  # noqa: S608
                        f" AND task_kind = ? AND task_id IN ({','.join('?' * len(chunk))})",
                        (officer_id, kind, *chunk),
                    )
                )
        latest: dict[tuple[str, int], PullItem] = {}
        for r in rows:
            key = (r["task_kind"], r["task_id"])
            latest.pop(key, None)  # keep only the last word on each task, in its place
            if r["op"] == "upsert" and key not in members:
                # It left the scope later; the remove further on says so. Never send
                # a resident's details the officer no longer holds.
                continue
            latest[key] = PullItem(
                op=r["op"], kind=r["task_kind"], id=r["task_id"], seq=r["seq"], reason=r["reason"]
            )
        return list(latest.values()), rows[-1]["seq"] if rows else after_seq, more

    @staticmethod
    def _fill(conn: sqlite3.Connection, items: list[PullItem]) -> None:
        """Each upserted item's task, visits and fields, read as tuples straight into
        their records: a page of 200 builds no dict per row."""
        for kind, table, columns in (
            ("warning", "warnings", PULLED_WARNING_COLUMNS),
            ("publicity", "publicity_tasks", PULLED_PUBLICITY_COLUMNS),
        ):
            wanted = [i for i in items if i.op == "upsert" and i.kind == kind]
            if not wanted:
                continue
            ids = [i.id for i in wanted]
            marks = ",".join("?" * len(ids))
            cursor = conn.cursor()
            cursor.row_factory = None
            rows = {
                r[0]: r
                for r in cursor.execute(
                    f"SELECT {', '.join(columns)} FROM {table} WHERE id IN ({marks})",  # noqa: S608
                    ids,
                )
            }
            visits: dict[int, list[PulledVisit]] = {}
            cursor = conn.cursor()
            cursor.row_factory = None
            for v in cursor.execute(
                f"SELECT {_VISIT_SELECT} FROM visit_logs v LEFT JOIN visit_reviews r"  # noqa: S608
                f" ON r.entry_id = v.entry_id WHERE v.task_kind = ? AND v.task_id IN ({marks})"
                " ORDER BY v.seq",
                (kind, *ids),
            ):
                visits.setdefault(v[2], []).append(PulledVisit(*v))
            fields: dict[int, dict[str, PulledField]] = {}
            for f in conn.execute(
                "SELECT task_id, field, value, hlc FROM field_values"  # noqa: S608
                f" WHERE task_kind = ? AND task_id IN ({marks})",
                (kind, *ids),
            ):
                fields.setdefault(f["task_id"], {})[f["field"]] = PulledField(
                    value=f["value"], hlc=f["hlc"]
                )
            assignees: dict[int, list[int]] = {}
            if kind == "publicity":
                for a in conn.execute(
                    f"SELECT task_id, officer_id FROM publicity_assignees"  # noqa: S608
                    f" WHERE task_id IN ({marks}) ORDER BY officer_id",
                    ids,
                ):
                    assignees.setdefault(a["task_id"], []).append(a["officer_id"])
            for item in wanted:
                values = rows[item.id]
                item.task = (
                    PulledWarning(*values)
                    if kind == "warning"
                    else PulledPublicity(
                        **dict(zip(columns, values, strict=True)),
                        officer_ids=assignees.get(item.id, []),
                    )
                )
                item.visits = visits.get(item.id, [])
                item.fields = fields.get(item.id, {})

    # -- conflicts and rejections --------------------------------------------------------

    def list_conflicts(
        self,
        column: str,
        value: str | int,
        *,
        status: str | None = None,
        after_id: int = 0,
        limit: int = 100,
    ) -> list[ConflictRecord]:
        if column not in {"city_id", "county_id", "station_id"}:
            raise ValueError(f"conflicts cannot be scoped by {column}")
        where = [f"{column} = ?", "id > ?"]
        params: list[Any] = [value, after_id]
        if status is not None:
            where.append("status = ?")
            params.append(status)
        params.append(limit)
        rows = self._query(
            f"SELECT * FROM conflicts WHERE {' AND '.join(where)}"  # noqa: S608
            " ORDER BY id LIMIT ?",
            params,
        )
        return [conflict_record(r) for r in rows]

    def get_conflict(self, conflict_id: int) -> ConflictRecord | None:
        row = self._one("SELECT * FROM conflicts WHERE id = ?", (conflict_id,))
        return conflict_record(row) if row else None

    def resolve_conflict(
        self,
        conflict_id: int,
        resolution: str,
        note: str | None,
        task_changes: dict[str, Any] | None,
        actor: Actor,
        field_value: tuple[str, str | None] | None = None,
    ) -> ConflictRecord:
        """Close a conflict; task_changes, if any, are applied to its task as an ordinary
        change (version and seq bumped, scopes refreshed, audited)."""
        now = self._now()
        with self.transaction() as conn:
            row = conn.execute("SELECT * FROM conflicts WHERE id = ?", (conflict_id,)).fetchone()
            if row is None:
                from server.errors import NotFound

                raise NotFound(f"conflict {conflict_id}")
            if row["status"] != "open":
                from server.errors import ConflictError

                raise ConflictError(f"conflict {conflict_id} is already resolved", field="status")
            if task_changes:
                unknown = set(task_changes) - RESOLVABLE_COLUMNS[row["task_kind"]]
                if unknown:
                    raise ValueError(f"a resolution cannot change {sorted(unknown)}")
                table = "warnings" if row["task_kind"] == "warning" else "publicity_tasks"
                old = conn.execute(
                    f"SELECT * FROM {table} WHERE id = ?",  # noqa: S608
                    (row["task_id"],),
                ).fetchone()
                seq = self._next_seq(conn)
                values = dict(task_changes)
                if table == "warnings" and outcome_feed.moves_outcome(old, values):
                    values["outcome_amount"] = self._outcome_amount(
                        conn, values["outcome_entry_id"]
                    )
                sets = "".join(f"{k} = ?, " for k in values)
                new = conn.execute(
                    f"UPDATE {table} SET {sets}version = version + 1, seq = ?,"  # noqa: S608
                    " updated_at = ? WHERE id = ? RETURNING *",
                    (*values.values(), seq, now, row["task_id"]),
                ).fetchone()
                if table == "warnings":
                    self._tell_platform(conn, [(old, new)])
                self._append_audit(
                    conn,
                    [
                        (
                            "conflict.apply",
                            "warning" if table == "warnings" else "publicity_task",
                            str(row["task_id"]),
                            {k: old[k] for k in task_changes},
                            task_changes,
                            {k: row[k] for k in ("city_id", "county_id", "station_id")},
                        )
                    ],
                    actor,
                )
                self._refresh_scope(conn, row["task_kind"], row["task_id"], seq)
            if field_value is not None:
                name, value = field_value
                hlc = merge_server(self._load_hlc(conn), int(self.clock.now().timestamp() * 1000))
                hlc = HLC(hlc.wall_ms, hlc.counter + 1, "server")
                self._save_hlc(conn, hlc)
                conn.execute(
                    "INSERT INTO field_values (task_kind, task_id, field, value, hlc, user_id)"
                    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (task_kind, task_id, field)"
                    " DO UPDATE SET value = excluded.value, hlc = excluded.hlc,"
                    " user_id = excluded.user_id, mutation_id = NULL",
                    (
                        row["task_kind"],
                        row["task_id"],
                        name,
                        value,
                        hlc.encode(),
                        actor.user_id or 0,
                    ),
                )
                table = "warnings" if row["task_kind"] == "warning" else "publicity_tasks"
                seq = self._next_seq(conn)
                conn.execute(
                    f"UPDATE {table} SET version = version + 1, seq = ?, updated_at = ?"  # noqa: S608
                    " WHERE id = ?",
                    (seq, now, row["task_id"]),
                )
                self._refresh_scope(conn, row["task_kind"], row["task_id"], seq)
            updated = conn.execute(
                "UPDATE conflicts SET status = 'resolved', resolved_at = ?, resolved_by = ?,"
                " resolution = ?, note = ? WHERE id = ? RETURNING *",
                (now, actor.user_id, resolution, note, conflict_id),
            ).fetchone()
            self._append_audit(
                conn,
                [
                    (
                        "conflict.resolve",
                        "conflict",
                        str(conflict_id),
                        {"status": "open"},
                        {"status": "resolved", "resolution": resolution},
                        {k: row[k] for k in ("city_id", "county_id", "station_id")},
                    )
                ],
                actor,
            )
        return conflict_record(updated)

    def list_rejected_mutations(
        self, column: str, value: str | int, *, after_id: int = 0, limit: int = 100
    ) -> list[RejectedMutation]:
        if column not in {"city_id", "county_id", "station_id"}:
            raise ValueError(f"rejections cannot be scoped by {column}")
        rows = self._query(
            f"SELECT * FROM rejected_mutations WHERE {column} = ? AND id > ?"  # noqa: S608
            " ORDER BY id LIMIT ?",
            (value, after_id, limit),
        )
        return [to_record(r, RejectedMutation) for r in rows]

    def visit_logs_for(self, kind: str, task_id: int) -> list[VisitRecord]:
        rows = self._query(
            "SELECT * FROM visit_logs WHERE task_kind = ? AND task_id = ? ORDER BY seq",
            (kind, task_id),
        )
        return [visit_record(r, VisitRecord) for r in rows]


def merge_server(hlc: HLC, now_ms: int) -> HLC:
    """The server's clock after a push: never behind its own wall clock."""
    return hlc if hlc.wall_ms >= now_ms else HLC(now_ms, 0, hlc.node)

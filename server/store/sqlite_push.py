"""One push, applied in bulk inside its transaction.

The single SQLite writer is the bottleneck of sync, so a push reads everything it needs
in a handful of queries, decides every mutation in memory (with sync.merge, in order, each
decision seeing the effect of the ones before it), and writes in a handful of statements.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

import msgspec

from server.clock import iso
from server.store.records import Actor
from server.store.scope_order import sort_key
from server.store.sqlite_base import AuditItem
from server.store.sqlite_scope import PUBLICITY_FINAL, WARNING_FINAL, KnownTask, chunks
from server.store.sync_records import PushContext
from sync import merge
from sync.hlc import HLC
from sync.protocol import (
    CLOCK_TOLERANCE_MS,
    MutationProblem,
    MutationResult,
    RecordVisit,
    SetField,
    VisitEntry,
)
from sync.vocab import TaskKind

if TYPE_CHECKING:
    from server.store.sqlite_sync import SQLiteSync

_encode = msgspec.json.Encoder(order="sorted").encode
_result_decoder = msgspec.json.Decoder(MutationResult)
_SLACK = timedelta(milliseconds=CLOCK_TOLERANCE_MS)
Mutation = RecordVisit | SetField
Key = tuple[str, int]
SCOPE_COLUMNS = ("city_id", "county_id", "station_id")
# What deciding and applying a visit reads of its task, and nothing more.
WARNING_READ = (
    "id",
    "state",
    "officer_id",
    "outcome",
    "outcome_entry_id",
    "outcome_officer_id",
    "outcome_contact",
    "outcome_hlc",
    "first_contact_at",
    "closed_at",
    "version",
    # When a visit can have happened: after the warning arrived (and was dispatched).
    "created_at",
    "dispatched_at",
    "deadline_at",  # with state and id: the task's place in its holders' pulls
    *SCOPE_COLUMNS,
)
PUBLICITY_READ = (
    "id",
    "status",
    "closed_at",
    "version",
    "created_at",
    "window_end",
    *SCOPE_COLUMNS,
)


class Prepared(NamedTuple):
    """What a mutation alone decides, worked out before the push takes the writer."""

    digest: str
    device_hlc: HLC
    # A visit log's columns from entry_id to completed (see PushBatch.write).
    visit_row: tuple[Any, ...] | None


def prepare(ctx: PushContext, mutations: Sequence[Mutation]) -> list[Prepared]:
    """Hashes, clocks and visit rows of a push, in the pushing request's own thread: the
    writer, which every push waits for, then only decides and writes."""
    out = []
    for m in mutations:
        row = None
        if isinstance(m, RecordVisit):
            e, pos = m.entry, m.entry.position
            # Enums' `_value_`, not `.value`: the property is a Python call, three a visit.
            row = (
                e.entry_id,
                m.task_kind._value_,
                m.task_id,
                ctx.user_id,
                ctx.device_pk,
                m.mutation_id,
                e.supersedes,
                iso(e.recorded_at),
                ctx.received_at,
                iso(e.arrived_at) if e.arrived_at else None,
                e.contact._value_ if e.contact else None,
                e.outcome._value_ if e.outcome else None,
                e.amount_prevented,
                e.notes,
                pos.lat if pos else None,
                pos.lon if pos else None,
                pos.accuracy_m if pos else None,
                _encode(e.photos).decode(),
                iso(e.held_at) if e.held_at else None,
                e.attendance,
                _encode(e.materials).decode() if e.materials else "[]",
                int(e.completed),
            )
        out.append(Prepared(_hash(m), HLC.decode(m.hlc), row))
    return out


# Per kind: (kind, state column, table, final states, audit entity), looked up once.
_KINDS = {
    "warning": (TaskKind.WARNING, "state", "warnings", WARNING_FINAL, "warning"),
    "publicity": (
        TaskKind.PUBLICITY,
        "status",
        "publicity_tasks",
        PUBLICITY_FINAL,
        "publicity_task",
    ),
}


class _Task:
    """A task as this push sees it: the row, the engine's view, what to write back."""

    def __init__(
        self, kind: str, row: dict[str, Any], assignees: frozenset[int], ever: frozenset[int]
    ) -> None:
        self.kind, self.state_column, self.table, self.final, self.entity = _KINDS[kind]
        self.kind_name = kind
        self.row = row
        self.assignees = assignees
        self.ever = ever
        self.sets: dict[str, Any] = {}
        self.touched = False
        # A push never moves a task between units: read once, shared by its audit entries.
        self.scope: dict[str, str | None] = {k: row[k] for k in SCOPE_COLUMNS}
        # When a visit to it can have happened, from its arrival: parsed once, not per visit.
        self.created = datetime.fromisoformat(row["created_at"])

    def view(self) -> merge.TaskView:
        row = self.row
        claim = None
        if self.kind == TaskKind.WARNING and row["outcome"] is not None:
            claim = merge.OutcomeClaim(
                entry_id=row["outcome_entry_id"],
                officer_id=row["outcome_officer_id"],
                contact=row["outcome_contact"],
                hlc=row["outcome_hlc"] or "",
                outcome=row["outcome"],
            )
        return merge.TaskView(
            kind=self.kind,
            id=row["id"],
            state=row[self.state_column],
            assignees=self.assignees,
            assigned_ever=self.ever,
            outcome_claim=claim,
        )

    def set(self, column: str, value: Any) -> None:
        self.sets[column] = value
        self.row[column] = value


class PushBatch:
    def __init__(
        self,
        store: SQLiteSync,
        conn: sqlite3.Connection,
        ctx: PushContext,
        mutations: Sequence[Mutation],
        prepared: Sequence[Prepared],
    ) -> None:
        self.store = store
        self.conn = conn
        self.ctx = ctx
        self.mutations = mutations
        self.prepared = prepared
        self.actor = Actor(user_id=ctx.user_id, device_id=ctx.device_id)
        self.results: list[MutationResult] = []
        self.done: dict[str, tuple[str, MutationResult]] = {}
        self.visits: list[list[Any]] = []
        self.fields: list[tuple[str, int, str, str | None, str, int, str]] = []
        self.audit: list[AuditItem] = []
        self.visit_audit: dict[tuple[str | None, ...], list[dict[str, Any]]] = {}
        self.rejected: list[tuple[Any, ...]] = []
        self.received = datetime.fromisoformat(ctx.received_at)

    # -- reading, in bulk ----------------------------------------------------------------

    def load(self) -> None:
        ctx, conn = self.ctx, self.conn
        ids = list({m.mutation_id for m in self.mutations})
        self.seen: dict[str, tuple[str, str]] = {}
        for chunk in chunks(ids):
            marks = ",".join("?" * len(chunk))
            for r in conn.execute(
                "SELECT mutation_id, content_hash, result FROM mutations"  # noqa: S608
                f" WHERE user_id = ? AND mutation_id IN ({marks})",
                (ctx.user_id, *chunk),
            ):
                self.seen[r["mutation_id"]] = (r["content_hash"], r["result"])
        keys = {(m.task_kind._value_, m.task_id) for m in self.mutations}
        self.tasks: dict[Key, _Task] = self._load_tasks(keys)
        wanted = {m.entry.entry_id for m in self.mutations if isinstance(m, RecordVisit)}
        wanted |= {
            m.entry.supersedes
            for m in self.mutations
            if isinstance(m, RecordVisit) and m.entry.supersedes
        }
        self.entries: dict[str, merge.SupersededEntry] = {}
        for chunk in chunks(sorted(wanted)):
            marks = ",".join("?" * len(chunk))
            for r in conn.execute(
                "SELECT entry_id, officer_id, task_kind, task_id FROM visit_logs"  # noqa: S608
                f" WHERE entry_id IN ({marks})",
                chunk,
            ):
                self.entries[r["entry_id"]] = merge.SupersededEntry(
                    entry_id=r["entry_id"],
                    officer_id=r["officer_id"],
                    task_kind=r["task_kind"],
                    task_id=r["task_id"],
                )
        # (value, hlc, user id, mutation id or None) of each field a push edits.
        self.field_values: dict[tuple[str, int, str], tuple[str | None, str, int, str | None]] = {}
        edited = {(m.task_kind.value, m.task_id) for m in self.mutations if isinstance(m, SetField)}
        for kind, task_id in sorted(edited):
            for r in conn.execute(
                "SELECT field, value, hlc, user_id, mutation_id FROM field_values"
                " WHERE task_kind = ? AND task_id = ?",
                (kind, task_id),
            ):
                self.field_values[(kind, task_id, r["field"])] = (
                    r["value"],
                    r["hlc"],
                    r["user_id"],
                    r["mutation_id"],
                )

    def _load_tasks(self, keys: set[Key]) -> dict[Key, _Task]:
        conn = self.conn
        rows: dict[Key, dict[str, Any]] = {}
        assignees: dict[Key, set[int]] = {k: set() for k in keys}
        ever: dict[Key, set[int]] = {k: set() for k in keys}
        for kind, table, columns in (
            ("warning", "warnings", WARNING_READ),
            ("publicity", "publicity_tasks", PUBLICITY_READ),
        ):
            ids = [i for k, i in keys if k == kind]
            for chunk in chunks(ids):
                marks = ",".join("?" * len(chunk))
                cursor = conn.cursor()
                cursor.row_factory = None  # tuples: a dict per row is built once, below
                for values in cursor.execute(
                    f"SELECT {', '.join(columns)} FROM {table} WHERE id IN ({marks})",  # noqa: S608
                    chunk,
                ):
                    r = dict(zip(columns, values, strict=True))
                    rows[(kind, r["id"])] = r
                    if kind == "warning" and r["officer_id"] is not None:
                        assignees[(kind, r["id"])].add(r["officer_id"])
                if kind == "publicity":
                    for r in conn.execute(
                        "SELECT task_id, officer_id FROM publicity_assignees"  # noqa: S608
                        f" WHERE task_id IN ({marks})",
                        chunk,
                    ):
                        assignees[(kind, r["task_id"])].add(r["officer_id"])
                for r in conn.execute(
                    "SELECT task_id, officer_id FROM assignment_history"  # noqa: S608
                    f" WHERE task_kind = ? AND task_id IN ({marks})",
                    (kind, *chunk),
                ):
                    ever[(kind, r["task_id"])].add(r["officer_id"])
        return {
            key: _Task(key[0], row, frozenset(assignees[key]), frozenset(ever[key]))
            for key, row in rows.items()
        }

    # -- deciding, in order --------------------------------------------------------------

    def decide_all(self, server_hlc: HLC) -> HLC:
        for mutation, prep in zip(self.mutations, self.prepared, strict=True):
            digest = prep.digest
            earlier = self.done.get(mutation.mutation_id) or (
                (
                    self.seen[mutation.mutation_id][0],
                    _result_decoder.decode(self.seen[mutation.mutation_id][1]),
                )
                if mutation.mutation_id in self.seen
                else None
            )
            if earlier is not None:
                self.results.append(
                    earlier[1]
                    if earlier[0] == digest
                    else self._reject(
                        mutation,
                        merge.Rejection.MUTATION_ID_REUSED,
                        "this mutation id was used before with different content",
                    )
                )
                continue
            hlc, _ = merge.trusted_hlc(prep.device_hlc, server_hlc, self.ctx.now_ms)
            server_hlc = max(server_hlc, HLC(hlc.wall_ms, hlc.counter, server_hlc.node))
            revoked = self.ctx.revoked_at_ms
            if revoked is not None and merge.recorded_after_revocation(
                prep.device_hlc.wall_ms, self.ctx.clock_offset_ms, revoked
            ):
                result = self._reject(
                    mutation,
                    merge.Rejection.RECORDED_AFTER_REVOCATION,
                    "recorded after this device was revoked or its user disabled;"
                    " kept for review, not applied",
                    "hlc",
                )
            elif isinstance(mutation, RecordVisit):
                result = self._visit(mutation, prep, hlc)
            else:
                result = self._field(mutation, hlc)
            self.done[mutation.mutation_id] = (digest, result)
            self.results.append(result)
        return server_hlc

    def _reject(
        self, mutation: Mutation, code: merge.Rejection, detail: str, field: str | None = None
    ) -> MutationResult:
        ctx = self.ctx
        # Kept for review: a rejected mutation is still something a phone recorded.
        self.rejected.append(
            (
                ctx.user_id,
                ctx.device_pk,
                mutation.mutation_id,
                code.value,
                detail,
                _encode(mutation).decode(),
                ctx.received_at,
                ctx.city_id,
                ctx.county_id,
                ctx.station_id,
            )
        )
        return MutationResult(
            mutation_id=mutation.mutation_id,
            status="rejected",
            problem=MutationProblem(code=code.value, detail=detail, field=field),
        )

    def _visit(self, mutation: RecordVisit, prep: Prepared, hlc: HLC) -> MutationResult:
        entry = mutation.entry
        task = self.tasks.get((mutation.task_kind._value_, mutation.task_id))
        if entry.entry_id in self.entries:
            return self._reject(
                mutation,
                merge.Rejection.ENTRY_ID_REUSED,
                "an entry with this id is already on record",
                "entry.entry_id",
            )
        superseded = self.entries.get(entry.supersedes) if entry.supersedes else None
        view = task.view() if task else None
        decision = merge.decide_visit(view, self.ctx.user_id, entry, hlc, superseded)
        if decision.rejection is not None or task is None or view is None:
            field = (
                "entry.supersedes"
                if decision.rejection == merge.Rejection.BAD_SUPERSEDES
                else "task_id"
            )
            return self._reject(
                mutation, decision.rejection or merge.Rejection.UNKNOWN_TASK, decision.detail, field
            )
        impossible = self._impossible_time(entry, task)
        flags = (
            (["clock_skew"] if self.ctx.skew_flagged else [])
            + ([decision.conflict.value] if decision.conflict else [])
            + (["impossible_time"] if impossible else [])
            + ([merge.HANDED_IN_FLAG] if self.ctx.revoked_at_ms is not None else [])
        )
        before, after = self._apply(task, decision, mutation, impossible)
        hlc_text = hlc.encode()
        self._keep_visit(mutation, prep, hlc_text, flags, task, before, after)
        conflict_id = None
        if decision.conflict is not None:
            conflict_id = self.store._record_conflict(
                self.conn, view, task.row, decision, entry, self.ctx
            )
        return MutationResult(
            mutation_id=mutation.mutation_id,
            status="conflict" if conflict_id else "applied",
            conflict_id=conflict_id,
            hlc=hlc_text,
            rule=decision.conflict.value if conflict_id and decision.conflict else None,
        )

    def _keep_visit(
        self,
        mutation: RecordVisit,
        prep: Prepared,
        hlc: str,
        flags: list[str],
        task: _Task,
        before: dict[str, Any],
        after: dict[str, Any],
    ) -> None:
        e, ctx, row = mutation.entry, self.ctx, task.row
        assert prep.visit_row is not None  # noqa: S101 -- prepared for every record_visit
        self.visits.append(
            [
                *prep.visit_row,
                hlc,
                ctx.clock_offset_ms,
                _encode(flags).decode() if flags else "[]",
                None,
                row["city_id"],
                row["county_id"],
                row["station_id"],
            ]
        )
        self.entries[e.entry_id] = merge.SupersededEntry(
            entry_id=e.entry_id,
            officer_id=ctx.user_id,
            task_kind=mutation.task_kind._value_,
            task_id=mutation.task_id,
        )
        # Each visit on the chain: the entry, and what it did to the task's state. One
        # audit entry per push and unit holds them all (PROTOCOL.md, "On the audit chain").
        self.visit_audit.setdefault(tuple(task.scope.values()), []).append(
            {
                "task_kind": task.kind_name,
                "task_id": mutation.task_id,
                "entry_id": e.entry_id,
                "mutation_id": mutation.mutation_id,
                "outcome": e.outcome,
                "contact": e.contact,
                "supersedes": e.supersedes,
                "photos": len(e.photos),
                "flags": flags,
                "before": before or None,
                "after": after or None,
            }
        )

    def _impossible_time(self, entry: VisitEntry, task: _Task) -> bool:
        """A visit whose own times fall outside its window (from the task's arrival to the
        server's receipt of the visit) by more than a phone's clock may be off. Evidence is
        never refused for its clock: it is flagged for review."""
        start, end = task.created - _SLACK, self.received + _SLACK
        return not (
            start <= entry.recorded_at <= end
            and (entry.arrived_at is None or start <= entry.arrived_at <= end)
            and (entry.held_at is None or start <= entry.held_at <= end)
        )

    def _contact_time(self, entry: VisitEntry, task: _Task, impossible: bool) -> str:
        """The first contact's time as the reports count it: the server's receipt for a
        visit with impossible times; otherwise the phone's, held within the window (a
        contact minutes before dispatch, within the tolerance, counts as at dispatch)."""
        if impossible:
            return self.ctx.received_at
        text = task.row.get("dispatched_at")
        dispatched = datetime.fromisoformat(text) if text else task.created
        at = entry.arrived_at or entry.recorded_at
        return iso(min(max(at, dispatched), self.received))  # dispatch is never before arrival

    def _apply(
        self, task: _Task, decision: merge.VisitDecision, mutation: RecordVisit, impossible: bool
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Every visit touches its task: the visit log is part of what phones hold.

        Returns the task's state and outcome before and after, where they changed."""
        task.touched = True
        entry, before = mutation.entry, {}
        if decision.new_state is not None and decision.new_state != task.row[task.state_column]:
            before[task.state_column] = task.row[task.state_column]
            task.set(task.state_column, decision.new_state)
            if decision.new_state in task.final and task.row["closed_at"] is None:
                task.set("closed_at", self.ctx.received_at)
        claim = decision.new_claim
        if claim is not None:
            before["outcome"] = task.row["outcome"]
            task.set("outcome", claim.outcome)
            task.set("outcome_entry_id", claim.entry_id)
            task.set("outcome_officer_id", claim.officer_id)
            task.set("outcome_contact", claim.contact)
            task.set("outcome_hlc", claim.hlc)
        if (
            task.kind == TaskKind.WARNING
            and entry.contact is not None
            and task.row["first_contact_at"] is None
        ):
            task.set("first_contact_at", self._contact_time(entry, task, impossible))
        return before, {k: task.row[k] for k in before}

    def _field(self, mutation: SetField, hlc: HLC) -> MutationResult:
        key = (mutation.task_kind.value, mutation.task_id)
        task = self.tasks.get(key)
        if task is None:
            return self._reject(mutation, merge.Rejection.UNKNOWN_TASK, "no such task", "task_id")
        if self.ctx.user_id not in task.ever:
            return self._reject(
                mutation,
                merge.Rejection.NOT_ASSIGNED,
                "this task was never assigned to you",
                "task_id",
            )
        name = mutation.field.value
        stored = self.field_values.get((*key, name))
        decision = merge.decide_field(
            stored[0] if stored else None, stored[1] if stored else None, mutation, hlc
        )
        hlc_text = hlc.encode()
        if decision.apply:
            # Who changed what stays traceable: every applied edit is in the audit chain.
            self.audit.append(
                (
                    "field.set",
                    task.entity,
                    str(mutation.task_id),
                    {"field": name, "value": stored[0] if stored else None},
                    {"field": name, "value": mutation.value, "hlc": hlc_text}
                    | ({"flags": [merge.HANDED_IN_FLAG]} if self.ctx.revoked_at_ms else {}),
                    task.scope,
                )
            )
            mine = (mutation.value, hlc_text, self.ctx.user_id, mutation.mutation_id)
            self.field_values[(*key, name)] = mine
            self.fields.append((*key, name, *mine))
            task.touched = True
        conflict_id = None
        if decision.conflict and stored is not None:
            conflict_id = self.store._record_field_conflict(
                self.conn, task.row, mutation, hlc, decision, stored, self.ctx
            )
        return MutationResult(
            mutation_id=mutation.mutation_id,
            status="conflict" if conflict_id else "applied",
            conflict_id=conflict_id,
            hlc=hlc_text,
            rule=merge.ConflictRule.CONCURRENT_EDIT.value if conflict_id else None,
        )

    # -- writing, in bulk ----------------------------------------------------------------

    def write(self) -> None:
        conn, ctx = self.conn, self.ctx
        touched = [t for t in self.tasks.values() if t.touched]
        first = self.store._next_seq(conn, len(self.visits) + len(touched))
        for n, visit in enumerate(self.visits):
            visit[25] = first + n
        conn.executemany(
            "INSERT INTO visit_logs (entry_id, task_kind, task_id, officer_id, device_pk,"
            " mutation_id, supersedes, recorded_at, received_at, arrived_at, contact, outcome,"
            " amount_prevented, notes, lat, lon, accuracy_m, photos, held_at, attendance,"
            " materials, completed, hlc, device_clock_offset_ms, flags, seq, city_id,"
            " county_id, station_id) VALUES"
            " (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            self.visits,
        )
        # Who recorded on a task keeps it in scope; kept apart from the visit log so that
        # a scope refresh reads a handful of rows, not every visit ever made.
        conn.executemany(
            "INSERT OR IGNORE INTO task_visitors (task_kind, task_id, officer_id) VALUES (?, ?, ?)",
            {(v[1], v[2], v[3]) for v in self.visits},
        )
        conn.executemany(
            "INSERT INTO field_values (task_kind, task_id, field, value, hlc, user_id,"
            " mutation_id) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (task_kind, task_id, field)"
            " DO UPDATE SET value = excluded.value, hlc = excluded.hlc,"
            " user_id = excluded.user_id, mutation_id = excluded.mutation_id",
            self.fields,
        )
        refresh = []
        known: dict[Key, KnownTask] = {}
        # One statement per shape of change, not per task: most tasks of a push change the
        # same columns (or none but their version).
        shapes: dict[tuple[str, tuple[str, ...]], list[tuple[Any, ...]]] = {}
        for n, task in enumerate(touched):
            seq = first + len(self.visits) + n
            shape = (task.table, tuple(task.sets))
            shapes.setdefault(shape, []).append(
                (*task.sets.values(), seq, ctx.received_at, task.row["id"])
            )
            refresh.append((task.kind_name, task.row["id"], seq))
            known[(task.kind_name, task.row["id"])] = KnownTask(
                version=task.row["version"] + 1,
                cancelled=task.row[task.state_column] == "cancelled",
                assignees=set(task.assignees),
                sort_key=sort_key(task.kind_name, task.row),
            )
        for (table, columns), rows in shapes.items():
            assignments = "".join(f"{c} = ?, " for c in columns)
            conn.executemany(
                f"UPDATE {table} SET {assignments}version = version + 1, seq = ?,"  # noqa: S608
                " updated_at = ? WHERE id = ?",
                rows,
            )
        self.store._append_audit(conn, [*self.audit, *self._push_audit()], self.actor)
        keep_rejections(conn, self.rejected)
        conn.executemany(
            "INSERT INTO mutations (user_id, mutation_id, content_hash, result, received_at)"
            " VALUES (?, ?, ?, ?, ?)",
            [
                (ctx.user_id, mutation_id, digest, _encode(result).decode(), ctx.received_at)
                for mutation_id, (digest, result) in self.done.items()
            ],
        )
        if self.done:
            # Oversight's "last push"; max() keeps it from going back with the clock.
            conn.execute(
                "UPDATE users SET last_push_at = max(coalesce(last_push_at, ''), ?) WHERE id = ?",
                (ctx.received_at, ctx.user_id),
            )
        # A push changes no assignment: the scope refresh takes what this push holds.
        self.store._refresh_scopes(conn, refresh, known=known)

    def _push_audit(self) -> list[AuditItem]:
        """The push's visits on the chain: one entry per unit their tasks belong to (almost
        always one), so that each unit's supervisors see the visits in their jurisdiction
        and the chain grows by an entry a push, not a visit."""
        return [
            (
                "sync.push",
                "device",
                self.ctx.device_id,
                None,
                {"visits": visits},
                dict(zip(SCOPE_COLUMNS, scope, strict=True)),
            )
            for scope, visits in self.visit_audit.items()
        ]


def _hash(mutation: Mutation) -> str:
    return hashlib.sha256(_encode(mutation)).hexdigest()


_KEEP_REJECTION = (
    "INSERT INTO rejected_mutations (user_id, device_pk, mutation_id, code, detail, body,"
    " received_at, city_id, county_id, station_id)"
    " SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM rejected_mutations"
    " WHERE user_id = ? AND mutation_id = ? AND code = ? AND body = ?)"
)


def keep_rejections(conn: sqlite3.Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """Keep rejected mutations (user, device, mutation id, code, detail, body, received at,
    city, county, station) for review, each once: a resend of the same mutation that meets
    the same verdict changes nothing (PROTOCOL.md), not even this list."""
    conn.executemany(
        _KEEP_REJECTION,
        [(*row, row[0], row[2], row[3], row[5]) for row in rows],
    )

"""A push's decisions, apart from any database.

A backend loads, in bulk, what a push needs (the tasks it names, the entries it
supersedes, the fields it edits, the verdicts of mutations seen before) into a PushMerge,
which decides every mutation in order with sync.merge, each decision seeing the effect of
the ones before it, and holds what the backend then writes: visit logs, field values, the
tasks' changed columns, audit entries, rejections and each mutation's verdict. Conflicts
are recorded as they are decided, through the backend's ConflictSink, since a verdict
names its conflict's id. A backend only loads and writes (sqlite/push.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple, Protocol

import msgspec

from server.clock import iso
from server.store.records import PUBLICITY_FINAL, WARNING_FINAL, Actor, AuditItem
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

_encode = msgspec.json.Encoder(order="sorted").encode
_rfc3339 = msgspec.json.Encoder().encode
_WHOLE_SECONDS = len(b'"2026-01-01T00:00:00Z"')
_result_decoder = msgspec.json.Decoder(MutationResult)
_SLACK = timedelta(milliseconds=CLOCK_TOLERANCE_MS)
Mutation = RecordVisit | SetField
Key = tuple[str, int]
_Times = tuple[datetime, datetime | None, datetime | None]
# A field's stored value: (value, hlc, user id, mutation id or None).
StoredField = tuple[str | None, str, int, str | None]
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
    # What the platform is told of an outcome (server/store/outcome_feed.py).
    "platform_id",
    "client_id",
    "cancel_reason",
    "outcome_amount",
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
    # The visit's recorded, arrived and held times in UTC: converted once, here, for the
    # row and for every comparison with the task's times (all UTC, so compared directly).
    times: _Times | None = None


def prepare(ctx: PushContext, mutations: Sequence[Mutation]) -> list[Prepared]:
    """Hashes, clocks and visit rows of a push, in the pushing request's own thread: the
    writer, which every push waits for, then only decides and writes."""
    out = []
    for m in mutations:
        row = times = None
        if isinstance(m, RecordVisit):
            e, pos = m.entry, m.entry.position
            recorded = e.recorded_at.astimezone(UTC)
            arrived = e.arrived_at.astimezone(UTC) if e.arrived_at else None
            held = e.held_at.astimezone(UTC) if e.held_at else None
            times = (recorded, arrived, held)
            # Enums' `_value_`, not `.value`: the property is a Python call, three a visit.
            row = (
                e.entry_id,
                m.task_kind._value_,
                m.task_id,
                ctx.user_id,
                ctx.device_pk,
                m.mutation_id,
                e.supersedes,
                _iso_utc(recorded),
                ctx.received_at,
                _iso_utc(arrived) if arrived else None,
                e.contact._value_ if e.contact else None,
                e.outcome._value_ if e.outcome else None,
                e.amount_prevented,
                e.notes,
                pos.lat if pos else None,
                pos.lon if pos else None,
                pos.accuracy_m if pos else None,
                _encode(e.photos).decode(),
                _iso_utc(held) if held else None,
                e.attendance,
                _encode(e.materials).decode() if e.materials else "[]",
                int(e.completed),
            )
        out.append(Prepared(_hash(m), HLC.decode(m.hlc), row, times))
    return out


def _iso_utc(when: datetime) -> str:
    """clock.iso of a time already in UTC, to the byte, written by msgspec's RFC 3339
    encoder (a quarter of isoformat's cost): it writes `Z` for the offset, and the
    microseconds as six digits, or none when they are zero."""
    text = _rfc3339(when)  # b'"YYYY-MM-DDTHH:MM:SS[.ffffff]Z"'
    if len(text) == _WHOLE_SECONDS:
        return text[1:-2].decode() + ".000000+00:00"
    return text[1:-2].decode() + "+00:00"


def _hash(mutation: Mutation) -> str:
    return hashlib.sha256(_encode(mutation)).hexdigest()


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


class TaskState:
    """A task as this push sees it: the row, the engine's view, what to write back."""

    # A push builds one per task it names, a hundred or so: slots, and nothing worked out
    # here that a visit may not need.
    __slots__ = (
        "_created",
        "assignees",
        "before",
        "entity",
        "ever",
        "final",
        "holders",
        "kind",
        "kind_name",
        "row",
        "sets",
        "state_column",
        "table",
        "touched",
        "unit",
    )

    def __init__(
        self,
        kind: str,
        row: dict[str, Any],
        assignees: frozenset[int],
        ever: frozenset[int],
        holders: set[int] | None = None,
    ) -> None:
        self.kind, self.state_column, self.table, self.final, self.entity = _KINDS[kind]
        self.kind_name = kind
        self.row = row
        self.assignees = assignees
        self.ever = ever
        self.sets: dict[str, Any] = {}
        # What the columns in sets held when loaded: the warning before the push, which
        # the outcome feed compares with after (server/store/outcome_feed.py).
        self.before: dict[str, Any] = {}
        self.touched = False
        # Who recorded on it before this push (task_visitors), as the backend loaded them.
        self.holders: set[int] = set() if holders is None else holders
        # A push never moves a task between units: (city, county, station), read once and
        # shared by its audit entries.
        self.unit: tuple[str | None, str | None, str | None] = (
            row["city_id"],
            row["county_id"],
            row["station_id"],
        )
        self._created: datetime | None = None

    @property
    def scope(self) -> dict[str, str | None]:
        """The task's unit as an audit entry's scope."""
        return dict(zip(SCOPE_COLUMNS, self.unit, strict=True))

    @property
    def created(self) -> datetime:
        """When a visit to it can have happened, from its arrival: parsed once a push."""
        if self._created is None:
            self._created = datetime.fromisoformat(self.row["created_at"])
        return self._created

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
        if column not in self.before:
            self.before[column] = self.row[column]
        self.sets[column] = value
        self.row[column] = value

    def was(self, column: str) -> Any:
        """A column as it was loaded, before this push's sets."""
        return self.before[column] if column in self.before else self.row[column]

    def loaded(self) -> dict[str, Any]:
        """The row as it was loaded, before this push's sets."""
        return {**self.row, **self.before}


class ConflictSink(Protocol):
    """Where a backend records a conflict as it is decided; returns the conflict's id."""

    def visit_conflict(
        self,
        task: merge.TaskView,
        row: dict[str, Any],
        decision: merge.VisitDecision,
        entry: VisitEntry,
        ctx: PushContext,
    ) -> int: ...

    def field_conflict(
        self,
        row: dict[str, Any],
        mutation: SetField,
        hlc: HLC,
        decision: merge.FieldDecision,
        stored: StoredField,
        ctx: PushContext,
    ) -> int: ...


class PushMerge:
    """One push's mutations decided against what the backend loaded for it.

    The backend fills `seen`, `tasks`, `entries` and `field_values` before decide_all."""

    def __init__(
        self,
        ctx: PushContext,
        mutations: Sequence[Mutation],
        prepared: Sequence[Prepared],
        conflicts: ConflictSink,
    ) -> None:
        self.ctx = ctx
        self.mutations = mutations
        self.prepared = prepared
        self.conflicts = conflicts
        self.actor = Actor(user_id=ctx.user_id, device_id=ctx.device_id)
        # Loaded by the backend: mutation id -> (content hash, verdict as JSON) of the
        # user's mutations seen before; the tasks; the entries named; the fields edited.
        self.seen: dict[str, tuple[str, str]] = {}
        self.tasks: dict[Key, TaskState] = {}
        self.entries: dict[str, merge.SupersededEntry] = {}
        self.field_values: dict[tuple[str, int, str], StoredField] = {}
        # Decided, for the backend to write.
        self.results: list[MutationResult] = []
        self.done: dict[str, tuple[str, MutationResult]] = {}
        self.visits: list[list[Any]] = []
        self.fields: list[tuple[str, int, str, str | None, str, int, str]] = []
        self.audit: list[AuditItem] = []
        self.visit_audit: dict[tuple[str | None, ...], list[dict[str, Any]]] = {}
        self.rejected: list[tuple[Any, ...]] = []
        self.received = datetime.fromisoformat(ctx.received_at)

    def wanted(self) -> tuple[list[str], set[Key], set[str], set[Key]]:
        """What the backend loads for this push: mutation ids, task keys, entry ids (the
        push's own and those it supersedes) and the tasks whose fields it edits."""
        mutation_ids = list({m.mutation_id for m in self.mutations})
        keys = {(m.task_kind._value_, m.task_id) for m in self.mutations}
        entries = {m.entry.entry_id for m in self.mutations if isinstance(m, RecordVisit)}
        entries |= {
            m.entry.supersedes
            for m in self.mutations
            if isinstance(m, RecordVisit) and m.entry.supersedes
        }
        edited = {(m.task_kind.value, m.task_id) for m in self.mutations if isinstance(m, SetField)}
        return mutation_ids, keys, entries, edited

    def touched(self) -> list[TaskState]:
        return [t for t in self.tasks.values() if t.touched]

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
            # The server's clock moves up to the mutation's (same node: wall, then counter).
            if (hlc.wall_ms, hlc.counter) > (server_hlc.wall_ms, server_hlc.counter):
                server_hlc = HLC(hlc.wall_ms, hlc.counter, server_hlc.node)
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
        # A trusted HLC is the phone's own, whose text is the one it sent.
        hlc_text = mutation.hlc if hlc is prep.device_hlc else hlc.encode()
        decision = merge.decide_visit(
            view, self.ctx.user_id, entry, hlc, superseded, hlc_text=hlc_text
        )
        if decision.rejection is not None or task is None or view is None:
            field = (
                "entry.supersedes"
                if decision.rejection == merge.Rejection.BAD_SUPERSEDES
                else "task_id"
            )
            return self._reject(
                mutation, decision.rejection or merge.Rejection.UNKNOWN_TASK, decision.detail, field
            )
        assert prep.times is not None  # noqa: S101 -- prepared for every record_visit
        impossible = self._impossible_time(prep.times, task)
        flags = (
            (["clock_skew"] if self.ctx.skew_flagged else [])
            + ([decision.conflict.value] if decision.conflict else [])
            + (["impossible_time"] if impossible else [])
            + ([merge.HANDED_IN_FLAG] if self.ctx.revoked_at_ms is not None else [])
        )
        before, after = self._apply(task, decision, mutation, prep.times, impossible)
        self._keep_visit(mutation, prep, hlc_text, flags, task, before, after)
        conflict_id = None
        if decision.conflict is not None:
            conflict_id = self.conflicts.visit_conflict(view, task.row, decision, entry, self.ctx)
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
        task: TaskState,
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
        self.visit_audit.setdefault(task.unit, []).append(
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

    def _impossible_time(self, times: _Times, task: TaskState) -> bool:
        """A visit whose own times (recorded, arrived, held; UTC) fall outside its window
        (from the task's arrival to the server's receipt of the visit) by more than a
        phone's clock may be off. Evidence is never refused for its clock: it is flagged
        for review."""
        recorded, arrived, held = times
        start, end = task.created - _SLACK, self.received + _SLACK
        return not (
            start <= recorded <= end
            and (arrived is None or start <= arrived <= end)
            and (held is None or start <= held <= end)
        )

    def _contact_time(self, times: _Times, task: TaskState, impossible: bool) -> str:
        """The first contact's time as the reports count it: the server's receipt for a
        visit with impossible times; otherwise the phone's, held within the window (a
        contact minutes before dispatch, within the tolerance, counts as at dispatch)."""
        if impossible:
            return self.ctx.received_at
        text = task.row.get("dispatched_at")
        dispatched = datetime.fromisoformat(text) if text else task.created
        at = times[1] or times[0]
        return iso(min(max(at, dispatched), self.received))  # dispatch is never before arrival

    def _apply(
        self,
        task: TaskState,
        decision: merge.VisitDecision,
        mutation: RecordVisit,
        times: _Times,
        impossible: bool,
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
            task.set("first_contact_at", self._contact_time(times, task, impossible))
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
            conflict_id = self.conflicts.field_conflict(
                task.row, mutation, hlc, decision, stored, self.ctx
            )
        return MutationResult(
            mutation_id=mutation.mutation_id,
            status="conflict" if conflict_id else "applied",
            conflict_id=conflict_id,
            hlc=hlc_text,
            rule=merge.ConflictRule.CONCURRENT_EDIT.value if conflict_id else None,
        )

    def push_audit(self) -> list[AuditItem]:
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

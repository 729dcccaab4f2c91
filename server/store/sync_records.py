"""Records of the sync part of the store: push context, pull rows, conflicts."""

from __future__ import annotations

from datetime import datetime

import msgspec


class PushContext(msgspec.Struct, frozen=True, kw_only=True):
    """Who pushes, from which device, when, and how far its clock is off."""

    user_id: int
    device_pk: int
    device_id: str
    city_id: str
    county_id: str | None
    station_id: str | None
    received_at: str
    now_ms: int
    clock_offset_ms: int
    skew_flagged: bool
    # Set for a hand-in (PROTOCOL.md, Being cut off): when the device was revoked or its
    # user disabled, in ms. What the phone made before is flagged; what after, refused.
    revoked_at_ms: int | None = None


class PulledWarning(msgspec.Struct, frozen=True, tag="warning"):
    """A warning's columns that go to its officers' phones, as stored (times as text)."""

    id: int
    version: int
    seq: int
    state: str
    resident_name: str
    resident_phone: str
    resident_address: str
    resident_id_number: str | None
    grid_code: str
    source: str
    fraud_type: str
    risk_level: str
    summary: str | None
    issued_at: str
    deadline_at: str
    outcome: str | None
    officer_id: int | None


class PulledPublicity(msgspec.Struct, frozen=True, tag="publicity"):
    """A publicity task's columns that go to its officers' phones, with its officers."""

    id: int
    version: int
    seq: int
    status: str
    title: str
    grid_code: str
    venue_kind: str
    audience: str
    window_start: str
    window_end: str
    notes: str | None
    officer_ids: list[int] = []


class PulledVisit(msgspec.Struct, frozen=True):
    """A visit log as a task's holders pull it, with the supervisor's review if any."""

    entry_id: str
    task_kind: str
    task_id: int
    officer_id: int
    recorded_at: str
    received_at: str
    supersedes: str | None
    arrived_at: str | None
    contact: str | None
    outcome: str | None
    amount_prevented: int | None
    notes: str | None
    lat: float | None
    lon: float | None
    accuracy_m: float | None
    photos: str  # JSON text, as stored
    held_at: str | None
    attendance: int | None
    materials: str  # JSON text, as stored
    completed: int
    flags: str  # JSON text, as stored
    hlc: str
    review_decision: str | None
    review_note: str | None
    review_at: str | None


class PulledField(msgspec.Struct, frozen=True):
    """A field's value on the server, with the hlc that set it."""

    value: str | None
    hlc: str


# The columns each pulled record is read from, in its fields' order.
PULLED_WARNING_COLUMNS = PulledWarning.__struct_fields__
PULLED_PUBLICITY_COLUMNS = tuple(f for f in PulledPublicity.__struct_fields__ if f != "officer_ids")
PULLED_VISIT_COLUMNS = tuple(PulledVisit.__struct_fields__)


class PullItem(msgspec.Struct, kw_only=True):
    op: str
    kind: str
    id: int
    seq: int
    reason: str | None = None
    task: PulledWarning | PulledPublicity | None = None
    visits: list[PulledVisit] = []
    fields: dict[str, PulledField] = {}


class PullRows(msgspec.Struct, kw_only=True):
    items: list[PullItem]
    last_key: str
    last_seq: int
    head: int
    more: bool
    checksum: str | None


class ClaimSide(msgspec.Struct, frozen=True, kw_only=True, tag="claim", tag_field="side"):
    """A conflict's side that is a visit's claim on the warning's outcome (sync.merge.
    OutcomeClaim's fields): the entry (None: set by a supervisor), its officer, contact,
    hlc and outcome."""

    entry_id: str | None
    officer_id: int | None
    contact: str | None
    hlc: str
    outcome: str


class TaskSide(msgspec.Struct, frozen=True, kw_only=True, tag="task", tag_field="side"):
    """A conflict's side where no visit's claim won: the task's state and assignees then
    (a visit on a cancelled or reassigned task)."""

    state: str
    assignees: list[int]


class FieldSide(msgspec.Struct, frozen=True, kw_only=True, tag="field", tag_field="side"):
    """One value of a concurrent edit, with the hlc, user and mutation that set it. The
    user and mutation are None for a value a supervisor's resolution set, or one kept
    before mutations were kept with values."""

    field: str
    value: str | None
    hlc: str
    user_id: int | None = None
    mutation_id: str | None = None


# Stored as the JSON of their fields alone (the rule tells them apart, see sqlite/sync.py);
# on the wire they name their shape in `side`.
ConflictSide = ClaimSide | TaskSide | FieldSide


class ConflictRecord(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    rule: str
    task_kind: str
    task_id: int
    city_id: str | None
    county_id: str | None
    station_id: str | None
    officer_ids: list[int]
    entry_id: str | None
    # One of three shapes, by rule: a visit's claim on the outcome, the task's state and
    # assignees where no claim won, or a field's value (concurrent_edit).
    winner: ConflictSide | None
    loser: ConflictSide | None
    created_at: datetime
    status: str
    resolved_at: datetime | None
    resolved_by: int | None
    resolution: str | None
    note: str | None


class RejectedMutation(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    user_id: int
    device_pk: int
    mutation_id: str
    code: str
    detail: str
    body: str
    received_at: datetime
    city_id: str | None
    county_id: str | None
    station_id: str | None


# The columns a conflict's resolution may change on its task (Store.resolve_conflict):
# the side the rule overrode, applied as an ordinary change. Anything else (its version,
# its seq, a column that does not exist) is a programming error, refused before a write.
RESOLVABLE_COLUMNS: dict[str, frozenset[str]] = {
    "warning": frozenset(
        {
            "state",
            "outcome",
            "outcome_entry_id",
            "outcome_officer_id",
            "outcome_contact",
            "outcome_hlc",
        }
    ),
    "publicity": frozenset({"status"}),
}

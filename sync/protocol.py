"""Wire types of the sync protocol, shared by the server and every client.

PROTOCOL.md beside this file is the prose a client team builds from; this module is its
executable half. Schema evolution (msgspec's rules, applied):

- a field is only ever added, at the end, with a default; never renamed, retyped or
  removed while an app version in the field still sends or reads it;
- decoders ignore unknown fields, so old phones read new servers and vice versa;
- values the server sends that may grow (states, fraud types, venues) are plain strings
  in the pull types, so an old app shows a new value instead of failing to decode; values
  a phone sends (outcome, contact method) are closed enums the server checks;
- a new kind of mutation or change is a new tagged type; an old server answers an
  unknown mutation type with a per-mutation rejection, not a failed batch.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from sync.vocab import ContactMethod, EditableField, Outcome, TaskKind

AwareDatetime = Annotated[datetime, Meta(tz=True)]
# A server's id: rowids from 1 to the largest integer JavaScript holds exactly (a wider
# one could not even be looked up: SQLite refuses integers past 64 bits).
TaskId = Annotated[int, Meta(ge=1, le=2**53 - 1)]
ClientId = Annotated[
    str,
    Meta(
        min_length=8,
        max_length=64,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="Made on the phone (a UUID); unique per user",
    ),
]
HlcText = Annotated[
    str,
    Meta(
        pattern=r"^[0-9]{18}-[0-9]{5}-[A-Za-z0-9._:-]{1,128}$",
        description="Hybrid logical clock, see sync/hlc.py",
    ),
]
Sha256 = Annotated[str, Meta(pattern=r"^[0-9a-f]{64}$")]
MAX_MUTATIONS = 500
MAX_PULL_LIMIT = 500


class Position(msgspec.Struct, kw_only=True):
    lat: Annotated[float, Meta(ge=-90, le=90)]
    lon: Annotated[float, Meta(ge=-180, le=180)]
    accuracy_m: Annotated[float, Meta(ge=0, le=100_000)]


class Material(msgspec.Struct, kw_only=True):
    kind: Annotated[str, Meta(min_length=1, max_length=64)]
    count: Annotated[int, Meta(ge=0, le=1_000_000)]


# -- push: phone -> server --------------------------------------------------------------


# How far a phone's clock may be off before its records are flagged for review, and how
# far a visit's own times may fall outside the span its task allows (after the task
# arrived, before the server received the visit) before they are taken as impossible.
CLOCK_TOLERANCE_MS = 10 * 60 * 1000


class VisitEntry(msgspec.Struct, kw_only=True):
    """One entry of a task's visit log. Evidence: never changed, only superseded."""

    entry_id: ClientId
    recorded_at: AwareDatetime
    supersedes: ClientId | None = None
    arrived_at: AwareDatetime | None = None
    contact: ContactMethod | None = None
    outcome: Outcome | None = None
    amount_prevented: Annotated[int, Meta(ge=0, le=10**10)] | None = None
    notes: Annotated[str, Meta(max_length=4000)] | None = None
    position: Position | None = None
    photos: Annotated[list[Sha256], Meta(max_length=30)] = []
    held_at: AwareDatetime | None = None
    attendance: Annotated[int, Meta(ge=0, le=1_000_000)] | None = None
    materials: Annotated[list[Material], Meta(max_length=30)] = []
    completed: bool = False


class RecordVisit(msgspec.Struct, kw_only=True, tag="record_visit"):
    mutation_id: ClientId
    hlc: HlcText
    task_kind: TaskKind
    task_id: TaskId
    entry: VisitEntry


class SetField(msgspec.Struct, kw_only=True, tag="set_field"):
    mutation_id: ClientId
    hlc: HlcText
    task_kind: TaskKind
    task_id: TaskId
    field: EditableField
    value: Annotated[str, Meta(max_length=4000)] | None
    base_hlc: HlcText | None = None


Mutation = RecordVisit | SetField


class PushRequest(msgspec.Struct, kw_only=True):
    device_time: AwareDatetime
    mutations: Annotated[list[Mutation], Meta(min_length=1, max_length=MAX_MUTATIONS)]


class MutationProblem(msgspec.Struct, kw_only=True, omit_defaults=True):
    code: str
    detail: str
    field: str | None = None


class MutationResult(msgspec.Struct, kw_only=True, omit_defaults=True):
    mutation_id: str
    status: Literal["applied", "conflict", "rejected"]
    conflict_id: int | None = None
    problem: MutationProblem | None = None
    # The HLC the server ordered this mutation by: the phone's own, or the server's when
    # the phone's clock ran too far ahead to be trusted. Build the next edit on it.
    hlc: str | None = None
    # With `conflict`: the rule that decided (PROTOCOL.md, Conflict rules), so a phone can
    # tell its officer in words what happened even when the task has left its scope.
    rule: str | None = None


class PushResponse(msgspec.Struct, kw_only=True):
    results: list[MutationResult]
    server_hlc: str
    clock_offset_ms: int
    clock_skew_flagged: bool


# -- pull: server -> phone ---------------------------------------------------------------


class FieldValue(msgspec.Struct, kw_only=True):
    value: str | None
    hlc: str


class VisitReview(msgspec.Struct, kw_only=True):
    """A supervisor's verdict on a visit entry."""

    decision: str  # approved | returned
    note: str | None = None
    reviewed_at: datetime | None = None


class VisitOut(msgspec.Struct, kw_only=True):
    entry_id: str
    task_kind: str
    task_id: int
    officer_id: int
    recorded_at: datetime
    received_at: datetime
    supersedes: str | None = None
    superseded_by: str | None = None
    arrived_at: datetime | None = None
    contact: str | None = None
    outcome: str | None = None
    amount_prevented: int | None = None
    notes: str | None = None
    position: Position | None = None
    photos: list[str] = []
    held_at: datetime | None = None
    attendance: int | None = None
    materials: list[Material] = []
    completed: bool = False
    flags: list[str] = []
    # Added with supervisors' review: their verdict on this entry, if any. A `returned`
    # entry is to be redone: the officer records a new entry that supersedes it.
    review: VisitReview | None = None
    # Added for audit: the HLC of the record_visit mutation that brought this entry, so
    # every entry can be matched to what a phone sent without reading the database.
    hlc: str | None = None


class WarningTask(msgspec.Struct, kw_only=True, tag="warning", tag_field="kind"):
    id: int
    version: int
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
    issued_at: datetime
    deadline_at: datetime
    outcome: str | None
    officer_id: int | None
    fields: dict[str, FieldValue] = {}


class PublicityTask(msgspec.Struct, kw_only=True, tag="publicity", tag_field="kind"):
    id: int
    version: int
    status: str
    title: str
    grid_code: str
    venue_kind: str
    audience: str
    window_start: date
    window_end: date
    notes: str | None
    officer_ids: list[int]
    fields: dict[str, FieldValue] = {}


Task = WarningTask | PublicityTask


class Upsert(msgspec.Struct, kw_only=True, tag="upsert"):
    """Store this task (replacing any older copy) and its visit log."""

    seq: int
    task: Task
    visits: list[VisitOut] = []


class Remove(msgspec.Struct, kw_only=True, tag="remove"):
    """Drop this task and every personal detail of it from the device."""

    seq: int
    kind: str
    id: int
    reason: str


Change = Upsert | Remove


class PullResponse(msgspec.Struct, kw_only=True):
    changes: list[Change]
    cursor: str
    has_more: bool
    checksum: str | None
    server_hlc: str


class ScopeEvent(msgspec.Struct, kw_only=True):
    """The data of a `scope_changed` server-sent event: pull from your cursor."""

    seq: int


# Decoders and encoders built once: both sides use these.
push_request_decoder = msgspec.json.Decoder(PushRequest)
push_response_decoder = msgspec.json.Decoder(PushResponse)
pull_response_decoder = msgspec.json.Decoder(PullResponse)
encoder = msgspec.json.Encoder()


class WaitResponse(msgspec.Struct, kw_only=True):
    """The long-poll fallback's answer: `changed` means pull from your cursor now.

    `seq` is the id to pass back as `after` next time (the newest change known, or the
    `after` given when nothing changed).
    """

    seq: int = 0
    changed: bool = False

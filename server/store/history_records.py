"""Records of a warning's history as the store hands it back: everything recorded about
one warning, read in one snapshot, for its timeline (server/timeline)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from server.store.records import AuditEntry, WarningRecord
from server.store.sync_records import ConflictRecord


class MaterialRecord(msgspec.Struct, frozen=True, kw_only=True):
    kind: str
    count: int


class VisitRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One visit log entry: evidence, never changed, only superseded. A publicity task's
    entries report what was held (held_at, attendance, materials); the review fields are
    filled where the reader asked for them (a publicity task's sessions)."""

    entry_id: str
    officer_id: int
    device_pk: int
    supersedes: str | None
    recorded_at: datetime
    received_at: datetime
    arrived_at: datetime | None
    contact: str | None
    outcome: str | None
    amount_prevented: int | None
    notes: str | None
    lat: float | None
    lon: float | None
    accuracy_m: float | None
    photos: list[str]
    flags: list[str]
    completed: bool
    held_at: datetime | None = None
    attendance: int | None = None
    materials: list[MaterialRecord] = []
    review_decision: str | None = None
    review_note: str | None = None


class EscalationRecord(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    warning_id: int
    kind: str
    level: str
    due_at: datetime
    at: datetime


class OutcomeFeedRecord(msgspec.Struct, frozen=True, kw_only=True):
    """An item of the outcome feed: what the platform was (or will be) told."""

    id: int
    delivery_id: str
    client_id: int
    warning_id: int
    payload: dict[str, Any]
    at: datetime


class WarningHistory(msgspec.Struct, frozen=True, kw_only=True):
    """A warning, its audit entries, visit log, conflicts, escalation steps and outcome
    feed items, each oldest first; and the names of every user they mention."""

    warning: WarningRecord
    audit: list[AuditEntry]
    visits: list[VisitRecord]
    conflicts: list[ConflictRecord]
    escalations: list[EscalationRecord]
    outcomes: list[OutcomeFeedRecord]
    user_names: dict[int, str]

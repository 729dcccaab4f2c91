"""Records of the supervision part of the store: report figures, escalation steps, the
outcome feed and its webhook cursor, and officers' activity (server/reports, escalation,
loop, oversight)."""

from __future__ import annotations

from datetime import date, datetime

import msgspec

# A group's value in report figures: a unit id, an officer id, or None (no assignee).
GroupValue = str | int | None


class WarningCounts(msgspec.Struct, frozen=True, kw_only=True):
    """Warnings received in a report's range: received and cancelled count them all, the
    rest only those not cancelled; overdue at the moment the report was asked."""

    received: int
    cancelled: int
    visited: int
    face_to_face: int
    on_time: int
    late: int
    overdue: int
    closed: int
    amount_prevented: int
    # Every outcome of server.store.queries.OUTCOMES, 0 where none was recorded.
    outcomes: dict[str, int]


class WarningGroupFigures(WarningCounts, frozen=True, kw_only=True):
    """warning_figures: one group's counts, and the minutes from dispatch to first contact
    of each visited warning, ascending, for nearest-rank percentiles."""

    group: tuple[GroupValue, ...]  # one value per group asked for, in that order
    contact_minutes: list[float]


class WarningDayFigures(WarningCounts, frozen=True, kw_only=True):
    """warning_trend: the counts of one local day and fraud type."""

    day: date
    fraud_type: str


class PublicityGroupFigures(msgspec.Struct, frozen=True, kw_only=True):
    """publicity_figures: one group's tasks, those done and those overdue, and what the
    sessions not superseded held."""

    group: GroupValue
    tasks: int
    done: int
    overdue: int
    attendance: int
    materials: int


class EscalationStep(msgspec.Struct, frozen=True, kw_only=True):
    """What escalation listeners hear of a step: whose supervisors' streams it reaches."""

    id: int
    level: str
    city_id: str | None
    county_id: str | None
    station_id: str | None


class EscalationRecord(EscalationStep, frozen=True, kw_only=True):
    warning_id: int
    kind: str
    due_at: datetime
    at: datetime


class OutcomePayload(msgspec.Struct, frozen=True, kw_only=True):
    """What the platform is told of a warning's outcome: a wire contract, encoded in this
    field order (server/store/outcome_feed.py writes it; the feed and webhooks serve it)."""

    warning_id: int
    platform_id: str | None
    state: str
    outcome: str | None
    contact: str | None
    officer_id: int | None
    amount_prevented: int | None
    first_contact_at: str | None
    closed_at: str | None
    cancel_reason: str | None
    county_id: str | None
    station_id: str | None


class OutcomeFeedRecord(msgspec.Struct, frozen=True, kw_only=True):
    """An item of the outcome feed: what the platform was (or will be) told."""

    id: int
    delivery_id: str
    client_id: int
    warning_id: int
    payload: OutcomePayload
    at: datetime


class WebhookState(msgspec.Struct, frozen=True, kw_only=True):
    """A webhook's cursor on the outcome feed; a name never saved reads as a fresh one."""

    name: str
    last_id: int = 0
    attempts: int = 0  # failed attempts at the item after last_id
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    delivered: int = 0


class OfficerActivity(msgspec.Struct, frozen=True, kw_only=True):
    """Signs of an officer's phones: the last push, rejected mutations (how many, the
    newest one's code and time), open and overdue warnings, and photos their visit logs
    name that have not arrived (None before the photo tables, m004_uploads)."""

    last_push_at: datetime | None = None
    rejected: int = 0
    last_rejected_code: str | None = None
    last_rejected_at: datetime | None = None
    open_warnings: int = 0
    overdue_warnings: int = 0
    pending_uploads: int | None = None

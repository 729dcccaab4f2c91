from __future__ import annotations

from datetime import date
from enum import StrEnum

import msgspec


class Period(StrEnum):
    DAY = "day"  # 日通报
    WEEK = "week"  # 周研判: Monday to Sunday
    MONTH = "month"  # 月讲评: the calendar month


class WarningFigures(msgspec.Struct, kw_only=True):
    """Warnings received in the range (by arrival, local days).

    assigned = received - cancelled; every rate is over assigned. A warning counts as
    visited when it has a first contact (face to face or phone), as face to face when its
    outcome came from a face-to-face contact, as on time when its first contact came within
    its risk level's time (BEATSYNC_CONTACT_MINUTES) of arrival; a later contact is
    visited and `late`. overdue: still open, never contacted, past that time now.
    Minutes from dispatch to first contact: nearest-rank median and p90 over visited.
    The first contact's time is the phone's (arrived_at, else recorded_at), held between
    the warning's dispatch and the server's receipt of the visit; a visit whose times fall
    outside that span by more than the clock tolerance (10 min) is flagged
    `impossible_time` for review and counted at the server's receipt: a time the server
    saw itself, and never earlier than the contact.
    """

    received: int = 0
    cancelled: int = 0
    assigned: int = 0
    visited: int = 0
    face_to_face: int = 0
    face_to_face_rate: float | None = None
    on_time: int = 0
    on_time_rate: float | None = None
    late: int = 0
    overdue: int = 0
    closed: int = 0
    contact_minutes_median: float | None = None
    contact_minutes_p90: float | None = None
    outcomes: dict[str, int] = {}
    amount_prevented: int = 0


class PublicityFigures(msgspec.Struct, kw_only=True):
    """Publicity tasks whose window overlaps the range; attendance and materials from
    entries not superseded. By officer: tasks they are assigned, entries they recorded."""

    tasks: int = 0
    done: int = 0
    overdue: int = 0
    attendance: int = 0
    materials: int = 0


class Row(msgspec.Struct, kw_only=True):
    key: str
    name: str
    warnings: WarningFigures
    publicity: PublicityFigures


class CompletionReport(msgspec.Struct, kw_only=True):
    unit_id: str
    unit_name: str
    level: str
    date_from: date
    date_to: date
    total: Row
    by_unit: list[Row]
    by_officer: list[Row]


class BulletinRow(msgspec.Struct, kw_only=True):
    level: str
    rank: int
    unit_id: str
    name: str
    lagging: bool
    warnings: WarningFigures
    publicity: PublicityFigures


class Bulletin(msgspec.Struct, kw_only=True):
    period: Period
    date_from: date
    date_to: date
    unit_id: str
    lagging_rate: float
    total: Row
    counties: list[BulletinRow]
    stations: list[BulletinRow]
    lagging_units: list[str]


class TrendDay(msgspec.Struct, kw_only=True):
    """One local day of a trend: the warnings received that day, counted as
    WarningFigures counts them. dissuasion_rate: outcomes `dissuaded` over assigned."""

    day: date
    received: int = 0
    assigned: int = 0
    visited: int = 0
    face_to_face: int = 0
    on_time: int = 0
    overdue: int = 0
    face_to_face_rate: float | None = None
    on_time_rate: float | None = None
    dissuasion_rate: float | None = None
    amount_prevented: int = 0


class FraudTypeOutcomes(msgspec.Struct, kw_only=True):
    """Warnings of one fraud type received in the period: how many, assigned (not
    cancelled), and how many reached each outcome."""

    fraud_type: str
    received: int
    assigned: int
    outcomes: dict[str, int]


class Trend(msgspec.Struct, kw_only=True):
    """A unit's warnings day by day (every day of the range, quiet ones with zeros),
    and the period's outcomes by fraud type (most warnings first)."""

    unit_id: str
    unit_name: str
    level: str
    date_from: date
    date_to: date
    days: list[TrendDay]
    by_fraud_type: list[FraudTypeOutcomes]


class ActivityEvent(msgspec.Struct, kw_only=True):
    """Data of a `changed` event on /api/v1/reports/events: the newest audit entry known
    to touch the caller's jurisdiction. Refetch the figures; the id only orders events."""

    audit_id: int

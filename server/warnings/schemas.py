"""Wire types of warnings: what the platform sends, what people read, what they change.

Evolution rules (msgspec's): new fields are added with defaults at the end; unknown
fields from newer clients are ignored, not refused; enum values are never renamed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from server.bounds import TIME_RANGE, Id
from server.errors import Problem
from server.store.records import Queue, WarningState
from server.warnings.vocab import FraudType, Outcome, RiskLevel, WarningSource

AwareDatetime = Annotated[
    datetime, Meta(tz=True, description=f"RFC 3339 with offset, {TIME_RANGE}")
]
MAX_BATCH = 1000


class ResidentIn(msgspec.Struct, kw_only=True):
    name: Annotated[str, Meta(min_length=1, max_length=64)]
    phone: Annotated[str, Meta(pattern=r"^\+?[0-9][0-9 -]{4,19}$")]
    address: Annotated[str, Meta(min_length=1, max_length=256)]
    id_number: Annotated[str, Meta(pattern=r"^[0-9]{15}$|^[0-9]{17}[0-9Xx]$")] | None = None


class WarningIn(msgspec.Struct, kw_only=True):
    """One warning instruction as the platform delivers it."""

    platform_id: Annotated[
        str,
        Meta(min_length=1, max_length=64, description="The platform's own id; the idempotency key"),
    ]
    resident: ResidentIn
    grid_code: Annotated[
        str,
        Meta(min_length=1, max_length=32, description="Village or community code of the resident"),
    ]
    source: WarningSource
    fraud_type: FraudType
    risk_level: RiskLevel
    issued_at: AwareDatetime
    deadline_at: AwareDatetime | None = None
    county_code: Annotated[str, Meta(max_length=32)] | None = None
    summary: Annotated[str, Meta(max_length=1000)] | None = None


class WarningBatchIn(msgspec.Struct, kw_only=True):
    warnings: Annotated[list[WarningIn], Meta(min_length=1, max_length=MAX_BATCH)]


class IngestResult(msgspec.Struct, kw_only=True, omit_defaults=True):
    index: int
    platform_id: str | None
    status: Literal["created", "duplicate", "rejected"]
    warning_id: int | None = None
    state: WarningState | None = None
    queue: Queue | None = None
    station_id: str | None = None
    officer_id: int | None = None
    routing_reason: str | None = None
    problem: Problem | None = None


class IngestOut(msgspec.Struct, kw_only=True):
    created: int
    duplicates: int
    rejected: int
    results: list[IngestResult]


class ResidentOut(msgspec.Struct, kw_only=True):
    name: str
    phone: str
    address: str
    id_number: str | None = None


class WarningOut(msgspec.Struct, kw_only=True):
    id: int
    platform_id: str
    resident: ResidentOut
    grid_code: str
    source: WarningSource
    fraud_type: FraudType
    risk_level: RiskLevel
    summary: str | None
    issued_at: datetime
    deadline_at: datetime
    # Open, never contacted, and longer since it arrived than its risk level's minutes to
    # first contact: the overdue of reports, escalation and oversight.
    overdue: bool
    # Open and past the platform's deadline_at.
    past_deadline: bool
    state: WarningState
    queue: Queue
    city_id: str
    county_id: str | None
    station_id: str | None
    officer_id: int | None
    routing_reason: str | None
    outcome: Outcome | None
    cancel_reason: str | None
    dispatched_at: datetime | None
    version: int
    created_at: datetime
    updated_at: datetime


class WarningPage(msgspec.Struct, kw_only=True):
    items: list[WarningOut]
    next_cursor: str | None


class ReassignIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    officer_id: Id
    reason: Annotated[str, Meta(max_length=500)] | None = None
    expected_version: int | None = None


class CancelIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reason: Annotated[str, Meta(min_length=1, max_length=500)]
    expected_version: int | None = None


class WarningPatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    deadline_at: AwareDatetime
    expected_version: int | None = None

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import msgspec


class EscalationLevel(StrEnum):
    STATION = "station"
    COUNTY = "county"
    CITY = "city"


class EscalationOut(msgspec.Struct, kw_only=True):
    """One step: the warning had no first contact (`contact`) or no outcome (`outcome`)
    by `due_at`, and went to the `level` supervisor at `at`."""

    id: int
    warning_id: int
    kind: str
    level: str
    due_at: datetime
    at: datetime
    county_id: str | None
    station_id: str | None


class EscalationPage(msgspec.Struct, kw_only=True):
    items: list[EscalationOut]
    next_after_id: int | None


class RunOut(msgspec.Struct, kw_only=True):
    escalated: int

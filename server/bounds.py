"""Bounds on numbers and times from the wire: what the store and the clock can hold.

A value past them used to fail deep inside (SQLite refuses integers wider than 64 bits,
`datetime` overflows past year 9999) and answer 500. Declared here, ids refuse such
values at the edge with 400 `validation_failed` naming the field, and the OpenAPI
document states the range, so clients and the schema fuzz test know it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from litestar.params import PathParameter, QueryParameter
from msgspec import Meta

from server.errors import InputError

# SQLite's INTEGER holds 2**63 - 1, but the OpenAPI document renders bounds as floats
# (2**63 - 1 would round up past it) and JavaScript clients lose integers past 2**53:
# the largest exact one is the bound. Rowids start at 1.
ID_MAX = 2**53 - 1

Id = Annotated[int, Meta(ge=1, le=ID_MAX)]
PathId = Annotated[int, PathParameter(ge=1, le=ID_MAX)]
QueryId = Annotated[int | None, QueryParameter(ge=1, le=ID_MAX)]

# Times must convert to UTC and take a deadline added to them; warnings come from now,
# so a generous window loses nothing real.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)
TIME_RANGE = "from 1970-01-01 to 9000-01-01 UTC"


def time_in_range(when: datetime) -> bool:
    """Whether an aware time lies in the window (comparing never overflows)."""
    return EARLIEST <= when < LATEST


# Local days a query names: a day either side of the window stays convertible at any
# UTC offset.
EARLIEST_DAY = date(1970, 1, 2)
LATEST_DAY = date(8999, 12, 31)


def check_day(day: date, field: str) -> None:
    """400 naming the field for a day the clock cannot turn into a time range."""
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        raise InputError(f"{field} must lie from {EARLIEST_DAY} to {LATEST_DAY}", field=field)

"""Overdue, one rule for every reader: a warning still open, never contacted, and longer
since it arrived than its risk level's minutes to first contact.

The warnings list (filter and flag) and oversight read it from here. Escalation asks it
per risk level, to date each step, and the completion report inside its one-scan
figures (both in sqlite/supervision.py); a test holds the list and the report to the
same count.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from server.clock import iso

Limits = dict[str, tuple[int, int]]  # risk level -> (minutes to contact, to outcome)
OPEN_STATES = ("new", "dispatched", "in_progress")


def limit_case(limits: Limits, index: int) -> tuple[str, list[Any]]:
    """SQL for the limit of warning `w`'s risk level: index 0 to contact, 1 to an
    outcome; an unknown level gets the longest."""
    levels = sorted(limits)
    sql = "CASE w.risk_level " + " ".join("WHEN ? THEN ?" for _ in levels) + " ELSE ? END"
    params: list[Any] = []
    for level in levels:
        params += [level, limits[level][index]]
    params.append(max(v[index] for v in limits.values()))
    return sql, params


def overdue_sql(now: datetime, limits: Limits) -> tuple[str, list[Any]]:
    """A condition on warning `w` (aliased so), true when it is overdue at `now`."""
    case, params = limit_case(limits, 0)
    sql = (
        f"w.state IN {OPEN_STATES} AND w.first_contact_at IS NULL"
        f" AND (julianday(?) - julianday(w.created_at)) * 1440 > ({case})"
    )
    return sql, [iso(now), *params]


def past_deadline_sql() -> str:
    """A condition on warning `w`, true when it is open and past the platform's
    deadline_at; one parameter, now. Not overdue: the platform's clock, not ours."""
    return f"w.state IN {OPEN_STATES} AND w.deadline_at < ?"


def is_past_deadline(state: str, deadline_at: datetime, now: datetime) -> bool:
    return state in OPEN_STATES and deadline_at < now


def is_overdue(
    state: str,
    first_contact_at: datetime | None,
    created_at: datetime,
    risk_level: str,
    now: datetime,
    limits: Limits,
) -> bool:
    """The same rule for one warning in hand."""
    if state not in OPEN_STATES or first_contact_at is not None:
        return False
    minutes = limits[risk_level][0] if risk_level in limits else max(v[0] for v in limits.values())
    return now - created_at > timedelta(minutes=minutes)

"""What the warning platform is told when a warning's outcome is decided or changes.

The outcome feed's payload is a wire contract with the platform (its fields are in the
OpenAPI document under the outcome feed), so it is built here, in code, once for every
backend, inside the transaction that changes the warning. Triggers built it before
(SQLite's m008 and PostgreSQL's p001, in two dialects), along with the warning's
outcome_amount (m009). Every statement that writes a warning's state or outcome calls
`amount_sets` before it writes and `feed_row` after it (server/store/sqlite/base.py).

The rule: a warning in a final state puts one item on the feed when it reaches that
state, and again whenever what the platform was told changes: the state, the outcome,
the contact, the officer or the amount prevented. A change that tells the platform
nothing new (a resubmitted entry with its photo) puts out nothing. Each item's delivery
id names the warning and its version, so a platform drops a redelivery by it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from server.store.supervision_records import OutcomePayload

FINAL = frozenset({"completed", "unreachable", "cancelled"})
# The warning's columns whose change is news to the platform, beside the amount.
TOLD = ("state", "outcome", "outcome_contact", "outcome_officer_id")


_encode = msgspec.json.Encoder().encode

INSERT = (
    "INSERT INTO outcome_feed (delivery_id, client_id, warning_id, payload, at)"
    " VALUES (?, ?, ?, ?, ?) ON CONFLICT (delivery_id) DO NOTHING"
)


def moves_outcome(old: Mapping[str, Any], sets: Mapping[str, Any]) -> bool:
    """Whether a write of `sets` moves the warning's outcome to another visit entry, so
    that its outcome_amount must be read again (see amount_sets)."""
    return "outcome_entry_id" in sets and sets["outcome_entry_id"] != old["outcome_entry_id"]


def feed_row(old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[Any, ...] | None:
    """The outcome_feed row (delivery_id, client_id, warning_id, payload, at) that a
    warning's change from `old` to `new` (whole rows, outcome_amount included) puts out,
    or None when it is no news to the platform."""
    if new["state"] not in FINAL:
        return None
    news = any(old[c] != new[c] for c in TOLD) or old["outcome_amount"] != new["outcome_amount"]
    if not news:
        return None
    payload = OutcomePayload(
        warning_id=new["id"],
        platform_id=new["platform_id"],
        state=new["state"],
        outcome=new["outcome"],
        contact=new["outcome_contact"],
        officer_id=new["outcome_officer_id"],
        amount_prevented=new["outcome_amount"],
        first_contact_at=new["first_contact_at"],
        closed_at=new["closed_at"],
        cancel_reason=new["cancel_reason"],
        county_id=new["county_id"],
        station_id=new["station_id"],
    )
    return (
        f"out-{new['id']}-v{new['version']}",
        new["client_id"],
        new["id"],
        _encode(payload).decode(),
        new["updated_at"],
    )

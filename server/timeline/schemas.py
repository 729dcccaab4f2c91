"""Wire types of a warning's timeline: a tagged union of events, told apart by `kind`.

Every event has `at` (when it happened, as the server recorded it; a visit: when the
officer recorded it on the phone, `received_at` is when it reached the server) and
`actor` (who did it: user id and name where known; null for the server itself).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from sync.protocol import Position


class ActorOut(msgspec.Struct, kw_only=True):
    user_id: int | None
    name: str | None
    device_id: str | None = None


class _Event(msgspec.Struct, kw_only=True, tag_field="kind"):
    at: datetime
    actor: ActorOut | None


class IssuedEvent(_Event, tag="issued"):
    """The platform issued the warning (`at`: its issued_at)."""

    platform_id: str
    source: str
    fraud_type: str
    risk_level: str
    deadline_at: datetime


class RoutedEvent(_Event, tag="routed"):
    """The warning arrived and was routed: to an officer, or to a queue and why."""

    queue: str
    county_id: str | None
    station_id: str | None
    officer_id: int | None
    officer_name: str | None
    routing_reason: str | None


class DispatchedEvent(_Event, tag="dispatched"):
    """An officer got the warning: on arrival, or from a queue by a supervisor."""

    officer_id: int
    officer_name: str | None
    reason: str | None


class ReassignedEvent(_Event, tag="reassigned"):
    from_officer_id: int | None
    from_officer_name: str | None
    officer_id: int | None
    officer_name: str | None
    reason: str | None


class ReturnedEvent(_Event, tag="returned_to_queue"):
    """The officer left (disabled, moved, another role): back to the station queue."""

    from_officer_id: int | None
    from_officer_name: str | None
    queue: str | None
    reason: str | None


class CancelledEvent(_Event, tag="cancelled"):
    reason: str | None


class DeadlineChangedEvent(_Event, tag="deadline_changed"):
    before: datetime | None
    after: datetime | None


class VisitEvent(_Event, tag="visit"):
    """A visit log entry (`supersedes`: the entry it corrects)."""

    entry_id: str
    officer_id: int
    officer_name: str | None
    received_at: datetime
    arrived_at: datetime | None
    contact: str | None
    outcome: str | None
    amount_prevented: int | None
    notes: str | None
    position: Position | None
    photos: list[str]
    flags: list[str]
    supersedes: str | None
    superseded_by: str | None
    completed: bool


class ReviewEvent(_Event, tag="review"):
    """A supervisor approved a visit entry, or returned it to be redone."""

    entry_id: str | None
    decision: str
    reasons: list[str]
    note: str | None


class ConflictEvent(_Event, tag="conflict"):
    """A sync conflict rule decided between two claims (see sync/PROTOCOL.md)."""

    conflict_id: int
    rule: str
    entry_id: str | None
    officer_ids: list[int]
    winner: Any
    loser: Any
    status: str


class ConflictResolvedEvent(_Event, tag="conflict_resolved"):
    conflict_id: int
    rule: str
    resolution: str | None
    note: str | None


class EscalatedEvent(_Event, tag="escalated"):
    """No first contact (`missing: contact`) or no outcome (`outcome`) by `due_at`: the
    warning went to the `level` supervisor."""

    missing: str
    level: str
    due_at: datetime


class WebhookDelivery(msgspec.Struct, kw_only=True):
    """Where the webhook stands with an outcome: `delivered`; `pending` behind earlier
    items; `failing` (this item is being retried: attempts, last error, next try)."""

    state: str
    attempts: int = 0
    last_error: str | None = None
    next_attempt_at: datetime | None = None


class OutcomeSentEvent(_Event, tag="outcome_sent"):
    """The outcome was put on the platform's feed; `webhook` when webhooks are on."""

    feed_id: int
    delivery_id: str
    state: str
    outcome: str | None
    contact: str | None
    amount_prevented: int | None
    webhook: WebhookDelivery | None


class ChangedEvent(_Event, tag="changed"):
    """Any other audited change (an edited field, a conflict's side applied)."""

    action: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


TimelineEvent = (
    IssuedEvent
    | RoutedEvent
    | DispatchedEvent
    | ReassignedEvent
    | ReturnedEvent
    | CancelledEvent
    | DeadlineChangedEvent
    | VisitEvent
    | ReviewEvent
    | ConflictEvent
    | ConflictResolvedEvent
    | EscalatedEvent
    | OutcomeSentEvent
    | ChangedEvent
)


class Timeline(msgspec.Struct, kw_only=True):
    warning_id: int
    state: str
    events: list[TimelineEvent]

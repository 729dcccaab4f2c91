"""A warning's timeline, built from what the store already keeps about it: the audit
chain (routing, dispatch, reassignment, cancellation, deadlines, reviews, edits), the
visit log, conflicts, escalation steps and the outcome feed with its webhook cursor.

Each record becomes one event (an ingest: issued, routed and, with an officer, dispatched).
Audit entries that a richer record already tells (`visit.record`: the visit log entry;
`warning.escalate`: the escalation step) are left out, so nothing is told twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from server.auth.principal import Principal
from server.clock import parse_iso
from server.loop.service import WEBHOOK
from server.settings import Settings
from server.store.history_records import WarningHistory
from server.store.interface import Store
from server.store.records import AuditEntry
from server.store.supervision_records import OutcomeFeedRecord, WebhookState
from server.store.visit_records import VisitRecord
from server.timeline.schemas import (
    ActorOut,
    CancelledEvent,
    ChangedEvent,
    ConflictEvent,
    ConflictResolvedEvent,
    DeadlineChangedEvent,
    DispatchedEvent,
    EscalatedEvent,
    IssuedEvent,
    OutcomeSentEvent,
    ReassignedEvent,
    ReturnedEvent,
    ReviewEvent,
    RoutedEvent,
    Timeline,
    TimelineEvent,
    VisitEvent,
    WebhookDelivery,
)
from sync.protocol import Position

# Told by a richer record of their own (see the module's docstring).
TOLD_ELSEWHERE = frozenset({"visit.record", "warning.escalate"})
# The webhook's cursor, and the feed id of the item it is retrying (None: none).
_Webhook = tuple[WebhookState, int | None]


class TimelineService:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    def timeline(self, principal: Principal, warning_id: int) -> Timeline:
        """Officers read their own warnings' timelines, supervisors those within their
        jurisdiction; any other answers 404 like a missing warning."""
        history = self.store.warning_history(warning_id)
        principal.check_covers(history.warning if history else None, f"warning {warning_id}")
        assert history is not None  # noqa: S101 - check_covers raised otherwise
        return Timeline(
            warning_id=history.warning.id,
            state=history.warning.state.value,
            events=_Builder(history, self._webhook()).events(),
        )

    def _webhook(self) -> _Webhook | None:
        """The webhook's cursor, with the feed id of the item being retried, if any:
        items go out in feed order, one at a time, so it is the one after the cursor."""
        if not self.settings.webhook_url:
            return None
        state = self.store.webhook_state(WEBHOOK)
        following = self.store.outcome_feed(None, state.last_id, 1)
        return state, following[0].id if state.attempts and following else None


class _Builder:
    def __init__(self, history: WarningHistory, webhook: _Webhook | None) -> None:
        self.h = history
        self.names = history.user_names
        self.webhook = webhook

    def events(self) -> list[TimelineEvent]:
        w = self.h.warning
        out: list[TimelineEvent] = [
            IssuedEvent(
                at=w.issued_at,
                actor=self.actor(w.client_id),
                platform_id=w.platform_id,
                source=w.source,
                fraud_type=w.fraud_type,
                risk_level=w.risk_level,
                deadline_at=w.deadline_at,
            )
        ]
        for entry in self.h.audit:
            if entry.action not in TOLD_ELSEWHERE:
                out += self.from_audit(entry)
        superseded_by = {v.supersedes: v.entry_id for v in self.h.visits if v.supersedes}
        out += [self.visit(v, superseded_by.get(v.entry_id)) for v in self.h.visits]
        for c in self.h.conflicts:
            out.append(
                ConflictEvent(
                    at=c.created_at,
                    actor=None,
                    conflict_id=c.id,
                    rule=c.rule,
                    entry_id=c.entry_id,
                    officer_ids=c.officer_ids,
                    winner=c.winner,
                    loser=c.loser,
                    status=c.status,
                )
            )
            if c.resolved_at is not None:
                out.append(
                    ConflictResolvedEvent(
                        at=c.resolved_at,
                        actor=self.actor(c.resolved_by),
                        conflict_id=c.id,
                        rule=c.rule,
                        resolution=c.resolution,
                        note=c.note,
                    )
                )
        out += [
            EscalatedEvent(at=e.at, actor=None, missing=e.kind, level=e.level, due_at=e.due_at)
            for e in self.h.escalations
        ]
        out += [self.outcome(o) for o in self.h.outcomes]
        # Stable: what one transaction recorded keeps the order it was recorded in.
        return sorted(out, key=lambda e: e.at)

    def actor(self, user_id: int | None, device_id: str | None = None) -> ActorOut | None:
        if user_id is None and device_id is None:
            return None
        return ActorOut(
            user_id=user_id,
            name=self.names.get(user_id) if user_id is not None else None,
            device_id=device_id,
        )

    def name(self, user_id: Any) -> str | None:
        return self.names.get(user_id) if isinstance(user_id, int) else None

    def from_audit(self, entry: AuditEntry) -> list[TimelineEvent]:
        at, actor = entry.at, self.actor(entry.actor_user_id, entry.actor_device_id)
        before, after = entry.before or {}, entry.after or {}
        action = entry.action
        if action == "warning.ingest":
            officer = after.get("officer_id")
            routed: list[TimelineEvent] = [
                RoutedEvent(
                    at=at,
                    actor=actor,
                    queue=str(after.get("queue")),
                    county_id=after.get("county_id"),
                    station_id=after.get("station_id"),
                    officer_id=officer,
                    officer_name=self.name(officer),
                    routing_reason=after.get("routing_reason"),
                )
            ]
            if isinstance(officer, int):
                routed.append(
                    DispatchedEvent(
                        at=at,
                        actor=actor,
                        officer_id=officer,
                        officer_name=self.name(officer),
                        reason=None,
                    )
                )
            return routed
        if action == "warning.reassign":
            officer, previous = after.get("officer_id"), before.get("officer_id")
            if previous is None and isinstance(officer, int):
                return [
                    DispatchedEvent(
                        at=at,
                        actor=actor,
                        officer_id=officer,
                        officer_name=self.name(officer),
                        reason=after.get("routing_reason"),
                    )
                ]
            return [
                ReassignedEvent(
                    at=at,
                    actor=actor,
                    from_officer_id=previous,
                    from_officer_name=self.name(previous),
                    officer_id=officer,
                    officer_name=self.name(officer),
                    reason=after.get("routing_reason"),
                )
            ]
        if action == "warning.return":
            previous = before.get("officer_id")
            return [
                ReturnedEvent(
                    at=at,
                    actor=actor,
                    from_officer_id=previous,
                    from_officer_name=self.name(previous),
                    queue=after.get("queue"),
                    reason=after.get("routing_reason"),
                )
            ]
        if action == "warning.cancel":
            return [CancelledEvent(at=at, actor=actor, reason=after.get("cancel_reason"))]
        if action == "warning.deadline":
            return [
                DeadlineChangedEvent(
                    at=at,
                    actor=actor,
                    before=_time(before.get("deadline_at")),
                    after=_time(after.get("deadline_at")),
                )
            ]
        if action in ("visit.approved", "visit.returned"):
            return [
                ReviewEvent(
                    at=at,
                    actor=actor,
                    entry_id=after.get("entry_id"),
                    decision=str(after.get("decision") or action.removeprefix("visit.")),
                    reasons=list(after.get("reasons") or []),
                    note=after.get("note"),
                )
            ]
        return [
            ChangedEvent(at=at, actor=actor, action=action, before=entry.before, after=entry.after)
        ]

    def visit(self, v: VisitRecord, superseded_by: str | None) -> VisitEvent:
        position = (
            Position(lat=v.lat, lon=v.lon, accuracy_m=v.accuracy_m or 0.0)
            if v.lat is not None and v.lon is not None
            else None
        )
        return VisitEvent(
            at=v.recorded_at,
            actor=self.actor(v.officer_id),
            entry_id=v.entry_id,
            officer_id=v.officer_id,
            officer_name=self.name(v.officer_id),
            received_at=v.received_at,
            arrived_at=v.arrived_at,
            contact=v.contact,
            outcome=v.outcome,
            amount_prevented=v.amount_prevented,
            notes=v.notes,
            position=position,
            photos=v.photos,
            flags=v.flags,
            supersedes=v.supersedes,
            superseded_by=superseded_by,
            completed=v.completed,
        )

    def outcome(self, o: OutcomeFeedRecord) -> OutcomeSentEvent:
        p = o.payload
        return OutcomeSentEvent(
            at=o.at,
            actor=None,
            feed_id=o.id,
            delivery_id=o.delivery_id,
            state=p.state,
            outcome=p.outcome,
            contact=p.contact,
            amount_prevented=p.amount_prevented,
            webhook=self.delivery(o.id),
        )

    def delivery(self, feed_id: int) -> WebhookDelivery | None:
        if self.webhook is None:
            return None
        state, retrying_id = self.webhook
        if feed_id <= state.last_id:
            return WebhookDelivery(state="delivered")
        if feed_id == retrying_id:
            return WebhookDelivery(
                state="failing",
                attempts=state.attempts,
                last_error=state.last_error,
                next_attempt_at=state.next_attempt_at,
            )
        return WebhookDelivery(state="pending")


def _time(value: Any) -> datetime | None:
    return parse_iso(value) if isinstance(value, str) else None

from __future__ import annotations

from datetime import datetime

import msgspec


class OutcomeItem(msgspec.Struct, kw_only=True):
    """A warning reached a final state (or its outcome changed once final).

    `delivery_id` names this event for good: a webhook retry and the feed carry the same
    one, so the platform drops any it has seen. A later correction is a new event."""

    feed_id: int
    delivery_id: str
    at: datetime
    warning_id: int
    platform_id: str
    state: str
    outcome: str | None
    contact: str | None
    officer_id: int | None
    amount_prevented: int | None
    first_contact_at: datetime | None
    closed_at: datetime | None
    cancel_reason: str | None
    county_id: str | None
    station_id: str | None


class OutcomePage(msgspec.Struct, kw_only=True):
    items: list[OutcomeItem]
    cursor: str
    has_more: bool


class WebhookStatus(msgspec.Struct, kw_only=True):
    configured: bool
    delivered: int
    last_delivered_feed_id: int
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None

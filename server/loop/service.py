"""The closed loop back to the warning platform: a feed it polls, and webhooks.

Every outcome is written to `outcome_feed` in the same transaction that closed the
warning (server/store/outcome_feed.py), so the feed is complete whatever happens to the
network. The platform polls it with a cursor (`GET /api/v1/platform/outcomes`); with
BEATSYNC_WEBHOOK_URL set, the server also POSTs each item, in feed order, one at a time:

- body: the OutcomeItem as JSON; headers `X-Beatsync-Delivery` (the delivery id),
  `X-Beatsync-Timestamp` (Unix seconds) and `X-Beatsync-Signature`:
  `sha256=` + hex HMAC-SHA256 over `<timestamp>.<body>` with BEATSYNC_WEBHOOK_SECRET;
- a 2xx answer delivers the item; anything else (or no answer) is retried, the same item
  with the same delivery id, after 5 s, 10 s, 20 s ... at most BEATSYNC_WEBHOOK_MAX_BACKOFF;
  later items wait behind it, so the platform sees outcomes in order and a platform down
  for a day gets everything when it returns. The receiver drops repeats by delivery id.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from datetime import timedelta

import anyio
import httpx
import msgspec
from msgspec.structs import replace

from server.errors import InputError
from server.leases import JobLease
from server.logs import get_logger
from server.loop.schemas import OutcomeItem, OutcomePage, WebhookStatus
from server.metrics import Metrics
from server.settings import Settings
from server.store.interface import Store
from server.store.supervision_records import OutcomeFeedRecord

log = get_logger("beatsync.loop")
WEBHOOK = "platform"
BASE_BACKOFF_SECONDS = 5
BATCH = 100


def item_of(row: OutcomeFeedRecord) -> OutcomeItem:
    return msgspec.convert(
        {
            **msgspec.structs.asdict(row.payload),
            "feed_id": row.id,
            "delivery_id": row.delivery_id,
            "at": row.at,
        },
        OutcomeItem,
        strict=False,
    )


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    if not cursor.isdigit() or len(cursor) > 15:
        raise InputError("cursor is not one this server gave out", field="cursor")
    return int(cursor)


class FeedService:
    def __init__(self, store: Store) -> None:
        self.store = store

    def page(self, client_id: int, cursor: str | None, limit: int) -> OutcomePage:
        after = decode_cursor(cursor)
        rows = self.store.outcome_feed(client_id, after, limit + 1)
        more = len(rows) > limit
        items = [item_of(r) for r in rows[:limit]]
        return OutcomePage(
            items=items, cursor=str(items[-1].feed_id if items else after), has_more=more
        )


class WebhookSender:
    """Delivers the feed to BEATSYNC_WEBHOOK_URL; `transport` lets tests swap the network."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        transport: httpx.BaseTransport | None = None,
        *,
        metrics: Metrics | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.transport = transport
        self.metrics = metrics

    def status(self) -> WebhookStatus:
        s = self.store.webhook_state(WEBHOOK)
        return WebhookStatus(
            configured=bool(self.settings.webhook_url),
            delivered=s.delivered,
            last_delivered_feed_id=s.last_id,
            attempts=s.attempts,
            next_attempt_at=s.next_attempt_at,
            last_error=s.last_error,
        )

    def deliver_once(self) -> int:
        """One pass: deliver items in order until one fails or none is left; returns how
        many were delivered. Does nothing before a failed item's retry time."""
        if not self.settings.webhook_url:
            return 0
        state = self.store.webhook_state(WEBHOOK)
        now = self.store.clock.now()
        if state.next_attempt_at and now < state.next_attempt_at:
            return 0
        delivered = 0
        with httpx.Client(transport=self.transport, timeout=10) as client:
            while True:
                rows = self.store.outcome_feed(None, state.last_id, BATCH)
                if not rows:
                    return delivered
                for row in rows:
                    error = self._post(client, row)
                    if self.metrics is not None:
                        self.metrics.webhook_result(error is None)
                    if error is None:
                        state = replace(
                            state,
                            last_id=row.id,
                            attempts=0,
                            next_attempt_at=None,
                            last_error=None,
                            delivered=state.delivered + 1,
                        )
                        delivered += 1
                        self.store.save_webhook_state(state)
                        continue
                    attempts = state.attempts + 1
                    wait = min(
                        BASE_BACKOFF_SECONDS * 2 ** min(attempts - 1, 30),
                        self.settings.webhook_max_backoff_seconds,
                    )
                    state = replace(
                        state,
                        attempts=attempts,
                        next_attempt_at=now + timedelta(seconds=wait),
                        last_error=error,
                    )
                    self.store.save_webhook_state(state)
                    log.warning(
                        "webhook_failed",
                        delivery_id=row.delivery_id,
                        attempts=attempts,
                        error=error,
                        retry_in_s=wait,
                    )
                    return delivered

    def _post(self, client: httpx.Client, row: OutcomeFeedRecord) -> str | None:
        body = msgspec.json.encode(item_of(row))
        timestamp = str(int(self.store.clock.now().timestamp()))
        try:
            response = client.post(
                self.settings.webhook_url,
                content=body,
                headers={
                    "Content-Type": "application/json",
                    "X-Beatsync-Delivery": row.delivery_id,
                    "X-Beatsync-Timestamp": timestamp,
                    "X-Beatsync-Signature": sign(self.settings.webhook_secret, timestamp, body),
                },
            )
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}"
        if 200 <= response.status_code < 300:
            return None
        return f"HTTP {response.status_code}"


async def run_forever(sender: WebhookSender, lease: JobLease) -> None:
    """A pass every interval, while this process holds the job's lease."""
    while True:
        try:
            await anyio.to_thread.run_sync(lease.run_pass, sender.deliver_once)
        except Exception:
            log.exception("webhook_pass_failed")
        await asyncio.sleep(sender.settings.webhook_interval_seconds)

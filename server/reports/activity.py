"""The supervisors' activity stream: "something in your jurisdiction changed; refetch".

Every write that matters to a figure (a warning received, routed or dispatched, a visit,
a review, an escalation, a cancellation) appends to the audit log with the city, county
and station it belongs to, so the store's audit listener is the one place that sees them
all, including warnings waiting in a station's queue with no officer yet. A burst of
commits while the stream is busy becomes one event: the console only needs to know that
its figures are stale, never what changed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import aclosing

import anyio
from msgspec import json

from server.escalation.notifier import UnitNotifier
from server.reports.schemas import ActivityEvent
from server.store.interface import Store
from server.store.records import UnitKey
from server.sync.events import follow


def changed_event(audit_id: int) -> bytes:
    return b"id: %d\nevent: changed\ndata: %s\n\n" % (
        audit_id,
        json.encode(ActivityEvent(audit_id=audit_id)),
    )


async def activity_stream(
    store: Store,
    notifier: UnitNotifier,
    key: UnitKey,
    *,
    since: int | None,
    still_allowed: Callable[[], bool],
    heartbeat: float,
) -> AsyncIterator[bytes]:
    """`changed` events for one unit; ends when `still_allowed` says no.

    With `since` (Last-Event-ID), a change missed while disconnected is told at once;
    without it only changes after connecting count, as the page has just loaded anyway.
    """
    level, unit = key
    with notifier.subscribe(key) as subscription:
        sent = since or 0
        if since is not None:
            latest = await anyio.to_thread.run_sync(store.latest_audit_id, f"{level}_id", unit)
            subscription.advance(latest)
        # Closed with this stream, not left to the collector.
        async with aclosing(
            follow(subscription, sent, changed_event, still_allowed, heartbeat)
        ) as body:
            async for chunk in body:
                yield chunk

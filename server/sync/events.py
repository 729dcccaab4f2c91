"""Tell connected devices, within a second, that their scope changed; they then pull.

The store calls `ScopeNotifier.listener` on the writing thread after each commit that
changed officers' scopes. The listener only hands the commit over to the event loop; there
each subscription of a touched officer has its seq raised and its waiter, if any, woken.
A subscription is a few slots and at most one future, so an idle stream costs the
notifier next to nothing; the HTTP connection around it is what costs memory.

Only the newest seq is kept per subscription: a burst of commits while a stream is busy
sending becomes one event, which is all a device needs to know before pulling.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator
from contextlib import aclosing, contextmanager

from sync.protocol import ScopeEvent, encoder

# Sent first: tells EventSource how long to wait before reconnecting, and pushes the
# response headers through any buffering proxy at once.
RETRY_MS = 3000
_HELLO = b"retry: %d\n\n" % RETRY_MS
_PING = b": ping\n\n"


class Subscription:
    __slots__ = ("_waiter", "officer_id", "seq")

    def __init__(self, officer_id: int) -> None:
        self.officer_id = officer_id
        # The newest head seq of a commit that touched this officer, as far as we know.
        self.seq = 0
        self._waiter: asyncio.Future[None] | None = None

    def advance(self, seq: int) -> None:
        """Raise the known seq; wake the waiter. Event-loop thread only."""
        if seq <= self.seq:
            return
        self.seq = seq
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def changed_after(self, seen: int, timeout: float) -> int:
        """The known seq once it passes `seen`, or whatever it is after `timeout` seconds."""
        if self.seq > seen or timeout <= 0:
            return self.seq
        waiter = self._waiter = asyncio.get_running_loop().create_future()
        try:
            async with asyncio.timeout(timeout):
                await waiter
        except TimeoutError:
            pass
        finally:
            self._waiter = None
        return self.seq


class ScopeNotifier:
    """Subscriptions by officer; fed by the store's scope-change listener."""

    def __init__(self) -> None:
        self._by_officer: dict[int, set[Subscription]] = {}
        # Captured on the first subscription rather than at startup: the in-process test
        # transport runs no lifespan, and uvicorn serves from one loop per process anyway.
        self._loop: asyncio.AbstractEventLoop | None = None

    def listener(self, officer_ids: frozenset[int], head_seq: int) -> None:
        """The store's callback, on the writing thread: hand over, never touch state."""
        loop = self._loop
        if loop is None:
            return
        try:
            loop.call_soon_threadsafe(self._fire, officer_ids, head_seq)
        except RuntimeError:
            # The loop has closed (server stopping): nobody is left to tell, and a raise
            # here would surface in the writer's request after its commit succeeded.
            return

    def _fire(self, officer_ids: frozenset[int], head_seq: int) -> None:
        by_officer = self._by_officer
        for officer_id in officer_ids:
            subscriptions = by_officer.get(officer_id)
            if subscriptions:
                for subscription in subscriptions:
                    subscription.advance(head_seq)

    @contextmanager
    def subscribe(self, officer_id: int) -> Iterator[Subscription]:
        """Listen for this officer's scope changes for the life of the block.

        Subscribe before reading the officer's latest change: a commit between the read
        and the subscription would otherwise go unnoticed until the next one.
        """
        self._bind(asyncio.get_running_loop())
        subscription = Subscription(officer_id)
        subscriptions = self._by_officer.setdefault(officer_id, set())
        subscriptions.add(subscription)
        try:
            yield subscription
        finally:
            subscriptions.discard(subscription)
            if not subscriptions and self._by_officer.get(officer_id) is subscriptions:
                del self._by_officer[officer_id]

    def _bind(self, loop: asyncio.AbstractEventLoop) -> None:
        current = self._loop
        if current is loop:
            return
        if current is not None and not current.is_closed() and self._by_officer:
            raise RuntimeError("scope notifications are served from one event loop per app")
        self._loop = loop

    def subscriber_count(self, officer_id: int | None = None) -> int:
        if officer_id is not None:
            return len(self._by_officer.get(officer_id, ()))
        return sum(len(s) for s in self._by_officer.values())


def scope_event(seq: int) -> bytes:
    return b"id: %d\nevent: scope_changed\ndata: %s\n\n" % (
        seq,
        encoder.encode(ScopeEvent(seq=seq)),
    )


async def event_stream(
    notifier: ScopeNotifier,
    officer_id: int,
    *,
    since: int | None,
    latest_change: Callable[[int], int],
    still_allowed: Callable[[], bool],
    heartbeat: float,
) -> AsyncIterator[bytes]:
    """The body of one officer's event stream; ends when `still_allowed` says no.

    `since` is the last event id the device saw (Last-Event-ID); if its scope changed
    after that, it hears so at once. Without it, only changes after connecting count:
    a device pulls when it connects anyway.
    """
    with notifier.subscribe(officer_id) as subscription:
        latest = latest_change(officer_id)
        subscription.advance(latest)
        sent = latest if since is None else since
        # Closed with this stream, not left to the collector.
        async with aclosing(
            follow(subscription, sent, scope_event, still_allowed, heartbeat)
        ) as body:
            async for chunk in body:
                yield chunk


async def follow(
    subscription: Subscription,
    sent: int,
    render: Callable[[int], bytes],
    still_allowed: Callable[[], bool],
    heartbeat: float,
) -> AsyncGenerator[bytes, None]:
    """The body of a stream over one subscription: the reconnect hint, then an event
    (`render` of the newest number) whenever the subscription passes `sent`, and a ping
    each `heartbeat` seconds; ends when `still_allowed` says no."""
    yield _HELLO
    loop = asyncio.get_running_loop()
    next_beat = loop.time() + heartbeat
    while True:
        newest = await subscription.changed_after(sent, next_beat - loop.time())
        if newest > sent:
            sent = newest
            yield render(newest)
        if loop.time() >= next_beat:
            # A revoked phone or an expired token loses its stream here, within one
            # heartbeat; the reconnect then meets the same refusal as any request.
            if not still_allowed():
                return
            next_beat = loop.time() + heartbeat
            yield _PING

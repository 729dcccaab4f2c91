"""Tell supervisors' open streams, at once, that something reached their unit.

Like server/sync/events.py, but keyed by unit. Two instances serve two streams: for
escalations, a step of level `station` goes to that station's supervisors, `county` to the
county's, `city` to the city's (the escalation pass calls `publish` from its worker
thread); for the supervisors' activity stream, the store's audit listener names every
unit a commit's audit entries belong to (`listener`). Subscriptions are woken on the
event loop and then read the store, so a reconnecting stream (Last-Event-ID) catches up.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from server.store.supervision_records import EscalationStep
from server.sync.events import Subscription

Key = tuple[str, str]  # (level, unit id)
LEVEL_COLUMN = {"station": "station_id", "county": "county_id", "city": "city_id"}


def step_key(step: EscalationStep) -> Key | None:
    unit: str | None = getattr(step, LEVEL_COLUMN[step.level])
    return (step.level, unit) if unit else None


class UnitNotifier:
    def __init__(self) -> None:
        self._subs: dict[Key, set[Subscription]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    def publish(self, steps: Iterable[EscalationStep]) -> None:
        """Any thread: wake the streams the steps go to, with the newest step id."""
        newest: dict[Key, int] = {}
        for step in steps:
            key = step_key(step)
            if key is not None:
                newest[key] = max(newest.get(key, 0), step.id)
        self._hand_over(newest)

    def listener(self, units: frozenset[Key], newest_id: int) -> None:
        """The store's audit callback, on the writing thread: hand over, never touch state."""
        self._hand_over(dict.fromkeys(units, newest_id))

    def _hand_over(self, newest: dict[Key, int]) -> None:
        loop = self._loop
        if not newest or loop is None:
            return
        try:
            loop.call_soon_threadsafe(self._fire, newest)
        except RuntimeError:
            return

    def _fire(self, newest: dict[Key, int]) -> None:
        for key, step_id in newest.items():
            for subscription in self._subs.get(key, ()):
                subscription.advance(step_id)

    @contextmanager
    def subscribe(self, key: Key) -> Iterator[Subscription]:
        self._loop = asyncio.get_running_loop()
        subscription = Subscription(0)
        subs = self._subs.setdefault(key, set())
        subs.add(subscription)
        try:
            yield subscription
        finally:
            subs.discard(subscription)
            if not subs:
                self._subs.pop(key, None)

    def subscriber_count(self) -> int:
        return sum(len(s) for s in self._subs.values())

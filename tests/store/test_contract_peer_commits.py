"""What one process writes, the listeners of another process on the same database hear
within a second: the phones' and supervisors' event streams depend on it once beatsync
runs as several processes or nodes (server/store/peer_commits.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from server.clock import ManualClock
from server.store.interface import Store
from server.store.records import UnitKey
from server.store.supervision_records import EscalationStep
from tests.support.city import TinyCity, new_warning
from tests.support.contract import ACTOR, LIMITS, Opener

T = TypeVar("T")


class Heard:
    """Everything a store's three listeners were told, from the watcher's thread."""

    def __init__(self, store: Store) -> None:
        self.scopes: list[tuple[frozenset[int], int]] = []
        self.audit: list[tuple[frozenset[UnitKey], int]] = []
        self.steps: list[EscalationStep] = []
        self.news = threading.Event()
        store.on_scope_change(lambda officers, seq: self._add(self.scopes, (officers, seq)))
        store.on_audit(lambda units, newest: self._add(self.audit, (units, newest)))
        store.on_escalation(lambda steps: [self._add(self.steps, s) for s in steps])

    def _add(self, into: list[T], item: T) -> None:
        into.append(item)
        self.news.set()

    def wait(self, condition: Callable[[], bool], seconds: float = 1.0) -> float:
        """Seconds until condition() held; fails past `seconds`."""
        started = time.monotonic()
        while not condition():
            assert time.monotonic() - started < seconds, "not heard within a second"
            self.news.wait(0.01)
            self.news.clear()
        return time.monotonic() - started


@pytest.fixture
def other_process(
    store_opener: Opener, tmp_path: Path, clock: ManualClock, tiny: TinyCity
) -> Iterator[Store]:
    """The same database opened again, as a second process does."""
    store = store_opener(tmp_path, clock)
    yield store
    store.close()


def test_another_process_hears_of_new_work_for_its_officers_with_their_own_seq(
    any_store: Store, tiny: TinyCity, other_process: Store
) -> None:
    heard = Heard(other_process)
    platform, o1, o3 = tiny.id("platform"), tiny.id("o1"), tiny.id("o3")
    [(first, _)] = any_store.ingest_warnings([new_warning(platform, "A", o1)], ACTOR)
    [(second, _)] = any_store.ingest_warnings(
        [new_warning(platform, "B", o3, grid_code="411602002001")], ACTOR
    )
    # The watcher tells the scope listeners before the audit listeners, from its own
    # thread: wait for both, or the audit half races the assertion below.
    heard.wait(
        lambda: (
            {o1, o3} <= {o for officers, _ in heard.scopes for o in officers}
            and ("city", "411600") in {u for units, _ in heard.audit for u in units}
        )
    )
    # Each officer is told the seq of their own change: o1's stream must not wake again
    # for o3's warning.
    told = {o: seq for officers, seq in heard.scopes for o in officers}
    assert told == {o1: first.seq, o3: second.seq}
    units = {u for units, _ in heard.audit for u in units}
    assert {("station", "411602-01"), ("county", "411602"), ("city", "411600")} <= units


def test_another_process_hears_of_escalation_steps_by_unit(
    any_store: Store, tiny: TinyCity, other_process: Store, clock: ManualClock
) -> None:
    heard = Heard(other_process)
    any_store.ingest_warnings([new_warning(tiny.id("platform"), "A", tiny.id("o1"))], ACTOR)
    clock.advance(hours=3)
    steps = any_store.escalate(LIMITS, 30)
    assert steps
    heard.wait(lambda: len(heard.steps) == len(steps))
    # Each step once, with what routes it to its unit's supervisors.
    fields = ("id", "level", "city_id", "county_id", "station_id")
    assert sorted(tuple(getattr(s, f) for f in fields) for s in heard.steps) == sorted(
        tuple(getattr(s, f) for f in fields) for s in steps
    )


def test_a_new_listener_hears_only_what_comes_after_it(
    any_store: Store, tiny: TinyCity, other_process: Store
) -> None:
    # What was written before is for a reconnecting stream to read, not to be told again.
    any_store.ingest_warnings([new_warning(tiny.id("platform"), "A", tiny.id("o1"))], ACTOR)
    time.sleep(0.3)
    heard = Heard(other_process)
    time.sleep(0.5)
    assert heard.scopes == []
    assert heard.audit == []
    assert heard.steps == []

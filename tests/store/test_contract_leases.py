"""The store contract, leases: which process runs a background job now (server/leases.py).
Through the interface alone, on every implementation (tests/store/conftest.py)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from server.clock import ManualClock
from server.store.interface import Store

TTL = timedelta(seconds=180)
Opener = Callable[[Path, ManualClock], Store]


def test_a_free_lease_is_taken(any_store: Store) -> None:
    assert any_store.take_lease("escalation", "a", TTL)


def test_a_held_lease_is_refused_to_another_holder(any_store: Store, clock: ManualClock) -> None:
    assert any_store.take_lease("escalation", "a", TTL)
    assert not any_store.take_lease("escalation", "b", TTL)
    clock.advance(seconds=179)
    assert not any_store.take_lease("escalation", "b", TTL)
    # Leases are by name: another job's is free.
    assert any_store.take_lease("maintenance", "b", TTL)


def test_the_holder_renews_its_lease_from_now(any_store: Store, clock: ManualClock) -> None:
    assert any_store.take_lease("escalation", "a", TTL)
    clock.advance(seconds=120)
    assert any_store.take_lease("escalation", "a", TTL)  # now until 120 + 180 s
    clock.advance(seconds=120)  # past the first term, inside the renewed one
    assert not any_store.take_lease("escalation", "b", TTL)
    assert any_store.take_lease("escalation", "a", TTL)


def test_an_expired_lease_is_taken_over(any_store: Store, clock: ManualClock) -> None:
    assert any_store.take_lease("escalation", "a", TTL)
    clock.advance(seconds=180)  # the holder went quiet for the whole term
    assert any_store.take_lease("escalation", "b", TTL)
    # The former holder comes back: it is refused, as anyone would be.
    assert not any_store.take_lease("escalation", "a", TTL)
    clock.advance(seconds=60)
    assert any_store.take_lease("escalation", "b", TTL)


def test_a_released_lease_is_taken_by_another_at_once(any_store: Store) -> None:
    assert any_store.take_lease("escalation", "a", TTL)
    any_store.release_lease("escalation", "b")  # not b's: nothing changes
    assert not any_store.take_lease("escalation", "b", TTL)
    any_store.release_lease("escalation", "a")
    assert any_store.take_lease("escalation", "b", TTL)
    any_store.release_lease("maintenance", "a")  # never taken: nothing to do


def take_at_once(stores: list[Store], name: str) -> list[bool]:
    """Each store asks for lease `name` (as holder-<its index>) at the same moment."""
    start = threading.Barrier(len(stores))
    got = [False] * len(stores)

    def take(i: int) -> None:
        start.wait()
        got[i] = stores[i].take_lease(name, f"holder-{i}", TTL)

    threads = [threading.Thread(target=take, args=(i,)) for i in range(len(stores))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return got


def test_two_stores_on_one_database_contend_for_one_lease(
    store_opener: Opener, tmp_path: Path, clock: ManualClock
) -> None:
    """Two processes open the same database; of the two asking at the same moment, one
    gets the lease, and the other sees it held."""
    stores = [store_opener(tmp_path, clock), store_opener(tmp_path, clock)]
    try:
        for attempt in range(20):
            name = f"job-{attempt}"
            got = take_at_once(stores, name)
            assert sorted(got) == [False, True]
            winner = got.index(True)
            loser = 1 - winner
            assert stores[winner].take_lease(name, f"holder-{winner}", TTL)
            assert not stores[loser].take_lease(name, f"holder-{loser}", TTL)
    finally:
        for store in stores:
            store.close()

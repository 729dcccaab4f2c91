"""Background jobs run once, not once per process: two apps on one database, as two
processes of `beatsync serve`, run each periodic pass in one of them only."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from functools import partial

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from server.app import create_app
from server.auth.passwords import Passwords
from server.clock import ManualClock
from server.escalation import service as escalation
from server.leases import JobLease, lease_ttl, new_holder
from server.settings import Settings
from server.store.interface import Store
from server.store.opening import open_store
from tests.support.city import TinyCity, new_warning
from tests.support.contract import ACTOR


@pytest.fixture
def apps(
    settings: Settings, store: Store, database: str, clock: ManualClock, passwords: Passwords
) -> Iterator[list[Litestar]]:
    """Two apps, each with its own store on the same database: two processes."""
    other = open_store(database, clock)
    try:
        yield [
            create_app(settings, store=s, clock=clock, passwords=passwords) for s in (store, other)
        ]
    finally:
        other.close()


def lease_of(app: Litestar, job: str) -> JobLease:
    lease: JobLease = app.state.leases[job]
    return lease


def test_a_holder_is_named_by_host_and_process_and_is_new_each_time() -> None:
    first, second = new_holder(), new_holder()
    assert first != second
    assert first.rsplit(":", 1)[0] == second.rsplit(":", 1)[0]


def test_a_lease_lasts_a_few_intervals_and_never_under_half_a_minute() -> None:
    assert lease_ttl(60) == timedelta(minutes=3)
    assert lease_ttl(3600) == timedelta(hours=3)
    assert lease_ttl(5) == timedelta(seconds=30)


@pytest.mark.parametrize("job", ["escalation", "maintenance", "webhooks"])
def test_each_period_one_app_runs_the_pass_until_it_is_gone(
    apps: list[Litestar], settings: Settings, clock: ManualClock, job: str
) -> None:
    leases = [lease_of(app, job) for app in apps]
    assert leases[0].holder != leases[1].holder
    interval = {
        "escalation": settings.escalation_interval_seconds,
        "maintenance": settings.maintenance_interval_seconds,
        "webhooks": settings.webhook_interval_seconds,
    }[job]
    ran: list[int] = []
    for _ in range(5):
        for i, lease in enumerate(leases):
            lease.run_pass(partial(ran.append, i))
        clock.advance(seconds=interval)
    assert ran == [0] * 5  # the first to ask keeps it, renewing it each pass
    assert (leases[0].held, leases[1].held) == (True, False)

    # The holder dies without a word: the other waits out the lease, then takes over.
    ran.clear()
    last_renewed = clock.now() - timedelta(seconds=interval)
    clock.set(last_renewed + leases[0].ttl - timedelta(seconds=1))
    assert leases[1].run_pass(partial(ran.append, 1)) is None
    clock.set(last_renewed + leases[0].ttl)
    leases[1].run_pass(partial(ran.append, 1))
    assert ran == [1]
    assert not leases[0].take()  # back from the dead: it lost the lease
    assert leases[0].held is False


def test_a_holder_that_stops_gives_its_lease_up_at_once(
    apps: list[Litestar], clock: ManualClock
) -> None:
    first, second = (lease_of(app, "escalation") for app in apps)
    assert first.take()
    assert not second.take()
    first.release()
    assert first.held is False
    assert second.take()  # no wait for the lease to expire
    first.release()  # not first's any more: nothing changes
    assert not first.take()


def test_an_escalation_due_is_recorded_once_by_one_of_two_apps(
    apps: list[Litestar], store: Store, settings: Settings, city: TinyCity, clock: ManualClock
) -> None:
    store.ingest_warnings([new_warning(city.id("platform"), "late")], ACTOR)
    clock.advance(hours=6)  # every step of both deadlines is due
    counts = []
    for app in apps:
        the_store: Store = app.state.store
        one_pass = partial(escalation.run_once, the_store, settings, None)
        counts.append(lease_of(app, "escalation").run_pass(one_pass))
    assert counts == [6, None]  # one ran, the other did not run at all
    audited = store.list_audit(entity="warning", limit=100)
    assert [e.action for e in audited].count("warning.escalate") == 6


def wait_for(condition: Callable[[], bool], seconds: float = 5) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the background pass never came"
        time.sleep(0.01)


def test_started_apps_share_the_jobs_and_a_stopped_one_hands_them_over(
    apps: list[Litestar], clock: ManualClock
) -> None:
    """Through the apps' own lifespans: the first started runs the jobs, the second finds
    them held; stopping the first frees them for the second at once."""
    first, second = ([lease_of(app, job) for job in ("maintenance", "escalation")] for app in apps)
    with TestClient(apps[0]):
        wait_for(lambda: all(lease.held for lease in first))
        with TestClient(apps[1]):
            wait_for(lambda: all(lease.held is False for lease in second))
            assert all(lease.held for lease in first)
        assert all(lease.held for lease in first)  # the second stopping changed nothing
    assert all(lease.held is False for lease in first)
    assert all(lease.take() for lease in second)  # the clock never moved

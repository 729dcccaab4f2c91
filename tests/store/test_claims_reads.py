"""Reading claims costs what the task or the officer holds, not every claim on record: a
task's photos and an officer's pending uploads are read by their own index. Measured in
SQLite's own steps (a progress handler), which do not depend on the machine's speed."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import closing

import pytest

from server.clock import ManualClock
from server.store.interface import Store
from tests.store.test_claims import (
    PHOTO,
    a_warning_of,
    an_old_stored_photo,
    push_visit_naming_the_photo,
)
from tests.support.backend import ON_POSTGRES
from tests.support.city import TinyCity
from tests.support.contract import LIMITS

pytestmark = pytest.mark.skipif(ON_POSTGRES, reason="counts SQLite's steps")


def steps(store: Store, read: Callable[[], object]) -> int:
    """SQLite's virtual machine steps, in hundreds, that `read` takes on this thread."""
    conn: sqlite3.Connection = store._reader()  # type: ignore[attr-defined]
    count = [0]

    def tick() -> int:
        count[0] += 1
        return 0

    conn.set_progress_handler(tick, 100)
    try:
        read()
    finally:
        conn.set_progress_handler(None, 100)
    return count[0]


def other_claims(store: Store, n: int) -> None:
    """Claims of other officers' visits on other tasks, as a city's year leaves them."""
    with closing(sqlite3.connect(store.path)) as conn, conn:  # type: ignore[attr-defined]
        conn.executemany(
            "INSERT INTO photo_claims (sha256, entry_id, task_kind, task_id, officer_id,"
            " city_id, county_id, station_id) VALUES (?, ?, 'warning', ?, ?, '411600',"
            " '411602', '411602-01')",
            [(f"{i:064x}", f"entry-{i}", 1000 + i, 900 + i % 50) for i in range(n)],
        )


def test_a_tasks_photos_and_an_officers_pending_uploads_do_not_read_every_claim(
    store: Store, city: TinyCity, clock: ManualClock
) -> None:
    officer = city.id("o1")
    an_old_stored_photo(store, clock, officer)
    task = a_warning_of(store, city)
    push_visit_naming_the_photo(store, clock, officer, task)
    store.catch_up_claims()

    def photos() -> None:
        [claimed] = store.photos_of_task("warning", task)
        assert claimed.sha256 == PHOTO

    def pending() -> None:
        assert store.officer_activity([officer], clock.now(), LIMITS)[officer].pending_uploads == 0

    before = steps(store, photos), steps(store, pending)
    other_claims(store, 5000)
    after = steps(store, photos), steps(store, pending)
    # Scanning 5,000 claims takes some 400 hundred-steps; a read by index a handful.
    assert after[0] <= before[0] + 5, (before, after)
    assert after[1] <= before[1] + 5, (before, after)

"""Two escalation passes at once (the periodic one and a supervisor's POST /run, or two
processes before the lease settles) record each step once: the store inserts a step
ON CONFLICT DO NOTHING under UNIQUE (warning_id, kind, level), and audits and returns
only the steps it inserted."""

from __future__ import annotations

import threading
from pathlib import Path

from server.clock import ManualClock
from server.settings import Settings
from server.store.interface import Store
from server.store.opening import open_store
from tests.support.city import TinyCity, new_warning
from tests.support.contract import ACTOR


def test_passes_at_once_on_two_stores_record_each_step_once(
    store: Store, db_path: Path, settings: Settings, city: TinyCity, clock: ManualClock
) -> None:
    store.ingest_warnings([new_warning(city.id("platform"), f"late-{n}") for n in range(10)], ACTOR)
    clock.advance(hours=6)  # contact and outcome, station to city: 6 steps each
    others = [open_store(str(db_path), clock) for _ in range(3)]
    stores = [store, store, *others]  # two threads of one process, and other processes
    start = threading.Barrier(len(stores))
    created: list[int] = []
    lock = threading.Lock()

    def one_pass(s: Store) -> None:
        start.wait()
        steps = s.escalate(settings.deadline_minutes(), settings.escalation_step_minutes)
        with lock:
            created.extend(step.id for step in steps)

    try:
        threads = [threading.Thread(target=one_pass, args=(s,)) for s in stores]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        for other in others:
            other.close()
    assert len(created) == len(set(created)) == 60
    rows = store.list_escalations("city_id", "411600", limit=500)
    assert len(rows) == 60
    assert len({(r.warning_id, r.kind, r.level) for r in rows}) == 60
    audited = store.list_audit(entity="warning", limit=500)
    assert [e.action for e in audited].count("warning.escalate") == 60

"""The write-ahead log is copied back into the database file in the background, so no
commit waits for a checkpoint and the log does not grow while the server runs."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from server.clock import ManualClock
from server.store.opening import open_store
from server.store.records import Actor, Level, Unit


def test_commits_reach_the_database_file_without_a_commit_checkpointing(
    tmp_path: Path, clock: ManualClock
) -> None:
    path = tmp_path / "city.db"
    store = open_store(str(path), clock)
    try:
        time.sleep(0.2)
        before = path.stat().st_size
        units = [
            Unit(
                id=f"4116{n:04d}",
                name=f"派出所{n}" * 20,
                level=Level.CITY,
                parent_id=None,
                city_id=f"4116{n:04d}",
                county_id=None,
                station_id=None,
            )
            for n in range(2000)
        ]
        store.upsert_units(units, Actor.system())
        # The writer's own threshold is far above what this wrote: only the background
        # checkpoint moves these pages into the file.
        deadline = time.monotonic() + 10
        while path.stat().st_size <= before and time.monotonic() < deadline:
            time.sleep(0.05)
        assert path.stat().st_size > before
    finally:
        store.close()
    assert not [t for t in threading.enumerate() if t.name == "wal-checkpoint"]

"""A database made by an older release is upgraded in place when the server opens it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlite_utils import Database

from server.clock import ManualClock
from server.store import migrations
from server.store.interface import open_store


def test_an_older_database_is_upgraded_in_place_and_keeps_its_data(
    tmp_path: Path, clock: ManualClock
) -> None:
    path = tmp_path / "old.db"
    # The first release's schema: everything up to, not including, m002.
    conn = sqlite3.connect(path)
    migrations.migrations.apply(Database(conn), stop_before="m002_grids_by_officer")
    conn.execute(
        "INSERT INTO units VALUES ('411600', '周口市公安局', 'city', NULL, '411600',"
        " NULL, NULL, '2026-01-01', '2026-01-01')"
    )
    conn.commit()
    conn.close()

    store = open_store(str(path), clock)
    try:
        every = [m.name for m in migrations.migrations.pending(Database(memory=True))]
        assert store.applied_migrations() == every
        assert every[:2] == ["m001_initial", "m002_grids_by_officer"]
        unit = store.get_unit("411600")
        assert unit is not None
        assert unit.name == "周口市公安局"
    finally:
        store.close()
    indexes = {row[1] for row in sqlite3.connect(path).execute("PRAGMA index_list(grids)")}
    assert "grids_officer" in indexes


def test_opening_an_up_to_date_database_applies_nothing(tmp_path: Path, clock: ManualClock) -> None:
    open_store(str(tmp_path / "db.db"), clock).close()
    store = open_store(str(tmp_path / "db.db"), clock)
    try:
        assert store.migrations_applied_now == []  # type: ignore[attr-defined]
    finally:
        store.close()


def test_the_store_runs_in_wal_mode(tmp_path: Path, clock: ManualClock) -> None:
    open_store(str(tmp_path / "db.db"), clock).close()
    mode = sqlite3.connect(tmp_path / "db.db").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"

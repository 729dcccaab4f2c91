"""A database made by an older release is upgraded in place when the server opens it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlite_utils import Database

from server.auth.passwords import Passwords
from server.clock import ManualClock
from server.store.opening import open_store
from server.store.records import Actor, Datum
from server.store.sqlite import migrations
from tests.support.city import build_tiny_city, new_warning

ACTOR = Actor(user_id=None, device_id="test")


def made_by_an_older_release(path: Path, stop_before: str) -> sqlite3.Connection:
    """A database with every migration up to, not including, `stop_before`."""
    conn = sqlite3.connect(path)
    migrations.migrations.apply(Database(conn), stop_before=stop_before)
    return conn


def test_an_older_database_is_upgraded_in_place_and_keeps_its_data(
    tmp_path: Path, clock: ManualClock
) -> None:
    path = tmp_path / "old.db"
    # The first release's schema.
    conn = made_by_an_older_release(path, "m002_grids_by_officer")
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


def test_the_last_push_moves_onto_the_user_and_its_index_goes(
    tmp_path: Path, clock: ManualClock
) -> None:
    path = tmp_path / "old.db"
    conn = made_by_an_older_release(path, "m010_last_push")
    conn.execute(
        "INSERT INTO users (id, login, name, role, unit_id, city_id, active, password_hash,"
        " demo_password, created_at, updated_at) VALUES (7, 'o1', '张警官', 'officer',"
        " '411600', '411600', 1, 'x', 0, '2026-01-01', '2026-01-01')"
    )
    conn.executemany(
        "INSERT INTO mutations VALUES (7, ?, 'h', '{}', ?)",
        [("m-1", "2026-11-25T08:00:00.000000+00:00"), ("m-2", "2026-11-25T09:30:00.000000+00:00")],
    )
    conn.commit()
    conn.close()

    open_store(str(path), clock).close()
    db = sqlite3.connect(path)
    [(last,)] = db.execute("SELECT last_push_at FROM users WHERE id = 7")
    assert last == "2026-11-25T09:30:00.000000+00:00"
    indexes = {row[1] for row in db.execute("PRAGMA index_list(mutations)")}
    assert "mutations_user_received" not in indexes


def test_grid_centroids_stored_before_datums_are_wgs84(tmp_path: Path, clock: ManualClock) -> None:
    path = tmp_path / "old.db"
    conn = made_by_an_older_release(path, "m011_grid_datum")
    conn.execute(
        "INSERT INTO grids (code, name, kind, station_id, county_id, city_id, created_at,"
        " updated_at) VALUES ('411602001001', '七一路社区', 'community', '411602-01',"
        " '411602', '411600', '2026-01-01', '2026-01-01')"
    )
    conn.execute("INSERT INTO grid_positions VALUES ('411602001001', 33.62, 114.65)")
    conn.commit()
    conn.close()

    store = open_store(str(path), clock)
    try:
        grid = store.get_grid("411602001001")
        assert grid is not None
        assert (grid.lat, grid.lon, grid.datum) == (33.62, 114.65, Datum.WGS84)
    finally:
        store.close()
    db = sqlite3.connect(path)
    columns = {row[1]: row[4] for row in db.execute("PRAGMA table_info(grid_positions)")}
    assert columns["datum"] == "'wgs84'"
    # Only the three datums the review converts from can be stored.
    with pytest.raises(sqlite3.IntegrityError):
        db.execute("UPDATE grid_positions SET datum = 'beijing54'")


def test_scope_members_stored_before_get_their_place_in_the_pull_order(
    tmp_path: Path, clock: ManualClock
) -> None:
    """m014 backfills each member's sort key from its task, as a write would set it."""
    path = tmp_path / "old.db"
    store = open_store(str(path), clock)
    city = build_tiny_city(store, Passwords(time_cost=1, memory_kib=1024))
    platform, o1 = city.id("platform"), city.id("o1")
    store.ingest_warnings([new_warning(platform, f"W{n}", o1) for n in range(3)], ACTOR)
    store.close()
    db = sqlite3.connect(path)
    written = sorted(db.execute("SELECT task_id, sort_key FROM scope_members"))
    assert len(written) == 3
    assert all(key.startswith("0|2026-11-25T02:00:00") for _, key in written)  # open, due
    # As the release before m014 left it: no column, no index, not applied.
    db.execute("DROP INDEX scope_members_order")
    db.execute("ALTER TABLE scope_members DROP COLUMN sort_key")
    db.execute("DELETE FROM _sqlite_migrations WHERE name = 'm014_scope_order'")
    db.commit()
    db.close()

    open_store(str(path), clock).close()
    db = sqlite3.connect(path)
    assert sorted(db.execute("SELECT task_id, sort_key FROM scope_members")) == written
    plan = " ".join(
        str(r)
        for r in db.execute(
            "EXPLAIN QUERY PLAN SELECT task_id FROM scope_members WHERE officer_id = ?"
            " AND sort_key > '' ORDER BY sort_key LIMIT 200",
            (o1,),
        )
    )
    assert "scope_members_order" in plan
    assert "TEMP B-TREE" not in plan  # no sort of the whole scope

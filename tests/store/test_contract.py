"""The store contract: what every implementation of server.store.interface.Store keeps.

Each test runs against every implementation in IMPLEMENTATIONS (tests/store/conftest.py:
SQLite today; a PostgreSQL store joins the list and must pass unchanged), through the
interface alone. This file: the sequence, warnings, publicity tasks, the audit chain, a
first pull, and the suite's own completeness. Beside it: test_contract_org.py (units,
grids, users, devices, sessions), test_contract_sync.py (push, pull, conflicts),
test_contract_supervision.py (reports, escalation, review, the outcome feed, history),
test_contract_uploads.py (photos), and the other test_contract_*.py files. The tests
named test_sqlite_* look below the interface at SQLite's own file, and run for it alone.
"""

from __future__ import annotations

import ast
import inspect
import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import msgspec
import pytest

from server.auth.passwords import Passwords
from server.clock import ManualClock
from server.errors import ConflictError, NotFound
from server.store.interface import Store, UploadStore
from server.store.opening import open_store
from server.store.queries import WarningQuery
from server.store.records import Jurisdiction, PublicityStatus, UnitKey, WarningState
from sync.protocol import RecordVisit
from tests.support.city import TinyCity, build_tiny_city, new_warning
from tests.support.contract import ACTOR, Opener, publicity_fields
from tests.support.sync import push_context, visit


def test_ingest_is_idempotent_and_bumps_the_sequence_once_per_new_warning(
    any_store: Store, tiny: TinyCity
) -> None:
    platform = tiny.id("platform")
    first = any_store.ingest_warnings(
        [new_warning(platform, "A", tiny.id("o1")), new_warning(platform, "B")], ACTOR
    )
    assert [created for _, created in first] == [True, True]
    assert [w.seq for w, _ in first] == [1, 2]
    again = any_store.ingest_warnings(
        [new_warning(platform, "B"), new_warning(platform, "C")], ACTOR
    )
    assert [(w.platform_id, created) for w, created in again] == [("B", False), ("C", True)]
    assert again[0][0].id == first[1][0].id
    assert any_store.current_seq() == 3


def test_times_come_back_timezone_aware_in_utc(any_store: Store, tiny: TinyCity) -> None:
    [(warning, _)] = any_store.ingest_warnings([new_warning(tiny.id("platform"), "A")], ACTOR)
    assert warning.deadline_at == datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
    assert warning.created_at.tzinfo is not None


def test_an_update_at_a_stale_version_changes_nothing(any_store: Store, tiny: TinyCity) -> None:
    [(warning, _)] = any_store.ingest_warnings([new_warning(tiny.id("platform"), "A")], ACTOR)
    updated = any_store.update_warning(
        warning.id,
        1,
        {"state": WarningState.CANCELLED, "cancel_reason": "dup"},
        "warning.cancel",
        ACTOR,
    )
    assert (updated.version, updated.seq) == (2, 2)
    with pytest.raises(ConflictError):
        any_store.update_warning(warning.id, 1, {"cancel_reason": "other"}, "warning.cancel", ACTOR)
    assert any_store.get_warning(warning.id) == updated
    with pytest.raises(NotFound):
        any_store.update_warning(9999, 1, {"cancel_reason": "x"}, "warning.cancel", ACTOR)


def test_scoped_listing_returns_only_the_jurisdiction_in_deadline_order(
    any_store: Store, tiny: TinyCity
) -> None:
    platform = tiny.id("platform")
    base = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
    any_store.ingest_warnings(
        [
            new_warning(platform, "late", tiny.id("o1"), deadline_at=base + timedelta(hours=3)),
            new_warning(platform, "soon", tiny.id("o1"), deadline_at=base),
            new_warning(
                platform, "other", tiny.id("o4"), station_id="411621-01", county_id="411621"
            ),
        ],
        ACTOR,
    )
    mine = any_store.list_warnings(
        Jurisdiction(column="officer_id", value=tiny.id("o1")), WarningQuery()
    )
    assert [w.platform_id for w in mine] == ["soon", "late"]
    county = any_store.list_warnings(
        Jurisdiction(column="county_id", value="411621"), WarningQuery()
    )
    assert [w.platform_id for w in county] == ["other"]


def test_every_change_is_audited_in_a_chain_that_verifies(any_store: Store, tiny: TinyCity) -> None:
    [(warning, _)] = any_store.ingest_warnings([new_warning(tiny.id("platform"), "A")], ACTOR)
    any_store.update_warning(
        warning.id, 1, {"officer_id": tiny.id("o1")}, "warning.reassign", ACTOR
    )
    entries = any_store.list_audit(entity="warning", entity_id=str(warning.id))
    assert [e.action for e in entries] == ["warning.ingest", "warning.reassign"]
    assert entries[1].prev_hash == entries[0].hash
    assert entries[1].before == {"officer_id": None}
    # Residents' personal data stays out of the audit log.
    assert "13800001111" not in str([e.after for e in entries])
    verdict = any_store.verify_audit()
    assert verdict.ok
    everything = any_store.list_audit(limit=10_000)
    assert verdict.checked == len(everything)
    assert (verdict.head_id, verdict.head_hash) == (everything[-1].id, everything[-1].hash)
    # An anchor taken now holds; one naming an entry that never was, or another hash, fails.
    head_id, head_hash = verdict.head_id, verdict.head_hash
    assert head_id is not None
    assert head_hash is not None
    assert any_store.verify_audit((head_id, head_hash)).ok
    assert not any_store.verify_audit((head_id + 1, head_hash)).ok
    assert not any_store.verify_audit((head_id, "0" * 64)).ok


def test_each_audited_commit_names_its_units_to_the_audit_listeners(
    any_store: Store, tiny: TinyCity
) -> None:
    # A listener keeps the newest id it was told per unit: it may be told one twice
    # (interface.py, SyncStore.on_escalation), never one that was not committed.
    told: dict[UnitKey, int] = {}

    def listener(units: frozenset[UnitKey], newest: int) -> None:
        for unit in units:
            told[unit] = max(told.get(unit, 0), newest)

    any_store.on_audit(listener)
    [(warning, _)] = any_store.ingest_warnings([new_warning(tiny.id("platform"), "A")], ACTOR)
    [entry] = any_store.list_audit(entity="warning", entity_id=str(warning.id))
    units = (("city", "411600"), ("county", "411602"), ("station", "411602-01"))
    assert told == dict.fromkeys(units, entry.id)
    assert any_store.latest_audit_id("station_id", "411602-01") == entry.id
    assert any_store.latest_audit_id("county_id", "411621") < entry.id
    assert any_store.latest_audit_id("station_id", "no-such-unit") == 0
    # A write that fails tells nobody.
    with pytest.raises(ValueError, match="cannot change"):
        any_store.update_user(tiny.id("o1"), {"password_hash": "x", "no_such_column": 1}, ACTOR)
    assert told == dict.fromkeys(units, entry.id)


def test_a_first_pull_walks_the_scope_in_order_as_the_tasks_change(
    any_store: Store, tiny: TinyCity, clock: ManualClock
) -> None:
    """Open work first, soonest deadline first; a page is a range of that order, so a
    changed deadline or a closed task moves where the next pull finds it."""
    platform, o1 = tiny.id("platform"), tiny.id("o1")
    due = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    made = any_store.ingest_warnings(
        [
            new_warning(platform, name, o1, deadline_at=due + timedelta(hours=hours))
            for name, hours in (("later", 3), ("soon", 1), ("middle", 2))
        ],
        ACTOR,
    )
    ids = {w.platform_id: w.id for w, _ in made}

    def order(page: int = 2) -> list[int]:
        seen: list[int] = []
        key = ""
        while True:
            rows = any_store.pull_rows(
                o1, snapshot_at=any_store.current_seq(), after_key=key, after_seq=0, limit=page
            )
            seen += [item.id for item in rows.items]
            if not rows.more:
                return seen
            key = rows.last_key

    assert order() == [ids["soon"], ids["middle"], ids["later"]]
    later = any_store.get_warning(ids["later"])
    assert later is not None
    any_store.update_warning(later.id, later.version, {"deadline_at": due}, "w", ACTOR)
    assert order() == [ids["later"], ids["soon"], ids["middle"]]
    soon = any_store.get_warning(ids["soon"])
    assert soon is not None
    any_store.update_warning(soon.id, soon.version, {"state": WarningState.CANCELLED}, "w", ACTOR)
    # Cancelled: out of the scope altogether.
    assert order(page=1) == [ids["later"], ids["middle"]]


def test_a_failed_write_leaves_no_trace(any_store: Store, tiny: TinyCity) -> None:
    seq = any_store.current_seq()
    audit = len(any_store.list_audit(limit=10_000))
    with pytest.raises(ValueError, match="cannot change"):
        any_store.update_user(tiny.id("o1"), {"password_hash": "x", "no_such_column": 1}, ACTOR)
    assert any_store.get_user(tiny.id("o1")) is not None
    assert any_store.current_seq() == seq
    assert len(any_store.list_audit(limit=10_000)) == audit


# -- publicity tasks ---------------------------------------------------------------------


def test_a_publicity_task_is_created_with_each_of_its_officers_once(
    any_store: Store, tiny: TinyCity, clock: ManualClock
) -> None:
    o1, o2 = tiny.id("o1"), tiny.id("o2")
    seq = any_store.current_seq()
    task = any_store.create_publicity_task(publicity_fields(tiny, "防诈讲座"), [o2, o1, o2], ACTOR)
    assert task.officer_ids == [o1, o2]
    assert (task.title, task.status, task.station_id) == (
        "防诈讲座",
        PublicityStatus.PLANNED,
        "411602-01",
    )
    assert (task.window_start, task.window_end) == (date(2026, 11, 25), date(2026, 11, 30))
    assert (task.version, task.seq, task.created_at) == (1, seq + 1, clock.now())
    assert any_store.current_seq() == seq + 1
    assert any_store.get_publicity_task(task.id) == task
    assert any_store.get_publicity_task(task.id + 1) is None
    [entry] = any_store.list_audit(entity="publicity_task", entity_id=str(task.id))
    assert (entry.action, entry.station_id) == ("publicity.create", "411602-01")
    # Each officer's phone holds it from now on.
    for officer in (o1, o2):
        rows = any_store.pull_rows(
            officer, snapshot_at=any_store.current_seq(), after_key="", after_seq=0, limit=10
        )
        assert [(item.kind, item.id) for item in rows.items] == [("publicity", task.id)]


def test_publicity_tasks_are_listed_by_jurisdiction_status_and_window_in_id_order(
    any_store: Store, tiny: TinyCity
) -> None:
    o1, o2, o4 = tiny.id("o1"), tiny.id("o2"), tiny.id("o4")
    december = {"window_start": date(2026, 12, 1), "window_end": date(2026, 12, 5)}
    elsewhere = {"grid_code": "411621001001", "county_id": "411621", "station_id": "411621-01"}
    a = any_store.create_publicity_task(publicity_fields(tiny, "A"), [o1], ACTOR)
    b = any_store.create_publicity_task(publicity_fields(tiny, "B", **december), [o1, o2], ACTOR)
    any_store.create_publicity_task(publicity_fields(tiny, "C", **elsewhere), [o4], ACTOR)

    def titles(
        column: str,
        value: str | int,
        statuses: tuple[str, ...] = (),
        after_id: int = 0,
        limit: int = 100,
        active_on: date | None = None,
    ) -> list[str]:
        scope = Jurisdiction(column=column, value=value)
        tasks = any_store.list_publicity_tasks(
            scope, statuses=statuses, after_id=after_id, limit=limit, active_on=active_on
        )
        assert tasks == [any_store.get_publicity_task(t.id) for t in tasks]
        return [t.title for t in tasks]

    assert titles("city_id", "411600") == ["A", "B", "C"]
    assert titles("station_id", "411602-01") == ["A", "B"]
    assert titles("county_id", "411621") == ["C"]
    assert titles("officer_id", o2) == ["B"]  # an officer's: those they are assigned
    assert titles("city_id", "411600", active_on=date(2026, 11, 30)) == ["A", "C"]
    assert titles("city_id", "411600", active_on=date(2026, 12, 1)) == ["B"]
    assert titles("city_id", "411600", after_id=a.id, limit=1) == ["B"]
    any_store.update_publicity_task(
        b.id, 1, {"status": "cancelled"}, None, "publicity.update", ACTOR
    )
    assert titles("city_id", "411600", statuses=("planned", "in_progress")) == ["A", "C"]
    assert titles("city_id", "411600", statuses=("cancelled",)) == ["B"]
    with pytest.raises(ValueError, match="scope"):
        any_store.list_publicity_tasks(Jurisdiction(column="grid_code", value="411602001001"))


def test_a_publicity_task_update_replaces_its_officers_and_refuses_a_stale_version(
    any_store: Store, tiny: TinyCity, clock: ManualClock
) -> None:
    o1, o2 = tiny.id("o1"), tiny.id("o2")
    task = any_store.create_publicity_task(publicity_fields(tiny, "讲座"), [o1], ACTOR)
    clock.advance(minutes=5)
    moved = any_store.update_publicity_task(
        task.id, 1, {"title": "集市讲座", "status": "in_progress"}, [o2], "publicity.update", ACTOR
    )
    assert (moved.title, moved.status, moved.officer_ids) == (
        "集市讲座",
        PublicityStatus.IN_PROGRESS,
        [o2],
    )
    assert (moved.version, moved.seq) == (2, any_store.current_seq())
    assert (moved.created_at, moved.updated_at) == (task.created_at, clock.now())
    assert any_store.get_publicity_task(task.id) == moved
    # o1's phone is told to drop it, o2's to fetch it.
    assert any_store.latest_change(o1) == any_store.latest_change(o2) == moved.seq
    # Without officer ids the officers stay.
    noted = any_store.update_publicity_task(
        task.id, 2, {"notes": "带横幅"}, None, "publicity.update", ACTOR
    )
    assert (noted.notes, noted.officer_ids, noted.version) == ("带横幅", [o2], 3)
    with pytest.raises(ConflictError):
        any_store.update_publicity_task(task.id, 2, {"title": "x"}, None, "publicity.update", ACTOR)
    with pytest.raises(NotFound):
        any_store.update_publicity_task(
            task.id + 1, 1, {"title": "x"}, None, "publicity.update", ACTOR
        )
    with pytest.raises(ValueError, match="cannot change"):
        any_store.update_publicity_task(
            task.id, 3, {"station_id": "411621-01"}, None, "publicity.update", ACTOR
        )
    assert any_store.get_publicity_task(task.id) == noted
    audit = any_store.list_audit(entity="publicity_task", entity_id=str(task.id))
    assert [e.action for e in audit] == ["publicity.create", "publicity.update", "publicity.update"]
    assert audit[1].before == {"title": "讲座", "status": "planned", "officer_ids": [o1]}
    assert audit[1].after == {"title": "集市讲座", "status": "in_progress", "officer_ids": [o2]}


def test_a_publicity_task_with_an_unknown_field_is_a_programming_error(
    any_store: Store, tiny: TinyCity
) -> None:
    seq = any_store.current_seq()
    with pytest.raises(ValueError, match="bogus"):
        any_store.create_publicity_task(
            publicity_fields(tiny, "A", bogus=1), [tiny.id("o1")], ACTOR
        )
    assert any_store.current_seq() == seq


# -- the store itself --------------------------------------------------------------------


def test_what_a_store_committed_is_there_when_it_is_opened_again(
    store_opener: Opener,
    tmp_path: Path,
    clock: ManualClock,
    passwords: Passwords,
) -> None:
    first = store_opener(tmp_path, clock)
    tiny = build_tiny_city(first, passwords)
    [(warning, _)] = first.ingest_warnings(
        [new_warning(tiny.id("platform"), "A", tiny.id("o1"))], ACTOR
    )
    verdict = first.verify_audit()
    first.close()
    again = store_opener(tmp_path, clock)
    try:
        assert again.get_warning(warning.id) == warning
        assert again.current_seq() == warning.seq
        assert verdict.head_id is not None
        assert verdict.head_hash is not None
        assert again.verify_audit((verdict.head_id, verdict.head_hash)).ok
        # Opening again applies nothing twice.
        assert sorted(again.applied_migrations()) == sorted(again.known_migrations())
    finally:
        again.close()


def test_the_store_has_applied_every_known_migration_and_no_other(any_store: Store) -> None:
    """What the readiness check (server/health.py) holds the store to."""
    applied = any_store.applied_migrations()
    assert sorted(applied) == sorted(any_store.known_migrations())
    assert applied
    assert len(set(applied)) == len(applied)


CONTRACT_FILES = [
    Path(__file__).with_name("conftest.py"),
    *sorted(Path(__file__).parent.glob("test_contract*.py")),
]


def test_every_store_method_is_covered_by_the_contract_suite() -> None:
    """A method added to the interface without a contract test fails here: each public
    method of Store (the upload store's included) must be called in a contract file."""
    methods = {
        name
        for protocol in (Store, UploadStore)
        for name, _ in inspect.getmembers(protocol, inspect.isfunction)
        if not name.startswith("_")
    }
    assert {"apply_push", "create_upload", "warning_history"} <= methods
    called = {
        node.func.attr
        for path in CONTRACT_FILES
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
    }
    assert sorted(methods - called) == []


# -- SQLite alone, below the interface ---------------------------------------------------


def test_sqlite_audit_tampering_is_detected(
    tmp_path: Path, clock: ManualClock, passwords: Passwords
) -> None:
    store = open_store(str(tmp_path / "t.db"), clock)
    build_tiny_city(store, passwords)
    store.close()
    raw = sqlite3.connect(tmp_path / "t.db")
    raw.execute("""UPDATE audit_log SET after = '{"role": "city_admin"}' WHERE id = 8""")
    raw.commit()
    raw.close()
    store = open_store(str(tmp_path / "t.db"), clock)
    verdict = store.verify_audit()
    store.close()
    assert not verdict.ok
    assert verdict.first_bad_id == 8
    assert verdict.checked == 7


def test_sqlite_a_deleted_audit_entry_is_detected(
    tmp_path: Path, clock: ManualClock, passwords: Passwords
) -> None:
    store = open_store(str(tmp_path / "t.db"), clock)
    build_tiny_city(store, passwords)
    store.close()
    raw = sqlite3.connect(tmp_path / "t.db")
    raw.execute("DELETE FROM audit_log WHERE id = 3")
    raw.commit()
    raw.close()
    store = open_store(str(tmp_path / "t.db"), clock)
    verdict = store.verify_audit()
    store.close()
    assert not verdict.ok
    assert verdict.first_bad_id == 4


def test_a_pushs_own_sort_keys_are_the_ones_the_store_computes(
    any_store: Store, tiny: TinyCity, clock: ManualClock
) -> None:
    """A push writes scope members with keys computed from the rows it holds; they must be
    byte for byte the keys any other write computes in SQL, or pages would skip or repeat."""
    from server.store.scope_order import SORT_KEY_SQL, sort_key

    o1 = tiny.id("o1")
    [(done, _), (still, _)] = any_store.ingest_warnings(
        [new_warning(tiny.id("platform"), n, o1) for n in ("done", "still")], ACTOR
    )
    at = "2026-11-25T08:01:00+00:00"
    ctx = push_context(o1, datetime.fromisoformat(at) + timedelta(minutes=1))
    body = visit(done.id, arrived_at=at, recorded_at=at)
    [result], _ = any_store.apply_push(ctx, [msgspec.convert(body, RecordVisit)])
    assert result.status == "applied"
    # The one peek below the interface: the stored keys, through the backend's own SQL
    # (`_query`, which runs the shared statements on either database).
    query = any_store._query  # type: ignore[attr-defined]
    stored = {
        r["task_id"]: r["sort_key"]
        for r in query("SELECT task_id, sort_key FROM scope_members WHERE officer_id = ?", (o1,))
    }
    expected = {
        r["id"]: r["k"]
        for r in query(f"SELECT t.id, {SORT_KEY_SQL['warning']} AS k FROM warnings t")  # noqa: S608
    }
    assert stored == {w.id: expected[w.id] for w in (done, still)}
    [row] = query("SELECT * FROM warnings WHERE id = ?", (done.id,))
    assert sort_key("warning", row) == expected[done.id]
    assert stored[done.id].startswith("1|")  # completed: after the open work

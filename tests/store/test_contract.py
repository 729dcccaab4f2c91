"""The store contract: what every implementation of server.store.interface.Store keeps.

Each test runs against every implementation in IMPLEMENTATIONS (SQLite today; a
PostgreSQL store joins the list and must pass unchanged).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest

from server.auth.passwords import Passwords
from server.clock import ManualClock
from server.errors import ConflictError, NotFound
from server.store.interface import Store
from server.store.opening import open_store
from server.store.queries import WarningQuery
from server.store.records import (
    Actor,
    Datum,
    RefreshOutcome,
    RefreshResult,
    WarningState,
)
from sync.protocol import RecordVisit
from tests.support.city import TinyCity, build_tiny_city, new_warning
from tests.support.sync import push_context, visit

IMPLEMENTATIONS: dict[str, Callable[[Path, ManualClock], Store]] = {
    "sqlite": lambda tmp, clock: open_store(str(tmp / "contract.db"), clock),
}
ACTOR = Actor(user_id=None, device_id="test")


@pytest.fixture(params=sorted(IMPLEMENTATIONS))
def any_store(
    request: pytest.FixtureRequest, tmp_path: Path, clock: ManualClock
) -> Iterator[Store]:
    store = IMPLEMENTATIONS[request.param](tmp_path, clock)
    yield store
    store.close()


@pytest.fixture
def tiny(any_store: Store, passwords: Passwords) -> TinyCity:
    return build_tiny_city(any_store, passwords)


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
    from server.store.records import Jurisdiction

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
    assert any_store.verify_audit((verdict.head_id, verdict.head_hash)).ok
    assert not any_store.verify_audit((verdict.head_id + 1, verdict.head_hash)).ok
    assert not any_store.verify_audit((verdict.head_id, "0" * 64)).ok


def test_each_audited_commit_names_its_units_to_the_audit_listeners(
    any_store: Store, tiny: TinyCity
) -> None:
    heard: list[tuple[frozenset[tuple[str, str]], int]] = []
    any_store.on_audit(lambda units, newest: heard.append((units, newest)))
    [(warning, _)] = any_store.ingest_warnings([new_warning(tiny.id("platform"), "A")], ACTOR)
    [entry] = any_store.list_audit(entity="warning", entity_id=str(warning.id))
    assert heard == [
        (
            frozenset({("city", "411600"), ("county", "411602"), ("station", "411602-01")}),
            entry.id,
        )
    ]
    assert any_store.latest_audit_id("station_id", "411602-01") == entry.id
    assert any_store.latest_audit_id("county_id", "411621") < entry.id
    assert any_store.latest_audit_id("station_id", "no-such-unit") == 0
    # A write that fails tells nobody.
    with pytest.raises(ValueError, match="cannot change"):
        any_store.update_user(tiny.id("o1"), {"password_hash": "x", "no_such_column": 1}, ACTOR)
    assert len(heard) == 1


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


def test_refresh_tokens_rotate_once_and_reuse_revokes_the_session(
    any_store: Store, tiny: TinyCity, clock: ManualClock
) -> None:
    expires = clock.now() + timedelta(days=1)
    window = timedelta(seconds=120)
    session, device = any_store.open_session(tiny.id("o1"), "phone-1", "p", "h1", expires)
    first = any_store.rotate_refresh("h1", "h2", expires, window)
    assert first.outcome == RefreshOutcome.ROTATED
    assert (first.session_id, first.user_id, first.expires_at) == (session, tiny.id("o1"), expires)
    # The answer to h1 was lost: within the window h1 may be retried, for the same h2.
    clock.advance(seconds=119)
    retry = any_store.rotate_refresh("h1", "h2", expires + timedelta(seconds=119), window)
    assert retry.outcome == RefreshOutcome.RETRIED
    assert retry.expires_at == expires  # h2's own, unchanged: nothing new was stored
    assert any_store.rotate_refresh("h2", "h3", expires, window).outcome == RefreshOutcome.ROTATED
    assert any_store.rotate_refresh("h3", "h4", expires, window).outcome == RefreshOutcome.ROTATED
    # h2's successor has been used since: h2 again is a copy in someone else's hands.
    assert any_store.rotate_refresh("h2", "h3", expires, window).outcome == RefreshOutcome.REUSED
    state = any_store.auth_state(session)
    assert state is not None
    assert state.session_revoked
    assert any_store.rotate_refresh("h4", "h5", expires, window).outcome == RefreshOutcome.REVOKED
    unknown = any_store.rotate_refresh("unknown", "h5", expires, window)
    assert unknown == RefreshResult(outcome=RefreshOutcome.UNKNOWN)
    assert device.device_id == "phone-1"


@pytest.mark.parametrize("late", [False, True])
def test_a_retry_after_the_window_or_for_another_successor_is_reuse(
    any_store: Store, tiny: TinyCity, clock: ManualClock, late: bool
) -> None:
    expires = clock.now() + timedelta(days=1)
    window = timedelta(seconds=120)
    session, _ = any_store.open_session(tiny.id("o1"), "phone-1", "p", "h1", expires)
    assert any_store.rotate_refresh("h1", "h2", expires, window).outcome == RefreshOutcome.ROTATED
    clock.advance(seconds=121 if late else 1)
    # Late with the right successor, or in time with one that is not the one stored.
    again = any_store.rotate_refresh("h1", "h2" if late else "h9", expires, window)
    assert again.outcome == RefreshOutcome.REUSED
    state = any_store.auth_state(session)
    assert state is not None
    assert state.session_revoked
    assert any_store.rotate_refresh("h2", "h3", expires, window).outcome == RefreshOutcome.REVOKED


def test_revoking_a_device_ends_its_sessions_and_is_audited_once(
    any_store: Store, tiny: TinyCity, clock: ManualClock
) -> None:
    expires = clock.now() + timedelta(days=1)
    session, device = any_store.open_session(tiny.id("o1"), "phone-1", "p", "h1", expires)
    other, _ = any_store.open_session(tiny.id("o1"), "phone-2", "p", "h2", expires)
    any_store.revoke_device(device.id, ACTOR)
    first = any_store.get_device_by_pk(device.id)
    clock.advance(minutes=5)
    any_store.revoke_device(device.id, ACTOR)
    assert any_store.get_device_by_pk(device.id) == first
    state = any_store.auth_state(session)
    assert state is not None
    assert state.device_revoked
    assert state.session_revoked
    still = any_store.auth_state(other)
    assert still is not None
    assert not still.session_revoked
    assert [e.action for e in any_store.list_audit(entity="device")] == ["device.revoke"]


def test_disabling_a_user_ends_all_their_sessions(
    any_store: Store, tiny: TinyCity, clock: ManualClock
) -> None:
    session, _ = any_store.open_session(
        tiny.id("o1"), "phone-1", "p", "h1", clock.now() + timedelta(days=1)
    )
    any_store.update_user(tiny.id("o1"), {"active": False}, ACTOR)
    state = any_store.auth_state(session)
    assert state is not None
    assert not state.user.active
    assert state.session_revoked


def test_login_failures_are_counted_in_a_window(any_store: Store, clock: ManualClock) -> None:
    any_store.record_login_failure("login:o1")
    clock.advance(minutes=20)
    any_store.record_login_failure("login:o1")
    assert len(any_store.login_failures_since("login:o1", clock.now() - timedelta(minutes=15))) == 1
    any_store.clear_login_failures("login:o1")
    assert any_store.login_failures_since("login:o1", clock.now() - timedelta(days=1)) == []


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


# -- report figures ----------------------------------------------------------------------

LIMITS = {"high": (30, 120), "low": (480, 1440)}
DAY = (datetime(2026, 11, 25, tzinfo=UTC), datetime(2026, 11, 26, tzinfo=UTC))
REPORTED_AT = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def push_visit(store: Store, officer: int, task: int, arrived: str, **entry: object) -> None:
    at = f"2026-11-25T{arrived}:00+00:00"
    # Received a minute after the officer arrived: the visit's times are believable.
    ctx = push_context(officer, datetime.fromisoformat(at) + timedelta(minutes=1))
    body = visit(task, arrived_at=at, recorded_at=at, **entry)
    [result], _ = store.apply_push(ctx, [msgspec.convert(body, RecordVisit)])
    assert result.status == "applied", result


def a_reported_day(store: Store, tiny: TinyCity) -> dict[str, int]:
    """Six warnings of 城区派出所 arriving at 08:00, twenty of 城关派出所 between the first
    and the rest (so the station's own rows fill little of their rowid span)."""
    platform, o1, o2, o4 = (tiny.id(n) for n in ("platform", "o1", "o2", "o4"))
    elsewhere = {"station_id": "411621-01", "county_id": "411621", "grid_code": "411621001001"}
    [(a, _)] = store.ingest_warnings([new_warning(platform, "A", o1)], ACTOR)
    store.ingest_warnings(
        [new_warning(platform, f"X{n}", o4, **elsewhere) for n in range(20)], ACTOR
    )
    ids = {"A": a.id}
    for name, officer, risk in (("B", o1, "high"), ("C", o2, "low"), ("D", o2, "high")):
        [(w, _)] = store.ingest_warnings(
            [new_warning(platform, name, officer, risk_level=risk)], ACTOR
        )
        ids[name] = w.id
    for name in ("E", "F"):
        [(w, _)] = store.ingest_warnings([new_warning(platform, name, o2)], ACTOR)
        ids[name] = w.id
    # E waited ten minutes for its dispatch: 30 minutes from dispatch, 40 from arrival.
    store.update_warning(
        ids["E"], 1, {"dispatched_at": datetime(2026, 11, 25, 8, 10, tzinfo=UTC)}, "w", ACTOR
    )
    store.update_warning(ids["F"], 1, {"state": WarningState.CANCELLED}, "w", ACTOR)
    push_visit(store, o1, ids["A"], "08:20", amount_prevented=5000)
    push_visit(store, o1, ids["B"], "08:45", contact="phone", outcome="refused")
    push_visit(store, o2, ids["E"], "08:40", amount_prevented=700)
    return ids


def test_warning_figures_count_each_group_and_list_its_contact_minutes(
    any_store: Store, tiny: TinyCity
) -> None:
    a_reported_day(any_store, tiny)
    rows = any_store.warning_figures(
        "county_id", "411602", *DAY, REPORTED_AT, LIMITS, ["station_id", "officer"]
    )
    by_officer = {r["g1"]: r for r in rows}
    assert set(by_officer) == {tiny.id("o1"), tiny.id("o2")}
    assert {r["g0"] for r in rows} == {"411602-01"}
    o1, o2 = by_officer[tiny.id("o1")], by_officer[tiny.id("o2")]
    figures = ("received", "cancelled", "visited", "face_to_face", "on_time", "late", "overdue")
    assert [o1[k] for k in figures] == [2, 0, 2, 1, 1, 1, 0]  # A at 20 minutes, B at 45
    assert [o2[k] for k in figures] == [4, 1, 1, 1, 0, 1, 1]  # E late from arrival; D due
    assert (o1["amount_prevented"], o2["amount_prevented"]) == (5000, 700)
    assert (o1["outcome_dissuaded"], o1["outcome_refused"], o2["outcome_dissuaded"]) == (1, 1, 1)
    assert o1["contact_minutes"] == [pytest.approx(20), pytest.approx(45)]
    assert o2["contact_minutes"] == [pytest.approx(30)]  # from its dispatch
    [total] = any_store.warning_figures("county_id", "411602", *DAY, REPORTED_AT, LIMITS, [])
    assert total["received"] == 6
    assert total["contact_minutes"] == sorted(o1["contact_minutes"] + o2["contact_minutes"])
    after = (DAY[1], DAY[1] + timedelta(days=1))
    assert any_store.warning_figures("city_id", "411600", *after, REPORTED_AT, LIMITS, []) == []


def test_warning_figures_are_the_same_read_by_any_unit_that_holds_them(
    any_store: Store, tiny: TinyCity
) -> None:
    a_reported_day(any_store, tiny)
    city = any_store.warning_figures(
        "city_id", "411600", *DAY, REPORTED_AT, LIMITS, ["station_id", "officer"]
    )
    station = any_store.warning_figures(
        "station_id", "411602-01", *DAY, REPORTED_AT, LIMITS, ["officer"]
    )
    assert {r["g1"]: {**r, "g0": None, "g1": None} for r in city if r["g0"] == "411602-01"} == {
        r["g0"]: {**r, "g0": None, "g1": None} for r in station
    }
    assert sum(r["received"] for r in city) == 26


def test_warning_figures_refuse_what_they_cannot_scope_or_group_by(any_store: Store) -> None:
    with pytest.raises(ValueError, match="scope"):
        any_store.warning_figures("officer_id", "1", *DAY, REPORTED_AT, LIMITS, [])
    with pytest.raises(ValueError, match="group"):
        any_store.warning_figures("city_id", "411600", *DAY, REPORTED_AT, LIMITS, ["grid_code"])


def test_a_grid_keeps_its_centre_as_given_with_its_datum(any_store: Store, tiny: TinyCity) -> None:
    grid = any_store.get_grid("411602001001")
    assert grid is not None
    assert (grid.lat, grid.lon, grid.datum) == (None, None, Datum.WGS84)
    amap = msgspec.structs.replace(grid, lat=33.61835, lon=114.65537, datum=Datum.GCJ02)
    assert any_store.upsert_grids([amap], ACTOR) == (0, 1)
    assert any_store.get_grid(grid.code) == amap
    assert any_store.upsert_grids([amap], ACTOR) == (0, 0)
    # Without a centre (a sheet without the columns) the stored one stays.
    assert any_store.upsert_grids([grid], ACTOR) == (0, 0)
    assert any_store.get_grid(grid.code) == amap
    # The demo's positions are WGS-84, whatever was stored before.
    any_store.set_grid_positions([(grid.code, 33.62, 114.65)])
    assert [g for g in any_store.list_grids() if g.code == grid.code] == [
        msgspec.structs.replace(grid, lat=33.62, lon=114.65)
    ]


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
    path = getattr(any_store, "path", None)
    if path is None:  # pragma: no cover - another backend keeps its own keys
        return
    db = sqlite3.connect(path)  # the one peek below the interface: the stored keys
    db.row_factory = sqlite3.Row
    stored = dict(
        db.execute(
            "SELECT task_id, sort_key FROM scope_members WHERE officer_id = ?", (o1,)
        ).fetchall()
    )
    expected = {
        r["id"]: r["k"]
        for r in db.execute(f"SELECT t.id, {SORT_KEY_SQL['warning']} AS k FROM warnings t")  # noqa: S608
    }
    assert stored == {w.id: expected[w.id] for w in (done, still)}
    row = dict(db.execute("SELECT * FROM warnings WHERE id = ?", (done.id,)).fetchone())
    assert sort_key("warning", row) == expected[done.id]
    assert stored[done.id].startswith("1|")  # completed: after the open work

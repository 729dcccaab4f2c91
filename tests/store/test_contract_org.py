"""The store contract, org and auth: units, grids, users, devices, sessions, refresh
tokens and login throttling (the fixtures: tests/store/conftest.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import msgspec
import pytest

from server.clock import ManualClock
from server.errors import ErrorCode, InputError, NotFound
from server.store.interface import Store
from server.store.records import (
    Datum,
    Grid,
    GridKind,
    Jurisdiction,
    Level,
    Queue,
    RefreshOutcome,
    RefreshResult,
    Role,
    Unit,
    User,
    WarningState,
)
from tests.support.city import TinyCity, new_warning
from tests.support.contract import ACTOR

NEW_STATION = Unit(
    id="411621-02",
    name="练寺派出所",
    level=Level.STATION,
    parent_id="411621",
    city_id="411600",
    county_id="411621",
    station_id="411621-02",
)


def a_person(login: str, role: str = "officer", station: str = "411621-01") -> dict[str, Any]:
    """A users sheet's row as the org service hands it over: a station's officer."""
    return {
        "login": login,
        "name": f"{login}警官",
        "role": role,
        "unit_id": station,
        "city_id": "411600",
        "county_id": station.split("-", maxsplit=1)[0],
        "station_id": station,
        "password_hash": f"hash-of-{login}",
    }


def row_of(user: User, **changes: Any) -> dict[str, Any]:
    """A stored user as a sheet's row again (no password: the stored one stays)."""
    fields = ("login", "name", "role", "unit_id", "city_id", "county_id", "station_id", "active")
    return {f: getattr(user, f) for f in fields} | changes


# -- units and grids ---------------------------------------------------------------------


def test_a_unit_is_created_then_updated_only_when_it_changes(
    any_store: Store, tiny: TinyCity
) -> None:
    assert any_store.get_unit(NEW_STATION.id) is None
    assert any_store.upsert_units([NEW_STATION], ACTOR) == (1, 0)
    assert any_store.get_unit(NEW_STATION.id) == NEW_STATION
    assert any_store.upsert_units([NEW_STATION], ACTOR) == (0, 0)
    renamed = msgspec.structs.replace(NEW_STATION, name="练寺镇派出所")
    assert any_store.upsert_units([renamed], ACTOR) == (0, 1)
    assert any_store.get_unit(NEW_STATION.id) == renamed
    audit = any_store.list_audit(entity="unit", entity_id=NEW_STATION.id)
    assert [e.action for e in audit] == ["unit.create", "unit.update"]
    assert (audit[0].county_id, audit[0].station_id) == ("411621", "411621-02")


def test_units_are_listed_within_a_jurisdiction_the_unit_itself_included(
    any_store: Store, tiny: TinyCity
) -> None:
    any_store.upsert_units([NEW_STATION], ACTOR)

    def ids(column: str, value: str | int) -> set[str]:
        return {u.id for u in any_store.list_units(Jurisdiction(column=column, value=value))}

    assert {u.id for u in any_store.list_units()} == {
        "411600",
        "411602",
        "411621",
        "411602-01",
        "411602-02",
        "411621-01",
        "411621-02",
    }
    assert ids("county_id", "411621") == {"411621", "411621-01", "411621-02"}
    assert ids("station_id", "411602-02") == {"411602-02"}
    assert ids("officer_id", tiny.id("o3")) == {"411602-02"}  # the officer's own station
    assert ids("county_id", "411699") == set()
    assert any_store.list_units(Jurisdiction(column="city_id", value="411600")) == (
        any_store.list_units()
    )


def test_a_unit_under_a_parent_that_does_not_exist_is_refused_with_its_whole_sheet(
    any_store: Store, tiny: TinyCity
) -> None:
    orphan = msgspec.structs.replace(
        NEW_STATION, id="411699-01", parent_id="411699", county_id="411699"
    )
    with pytest.raises(InputError) as refused:
        any_store.upsert_units([NEW_STATION, orphan], ACTOR)
    assert refused.value.code == ErrorCode.UNKNOWN_REFERENCE
    assert any_store.get_unit(NEW_STATION.id) is None


def test_grids_are_created_audited_and_listed_within_a_jurisdiction(
    any_store: Store, tiny: TinyCity
) -> None:
    o4 = tiny.id("o4")
    grid = Grid(
        code="411621001002",
        name="城关二村",
        kind=GridKind.VILLAGE,
        station_id="411621-01",
        county_id="411621",
        city_id="411600",
        officer_id=o4,
    )
    assert any_store.get_grid(grid.code) is None
    assert any_store.upsert_grids([grid], ACTOR) == (1, 0)
    assert any_store.get_grid(grid.code) == grid
    [entry] = any_store.list_audit(entity="grid", entity_id=grid.code)
    assert (entry.action, entry.station_id) == ("grid.create", "411621-01")

    def codes(column: str, value: str | int) -> list[str]:
        return [g.code for g in any_store.list_grids(Jurisdiction(column=column, value=value))]

    assert codes("county_id", "411621") == ["411621001001", "411621001002"]
    assert codes("station_id", "411602-01") == ["411602001001", "411602001002", "411602001003"]
    assert codes("officer_id", o4) == ["411621001001", "411621001002"]
    everywhere = [g.code for g in any_store.list_grids()]
    assert everywhere == sorted(everywhere)
    assert len(everywhere) == 6
    # Handed to another officer: an update.
    moved = msgspec.structs.replace(grid, officer_id=None)
    assert any_store.upsert_grids([moved], ACTOR) == (0, 1)
    assert codes("officer_id", o4) == ["411621001001"]


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
    assert any_store.set_grid_positions([(grid.code, 33.62, 114.65)]) == 1
    assert [g for g in any_store.list_grids() if g.code == grid.code] == [
        msgspec.structs.replace(grid, lat=33.62, lon=114.65)
    ]


# -- users -------------------------------------------------------------------------------


def test_users_are_upserted_by_login_keeping_their_password_unless_given(
    any_store: Store, tiny: TinyCity, clock: ManualClock
) -> None:
    assert any_store.get_user_by_login("o5") is None
    [created], made, changed = any_store.upsert_users([a_person("o5")], ACTOR)
    assert (made, changed) == (1, 0)
    assert (created.login, created.role, created.station_id) == ("o5", Role.OFFICER, "411621-01")
    assert (created.active, created.demo_password, created.must_change_password) == (
        True,
        False,
        False,
    )
    assert created.password_hash == "hash-of-o5"
    assert created.created_at == created.updated_at == clock.now()
    assert any_store.get_user(created.id) == created
    assert any_store.get_user_by_login("o5") == created
    # The same row again changes nothing; a new name is an update; the password stays.
    assert any_store.upsert_users([row_of(created)], ACTOR) == ([created], 0, 0)
    clock.advance(minutes=1)
    [renamed], made, changed = any_store.upsert_users([row_of(created, name="钱警官")], ACTOR)
    assert (made, changed) == (0, 1)
    assert (renamed.id, renamed.name, renamed.password_hash) == (created.id, "钱警官", "hash-of-o5")
    assert (renamed.created_at, renamed.updated_at) == (created.created_at, clock.now())
    audit = any_store.list_audit(entity="user", entity_id=str(created.id))
    assert [e.action for e in audit] == ["user.create", "user.update"]
    assert audit[1].before is not None
    assert audit[1].after is not None
    assert (audit[1].before["name"], audit[1].after["name"]) == ("o5警官", "钱警官")
    assert "hash-of-o5" not in str([(e.before, e.after) for e in audit])
    assert any_store.get_user(created.id + 100) is None


def test_users_are_listed_by_jurisdiction_role_and_whether_active(
    any_store: Store, tiny: TinyCity
) -> None:
    any_store.update_user(tiny.id("o2"), {"active": False}, ACTOR)

    def logins(
        scope: Jurisdiction | None = None, role: str | None = None, active: bool | None = None
    ) -> list[str]:
        return [u.login for u in any_store.list_users(scope, role=role, active=active)]

    station = Jurisdiction(column="station_id", value="411602-01")
    assert logins() == [login for login in tiny.ids]  # in the order they were created
    assert logins(station) == ["sup1", "o1", "o2"]
    assert logins(station, role="officer") == ["o1", "o2"]
    assert logins(station, role="officer", active=True) == ["o1"]
    assert logins(active=False) == ["o2"]
    assert logins(Jurisdiction(column="county_id", value="411621"), role="officer") == ["o4"]
    assert logins(Jurisdiction(column="officer_id", value=tiny.id("o3"))) == ["o3"]


def test_update_user_changes_the_fields_given_and_refuses_an_unknown_user(
    any_store: Store, tiny: TinyCity
) -> None:
    o1 = tiny.id("o1")
    before = any_store.get_user(o1)
    assert before is not None
    user = any_store.update_user(o1, {"name": "张明", "must_change_password": True}, ACTOR)
    assert (user.name, user.must_change_password, user.login) == ("张明", True, "o1")
    assert any_store.get_user(o1) == user
    # A new password alone is audited without the hash.
    changed = any_store.update_user(o1, {"password_hash": "new-hash"}, ACTOR)
    assert changed.password_hash == "new-hash"
    audit = any_store.list_audit(entity="user", entity_id=str(o1))
    assert [e.action for e in audit][-2:] == ["user.update", "user.password"]
    assert (audit[-1].before, audit[-1].after) == (None, None)
    with pytest.raises(NotFound):
        any_store.update_user(o1 + 100, {"name": "x"}, ACTOR)


def test_an_officer_moved_or_disabled_hands_open_warnings_back_to_the_station_queue(
    any_store: Store, tiny: TinyCity
) -> None:
    platform, o1, o2 = tiny.id("platform"), tiny.id("o1"), tiny.id("o2")
    made = any_store.ingest_warnings(
        [
            new_warning(platform, name, officer)
            for name, officer in (("A", o1), ("B", o1), ("C", o2))
        ],
        ACTOR,
    )
    a, b, c = (w for w, _ in made)
    done = any_store.update_warning(b.id, 1, {"state": WarningState.COMPLETED}, "w", ACTOR)
    any_store.update_user(o1, {"unit_id": "411602-02", "station_id": "411602-02"}, ACTOR)
    returned = any_store.get_warning(a.id)
    assert returned is not None
    assert (returned.state, returned.officer_id, returned.queue) == (
        WarningState.NEW,
        None,
        Queue.STATION,
    )
    assert returned.routing_reason
    assert (returned.version, returned.seq) == (2, any_store.current_seq())
    assert any_store.get_warning(b.id) == done  # closed: it stays the officer's record
    assert any_store.latest_change(o1) == returned.seq  # o1's phone drops it
    audit = any_store.list_audit(entity="warning", entity_id=str(a.id))
    assert [e.action for e in audit] == ["warning.ingest", "warning.return"]
    # Disabled through a users sheet: the same.
    o2_user = any_store.get_user(o2)
    assert o2_user is not None
    any_store.upsert_users([row_of(o2_user, active=False)], ACTOR)
    c_now = any_store.get_warning(c.id)
    assert c_now is not None
    assert (c_now.state, c_now.officer_id, c_now.queue) == (WarningState.NEW, None, Queue.STATION)


def test_only_active_users_with_a_demo_password_are_counted(
    any_store: Store, tiny: TinyCity
) -> None:
    assert any_store.users_with_demo_password() == 0
    [demo], _, _ = any_store.upsert_users([a_person("o5") | {"demo_password": True}], ACTOR)
    assert demo.demo_password
    assert any_store.users_with_demo_password() == 1
    any_store.update_user(demo.id, {"active": False}, ACTOR)
    assert any_store.users_with_demo_password() == 0


# -- devices and sessions ----------------------------------------------------------------


def test_a_device_is_registered_once_per_user_and_each_login_touches_it(
    any_store: Store, tiny: TinyCity, clock: ManualClock
) -> None:
    o1, o2 = tiny.id("o1"), tiny.id("o2")
    expires = clock.now() + timedelta(days=30)
    _, first = any_store.open_session(o1, "phone-1", "Mate 60", "h1", expires)
    assert (first.user_id, first.device_id, first.name) == (o1, "phone-1", "Mate 60")
    assert (first.first_seen, first.last_seen, first.revoked_at) == (clock.now(), clock.now(), None)
    clock.advance(hours=2)
    session, again = any_store.open_session(o1, "phone-1", "Mate 60 Pro", "h2", expires)
    assert again.id == first.id
    assert (again.name, again.first_seen, again.last_seen) == (
        "Mate 60 Pro",
        first.first_seen,
        clock.now(),
    )
    assert any_store.get_device(o1, "phone-1") == again
    assert any_store.get_device_by_pk(first.id) == again
    # The same phone id under another user is another device.
    _, shared = any_store.open_session(o2, "phone-1", "Mate 60", "h3", expires)
    _, second = any_store.open_session(o1, "phone-2", "iPhone", "h4", expires)
    assert len({first.id, shared.id, second.id}) == 3
    assert any_store.list_devices([o2, o1]) == [again, second, shared]  # by user, then age
    assert any_store.list_devices(iter([tiny.id("o3")])) == []
    assert any_store.list_devices([]) == []
    assert any_store.get_device(o1, "phone-9") is None
    assert any_store.get_device_by_pk(second.id + 100) is None
    state = any_store.auth_state(session)
    assert state is not None
    assert (state.session_id, state.user.login, state.device) == (session, "o1", again)
    assert (state.session_revoked, state.device_revoked) == (False, False)


def test_logging_out_ends_that_session_alone_and_spends_its_refresh_token(
    any_store: Store, tiny: TinyCity, clock: ManualClock
) -> None:
    o1 = tiny.id("o1")
    expires = clock.now() + timedelta(days=30)
    session, _ = any_store.open_session(o1, "phone-1", "p", "h1", expires)
    other, _ = any_store.open_session(o1, "phone-2", "p", "h2", expires)
    clock.advance(minutes=3)
    any_store.revoke_session(session, "logout")
    ended = any_store.auth_state(session)
    assert ended is not None
    assert (ended.session_revoked, ended.session_revoked_at, ended.session_revoke_reason) == (
        True,
        clock.now(),
        "logout",
    )
    assert not ended.device_revoked
    # Ending it again keeps when and why it ended first.
    clock.advance(minutes=3)
    any_store.revoke_session(session, "again")
    assert any_store.auth_state(session) == ended
    still = any_store.auth_state(other)
    assert still is not None
    assert not still.session_revoked
    window = timedelta(seconds=120)
    assert any_store.rotate_refresh("h1", "h9", expires, window) == RefreshResult(
        outcome=RefreshOutcome.REVOKED, session_id=session, user_id=o1
    )
    assert any_store.auth_state("no-such-session") is None


def test_a_cut_off_sessions_hand_in_begins_once(
    any_store: Store, tiny: TinyCity, clock: ManualClock
) -> None:
    session, device = any_store.open_session(
        tiny.id("o1"), "phone-1", "p", "h1", clock.now() + timedelta(days=1)
    )
    any_store.revoke_device(device.id, ACTOR)
    clock.advance(minutes=10)
    began = any_store.open_handin(session)
    assert began == clock.now()
    clock.advance(minutes=10)
    assert any_store.open_handin(session) == began
    state = any_store.auth_state(session)
    assert state is not None
    assert state.handin_at == began


def test_a_hand_in_for_a_session_that_does_not_exist_is_not_found(any_store: Store) -> None:
    with pytest.raises(NotFound):
        any_store.open_handin("no-such-session")


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
    with pytest.raises(NotFound):
        any_store.revoke_device(device.id + 100, ACTOR)


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

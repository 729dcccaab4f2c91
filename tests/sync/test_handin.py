"""An officer is cut off (their phone revoked, or they are disabled) while visits they made
offline wait on the phone: the phone hands them in, then wipes. What was made before the
cut-off counts and is flagged for review; what was made after is kept, never applied; and
a thief holding the phone can read nothing and hand in once, for a short while.
(sync/PROTOCOL.md, Being cut off.)"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest

from server.clock import ManualClock
from server.store.interface import Store
from sync.hlc import HLC
from tests.support.api import a_warning, as_platform, as_user, assert_problem, bearer, login
from tests.support.city import TinyCity
from tests.support.sync import pull_all, push, visit

pytestmark = pytest.mark.anyio
O1_GRID = "411602001001"


async def deliver(client: httpx.AsyncClient, grid: str = O1_GRID) -> int:
    out = (
        await client.post(
            "/api/v1/platform/warnings",
            json={"warnings": [a_warning(grid)]},
            headers=await as_platform(client),
        )
    ).json()
    warning_id: int = out["results"][0]["warning_id"]
    return warning_id


def at(clock: ManualClock, **delta: float) -> str:
    """An HLC of the phone that ticked it at the server's time + delta."""
    when = clock.now() + timedelta(**delta)
    return HLC(int(when.timestamp() * 1000), 0, "phone-o1").encode()


async def revoke(client: httpx.AsyncClient, city: TinyCity, device_id: str) -> None:
    sup = await as_user(client, "sup1")
    devices = (
        await client.get("/api/v1/devices/", headers=sup, params={"user_id": city.id("o1")})
    ).json()
    [device] = [d for d in devices if d["device_id"] == device_id]
    response = await client.post(f"/api/v1/devices/{device['id']}/revoke", headers=sup)
    assert response.status_code == 200, response.text


async def refresh(client: httpx.AsyncClient, tokens: dict[str, Any]) -> httpx.Response:
    return await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )


async def hand_in(
    client: httpx.AsyncClient, token: str, *mutations: dict[str, Any], device_time: datetime
) -> httpx.Response:
    return await client.post(
        "/api/v1/sync/push",
        headers={"Authorization": f"Bearer {token}"},
        json={"device_time": device_time.isoformat(), "mutations": list(mutations)},
    )


async def test_a_revoked_phone_hands_in_what_it_recorded_before_and_nothing_after(
    client: httpx.AsyncClient, city: TinyCity, store: Store, clock: ManualClock
) -> None:
    warning = await deliver(client)
    phone = await login(client, "o1", device="phone-o1")
    await pull_all(client, bearer(phone))
    before = visit(warning, hlc_text=at(clock, minutes=5))
    clock.advance(minutes=10)
    await revoke(client, city, "phone-o1")
    within_tolerance = visit(warning, outcome=None, hlc_text=at(clock, minutes=8))
    after = visit(warning, outcome="refused", hlc_text=at(clock, minutes=40))
    clock.advance(hours=2)  # the phone comes back into coverage, its access token expired

    assert_problem(
        await client.get("/api/v1/sync/pull", headers=bearer(phone)), 401, "token_expired"
    )
    cut_off = assert_problem(await refresh(client, phone), 401, "device_revoked")
    # An old app reads what it always read, and wipes.
    assert cut_off["action"] == "wipe"
    token = cut_off["handin_token"]

    response = await hand_in(
        client, token, before, within_tolerance, after, device_time=clock.now()
    )
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["applied", "applied", "rejected"]
    assert results[2]["problem"]["code"] == "recorded_after_revocation"

    logs = {v.entry_id: v for v in store.visit_logs_for("warning", warning)}
    assert set(logs) == {before["entry"]["entry_id"], within_tolerance["entry"]["entry_id"]}
    for log in logs.values():
        assert "handed_in_at_revocation" in log.flags
    sup1 = await as_user(client, "sup1")
    seen = (await client.get(f"/api/v1/warnings/{warning}", headers=sup1)).json()
    assert seen["outcome"] == "dissuaded"  # the visit made before counts, as usual
    kept = (await client.get("/api/v1/rejected-mutations", headers=sup1)).json()["items"]
    assert [(k["code"], k["mutation_id"]) for k in kept] == [
        ("recorded_after_revocation", after["mutation_id"])
    ]
    queue = (await client.get("/api/v1/review/", headers=sup1)).json()["items"]
    reasons = {i["entry_id"]: i["reasons"] for i in queue}
    assert "handed_in_at_revocation" in reasons[before["entry"]["entry_id"]]

    # A lost answer: the same hand-in again gets the same verdicts and changes nothing.
    again = await hand_in(client, token, before, within_tolerance, after, device_time=clock.now())
    assert again.json()["results"] == results
    assert len(store.visit_logs_for("warning", warning)) == 2


async def test_the_handin_token_opens_the_push_and_nothing_else(
    client: httpx.AsyncClient, city: TinyCity, clock: ManualClock
) -> None:
    warning = await deliver(client)
    phone = await login(client, "o1", device="phone-o1")
    await revoke(client, city, "phone-o1")
    cut_off = assert_problem(
        await client.get("/api/v1/sync/pull", headers=bearer(phone)), 401, "device_revoked"
    )
    thief = {"Authorization": f"Bearer {cut_off['handin_token']}"}
    for method, path in [
        ("GET", "/api/v1/sync/pull"),
        ("GET", "/api/v1/sync/events"),
        ("GET", "/api/v1/sync/wait"),
        ("GET", "/api/v1/auth/me"),
        ("GET", f"/api/v1/warnings/{warning}"),
        ("GET", f"/api/v1/photos/tasks/warning/{warning}"),
        ("POST", "/api/v1/uploads/"),
        ("POST", "/api/v1/auth/logout"),
    ]:
        refused = await client.request(method, path, headers=thief)
        assert_problem(refused, 401, "token_invalid")
    # Nor does it trade for a session.
    traded = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": cut_off["handin_token"]}
    )
    assert_problem(traded, 401, "refresh_token_invalid")
    # A token not signed by this server opens nothing either.
    claims = jwt.decode(cut_off["handin_token"], options={"verify_signature": False})
    forged = jwt.encode(claims, "not-the-server-secret-but-long-enough!!", algorithm="HS256")
    refused = await hand_in(
        client, forged, visit(warning, hlc_text=at(clock)), device_time=clock.now()
    )
    assert_problem(refused, 401, "token_invalid")


async def test_a_session_hands_in_for_a_short_while_and_never_again(
    client: httpx.AsyncClient, city: TinyCity, store: Store, clock: ManualClock
) -> None:
    warning = await deliver(client)
    phone = await login(client, "o1", device="phone-o1")
    await revoke(client, city, "phone-o1")
    first = assert_problem(await refresh(client, phone), 401, "device_revoked")["handin_token"]
    clock.advance(minutes=1)
    # The answer carrying the token was lost: the phone asks again and gets one.
    second = assert_problem(await refresh(client, phone), 401, "device_revoked")["handin_token"]
    assert second

    handed = await hand_in(
        client, second, visit(warning, hlc_text=at(clock, minutes=-5)), device_time=clock.now()
    )
    assert handed.status_code == 200
    clock.advance(minutes=10)
    more = await hand_in(
        client,
        first,
        visit(warning, outcome=None, hlc_text=at(clock, minutes=-15)),
        device_time=clock.now(),
    )
    assert more.status_code == 200  # the next batch, within the window

    clock.advance(minutes=6)  # 16 minutes after the first hand-in
    late = await hand_in(
        client, second, visit(warning, hlc_text=at(clock, minutes=-30)), device_time=clock.now()
    )
    assert assert_problem(late, 401, "device_revoked")["action"] == "wipe"
    assert "handin_token" not in late.json()
    again = assert_problem(await refresh(client, phone), 401, "device_revoked")
    assert "handin_token" not in again
    assert len(store.visit_logs_for("warning", warning)) == 2


async def test_a_disabled_officers_phone_hands_in_and_the_visit_counts_for_review(
    client: httpx.AsyncClient, city: TinyCity, store: Store, clock: ManualClock
) -> None:
    warning = await deliver(client)
    phone = await login(client, "o1", device="phone-o1")
    await pull_all(client, bearer(phone))
    offline = visit(warning, hlc_text=at(clock, minutes=1))
    clock.advance(minutes=3)
    admin = await as_user(client, "admin")
    disabled = await client.patch(
        f"/api/v1/users/{city.id('o1')}", json={"active": False}, headers=admin
    )
    assert disabled.status_code == 200, disabled.text

    cut_off = assert_problem(
        await client.get("/api/v1/sync/pull", headers=bearer(phone)), 401, "user_disabled"
    )
    assert cut_off["action"] == "wipe"
    response = await hand_in(client, cut_off["handin_token"], offline, device_time=clock.now())
    [result] = response.json()["results"]
    # The warning went back to the station queue when o1 was disabled; the visit stands.
    assert (result["status"], result["rule"]) == ("conflict", "visit_after_reassign")
    [log] = store.visit_logs_for("warning", warning)
    assert log.flags == ["visit_after_reassign", "handed_in_at_revocation"]
    sup1 = await as_user(client, "sup1")
    seen = (await client.get(f"/api/v1/warnings/{warning}", headers=sup1)).json()
    assert (seen["state"], seen["outcome"]) == ("completed", "dissuaded")


async def test_a_session_that_had_ended_otherwise_has_nothing_to_hand_in(
    client: httpx.AsyncClient, city: TinyCity
) -> None:
    phone = await login(client, "o1", device="phone-o1")
    logged_out = await client.post("/api/v1/auth/logout", headers=bearer(phone))
    assert logged_out.status_code < 300
    await revoke(client, city, "phone-o1")
    cut_off = assert_problem(await refresh(client, phone), 401, "device_revoked")
    assert cut_off["action"] == "wipe"
    assert "handin_token" not in cut_off


async def test_a_re_enabled_officer_signs_in_again_rather_than_hand_in(
    client: httpx.AsyncClient, city: TinyCity, store: Store, clock: ManualClock
) -> None:
    warning = await deliver(client)
    phone = await login(client, "o1", device="phone-o1")
    admin = await as_user(client, "admin")
    user = f"/api/v1/users/{city.id('o1')}"
    await client.patch(user, json={"active": False}, headers=admin)
    token = assert_problem(await refresh(client, phone), 401, "user_disabled")["handin_token"]
    await client.patch(user, json={"active": True}, headers=admin)
    refused = await hand_in(
        client, token, visit(warning, hlc_text=at(clock)), device_time=clock.now()
    )
    assert_problem(refused, 401, "token_invalid")
    again = await login(client, "o1", device="phone-o1")
    pushed = await push(client, bearer(again), visit(warning, hlc_text=at(clock)))
    # Their warning went back to the queue while they were disabled: an ordinary push.
    assert pushed["results"][0]["rule"] == "visit_after_reassign"
    [log] = store.visit_logs_for("warning", warning)
    assert log.flags == ["visit_after_reassign"]


async def test_a_moved_officer_is_not_cut_off_and_their_offline_visit_still_counts(
    client: httpx.AsyncClient, city: TinyCity, store: Store, clock: ManualClock
) -> None:
    warning = await deliver(client)
    o1 = await as_user(client, "o1", device="phone-o1")
    await pull_all(client, o1)
    admin = await as_user(client, "admin")
    moved = await client.patch(
        f"/api/v1/users/{city.id('o1')}", json={"unit_id": "411602-02"}, headers=admin
    )
    assert moved.status_code == 200, moved.text

    result = await push(client, o1, visit(warning, hlc_text=at(clock)))
    [verdict] = result["results"]
    assert (verdict["status"], verdict["rule"]) == ("conflict", "visit_after_reassign")
    [log] = store.visit_logs_for("warning", warning)
    assert log.flags == ["visit_after_reassign"]

"""Officers log in from phones; a lost phone is cut off at once and told to wipe."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import jwt
import pytest

from server.clock import ManualClock
from tests.support import raw
from tests.support.api import as_user, assert_problem, bearer, login
from tests.support.city import PASSWORD, PLATFORM_SECRET, TinyCity

pytestmark = pytest.mark.anyio


async def test_an_officer_logs_in_from_a_phone_and_the_device_is_registered(
    client, city: TinyCity
) -> None:
    tokens = await login(client, "o1", device="phone-o1-a")
    assert tokens["token_type"] == "Bearer"
    assert tokens["user"]["role"] == "officer"
    assert tokens["user"]["station_id"] == "411602-01"
    me = await client.get("/api/v1/auth/me", headers=bearer(tokens))
    assert me.json()["device_id"] == "phone-o1-a"
    devices = (await client.get("/api/v1/devices/mine", headers=bearer(tokens))).json()
    assert [d["device_id"] for d in devices] == ["phone-o1-a"]
    assert devices[0]["revoked_at"] is None


async def test_a_wrong_password_and_an_unknown_login_get_the_same_answer(client, city) -> None:
    wrong = await client.post(
        "/api/v1/auth/login", json={"login": "o1", "password": "nope", "device_id": "phone-1"}
    )
    unknown = await client.post(
        "/api/v1/auth/login", json={"login": "nobody", "password": "nope", "device_id": "phone-1"}
    )
    assert (
        assert_problem(wrong, 401, "invalid_credentials")["title"]
        == (assert_problem(unknown, 401, "invalid_credentials")["title"])
    )


async def test_repeated_failed_logins_are_slowed_down(client, city, clock: ManualClock) -> None:
    for _ in range(5):
        response = await client.post(
            "/api/v1/auth/login", json={"login": "o1", "password": "guess", "device_id": "phone-1"}
        )
        assert response.status_code == 401
    # Even the right password waits now: the account is being guessed at.
    blocked = await client.post(
        "/api/v1/auth/login", json={"login": "o1", "password": PASSWORD, "device_id": "phone-1"}
    )
    assert_problem(blocked, 429, "too_many_attempts")
    assert int(blocked.headers["retry-after"]) > 0
    clock.advance(seconds=int(blocked.headers["retry-after"]))
    await login(client, "o1", device="phone-1")


async def test_an_expired_access_token_is_refreshed_and_each_refresh_token_works_once(
    client, city, clock: ManualClock
) -> None:
    tokens = await login(client, "o1")
    clock.advance(seconds=901)
    expired = await client.get("/api/v1/auth/me", headers=bearer(tokens))
    assert_problem(expired, 401, "token_expired")
    fresh = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert fresh.status_code == 200, fresh.text
    new = fresh.json()
    assert new["refresh_token"] != tokens["refresh_token"]
    assert (await client.get("/api/v1/auth/me", headers=bearer(new))).status_code == 200


async def test_a_refresh_token_used_twice_revokes_the_session(client, city) -> None:
    tokens = await login(client, "o1")
    first = (
        await client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    ).json()
    second = (
        await client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    ).json()
    # Someone replays the first token after the phone moved on: a copy of it exists
    # somewhere it should not.
    replay = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert assert_problem(replay, 401, "refresh_token_reused")["action"] == "wipe"
    # Both holders are out: the newest access token and refresh token stop working too.
    assert_problem(
        await client.get("/api/v1/auth/me", headers=bearer(second)), 401, "token_invalid"
    )
    again = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]}
    )
    assert again.status_code == 401


def session_of(tokens: dict[str, Any]) -> str:
    claims: dict[str, Any] = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    return str(claims["sid"])


def sessions_in(database: str) -> int:
    return raw.count(database, "sessions")


async def refresh(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post("/api/v1/auth/refresh", json={"refresh_token": token})


async def test_a_refresh_whose_answer_was_lost_gets_the_same_answer_again(
    client, city, clock: ManualClock, database: str
) -> None:
    tokens = await login(client, "o1")
    lost = await refresh(client, tokens["refresh_token"])
    assert lost.status_code == 200  # ... but the phone never read it
    clock.advance(seconds=119)
    retry = await refresh(client, tokens["refresh_token"])
    assert retry.status_code == 200, retry.text
    # The same successor, in the same session: no second line of tokens exists.
    assert retry.json()["refresh_token"] == lost.json()["refresh_token"]
    assert retry.json()["refresh_expires_at"] == lost.json()["refresh_expires_at"]
    assert session_of(retry.json()) == session_of(lost.json()) == session_of(tokens)
    assert sessions_in(database) == 1
    assert (await client.get("/api/v1/auth/me", headers=bearer(retry.json()))).status_code == 200
    # The phone goes on with it as with any successor.
    onward = await refresh(client, retry.json()["refresh_token"])
    assert onward.status_code == 200, onward.text


async def test_concurrent_refreshes_of_one_token_make_one_successor_in_one_session(
    client, city, database: str
) -> None:
    tokens = await login(client, "o1")
    answers = await asyncio.gather(*(refresh(client, tokens["refresh_token"]) for _ in range(4)))
    assert [a.status_code for a in answers] == [200] * 4, [a.text for a in answers]
    assert len({a.json()["refresh_token"] for a in answers}) == 1
    assert {session_of(a.json()) for a in answers} == {session_of(tokens)}
    assert sessions_in(database) == 1
    # Whichever answer the phone kept, its next refresh works once.
    assert (await refresh(client, answers[2].json()["refresh_token"])).status_code == 200


async def test_a_replay_within_the_window_gets_no_session_of_its_own(
    client, city, clock: ManualClock, database: str
) -> None:
    """A thief replaying a copied token at once is indistinguishable from a retry, but
    gets no line of tokens of their own: they hold the phone's successor, and the first
    of the two to present a token the other has spent, after the window, ends it all."""
    tokens = await login(client, "o1")
    phone = (await refresh(client, tokens["refresh_token"])).json()
    clock.advance(seconds=10)
    thief = (await refresh(client, tokens["refresh_token"])).json()
    assert thief["refresh_token"] == phone["refresh_token"]
    assert session_of(thief) == session_of(phone)
    assert sessions_in(database) == 1
    clock.advance(minutes=10)
    phone = (await refresh(client, phone["refresh_token"])).json()
    clock.advance(minutes=10)
    caught = await refresh(client, thief["refresh_token"])
    assert assert_problem(caught, 401, "refresh_token_reused")["action"] == "wipe"
    assert_problem(await client.get("/api/v1/auth/me", headers=bearer(phone)), 401, "token_invalid")
    assert_problem(await refresh(client, phone["refresh_token"]), 401, "refresh_token_invalid")


async def test_a_refresh_token_replayed_after_the_window_revokes_the_session(
    client, city, clock: ManualClock
) -> None:
    tokens = await login(client, "o1")
    phone = (await refresh(client, tokens["refresh_token"])).json()
    clock.advance(seconds=121)
    replay = await refresh(client, tokens["refresh_token"])
    assert assert_problem(replay, 401, "refresh_token_reused")["action"] == "wipe"
    # The whole session ends: the successor the phone holds, unused, is dead too.
    assert_problem(await client.get("/api/v1/auth/me", headers=bearer(phone)), 401, "token_invalid")
    assert_problem(await refresh(client, phone["refresh_token"]), 401, "refresh_token_invalid")


async def test_a_supervisor_cuts_off_a_lost_phone_on_its_very_next_request(
    client, city: TinyCity
) -> None:
    phone = await login(client, "o1", device="lost-phone")
    sup = await as_user(client, "sup1")
    devices = (
        await client.get("/api/v1/devices/", headers=sup, params={"user_id": city.id("o1")})
    ).json()
    [lost] = [d for d in devices if d["device_id"] == "lost-phone"]
    revoked = await client.post(f"/api/v1/devices/{lost['id']}/revoke", headers=sup)
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None

    refused = await client.get("/api/v1/warnings/", headers=bearer(phone))
    assert assert_problem(refused, 401, "device_revoked")["action"] == "wipe"
    refresh = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": phone["refresh_token"]}
    )
    assert_problem(refresh, 401, "device_revoked")
    relogin = await client.post(
        "/api/v1/auth/login", json={"login": "o1", "password": PASSWORD, "device_id": "lost-phone"}
    )
    assert_problem(relogin, 401, "device_revoked")
    # The officer's new phone works.
    await login(client, "o1", device="new-phone")


async def test_an_officer_revokes_their_own_lost_phone_but_not_a_colleagues(
    client, city: TinyCity
) -> None:
    lost = await login(client, "o1", device="lost-phone")
    spare = await as_user(client, "o1", device="spare-phone")
    mine = (await client.get("/api/v1/devices/mine", headers=spare)).json()
    [lost_row] = [d for d in mine if d["device_id"] == "lost-phone"]
    colleague = await as_user(client, "o2")
    assert_problem(
        await client.post(f"/api/v1/devices/{lost_row['id']}/revoke", headers=colleague),
        404,
        "not_found",
    )
    assert (
        await client.post(f"/api/v1/devices/{lost_row['id']}/revoke", headers=spare)
    ).status_code == 200
    assert_problem(await client.get("/api/v1/auth/me", headers=bearer(lost)), 401, "device_revoked")


async def test_another_stations_supervisor_cannot_see_or_revoke_the_device(
    client, city: TinyCity
) -> None:
    await login(client, "o1", device="phone-o1")
    sup1 = await as_user(client, "sup1")
    [device] = (
        await client.get("/api/v1/devices/", headers=sup1, params={"user_id": city.id("o1")})
    ).json()
    sup2 = await as_user(client, "sup2")
    assert (
        await client.get("/api/v1/devices/", headers=sup2, params={"user_id": city.id("o1")})
    ).json() == []
    assert_problem(
        await client.post(f"/api/v1/devices/{device['id']}/revoke", headers=sup2), 404, "not_found"
    )


async def test_logout_ends_the_session(client, city) -> None:
    tokens = await login(client, "o1")
    assert (await client.post("/api/v1/auth/logout", headers=bearer(tokens))).status_code == 204
    assert_problem(
        await client.get("/api/v1/auth/me", headers=bearer(tokens)), 401, "token_invalid"
    )


async def test_requests_without_a_valid_token_are_refused(client, city, settings) -> None:
    missing = await client.get("/api/v1/warnings/")
    assert_problem(missing, 401, "not_authenticated")
    assert missing.headers["www-authenticate"].startswith("Bearer")
    forged = jwt.encode(
        {
            "sub": "1",
            "sid": "x",
            "dpk": 1,
            "did": "d",
            "role": "city_admin",
            "iss": "beatsync",
            "iat": 0,
            "exp": 4102444800,
        },
        "not-the-server-secret-but-long-enough-for-hs256",
        algorithm="HS256",
    )
    assert_problem(
        await client.get("/api/v1/warnings/", headers={"Authorization": f"Bearer {forged}"}),
        401,
        "token_invalid",
    )
    assert_problem(
        await client.get("/api/v1/warnings/", headers={"Authorization": "Bearer not.a.jwt"}),
        401,
        "token_invalid",
    )


async def test_the_platform_and_people_log_in_through_their_own_doors(client, city) -> None:
    ok = await client.post(
        "/api/v1/auth/token", json={"client_id": "platform", "client_secret": PLATFORM_SECRET}
    )
    assert ok.status_code == 200
    assert ok.json()["refresh_token"] is None
    person_at_platform_door = await client.post(
        "/api/v1/auth/token", json={"client_id": "o1", "client_secret": PASSWORD}
    )
    assert_problem(person_at_platform_door, 401, "invalid_credentials")
    platform_at_person_door = await client.post(
        "/api/v1/auth/login",
        json={"login": "platform", "password": PLATFORM_SECRET, "device_id": "phone-1"},
    )
    assert_problem(platform_at_person_door, 401, "invalid_credentials")


async def test_roles_are_enforced(client, city) -> None:
    officer = await as_user(client, "o1")
    response = await client.get("/api/v1/devices/", headers=officer)
    assert_problem(response, 403, "forbidden")
    platform = (
        await client.post(
            "/api/v1/auth/token", json={"client_id": "platform", "client_secret": PLATFORM_SECRET}
        )
    ).json()
    assert_problem(
        await client.get("/api/v1/warnings/", headers=bearer(platform)), 403, "forbidden"
    )

"""A supervisor's console in a browser holds its session in cookies no script can read:
reads work from a plain link, every change must carry the CSRF token, a refresh rotates
like the bearer one, logging out clears it all, and officers get no such session."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from server.clock import ManualClock
from server.store.interface import Store
from tests.support.api import a_warning, as_platform, as_user, assert_problem
from tests.support.city import PASSWORD, TinyCity

pytestmark = pytest.mark.anyio
SESSION = "/api/v1/auth/session"


async def open_session(
    client: httpx.AsyncClient, who: str = "sup1", **extra: Any
) -> httpx.Response:
    response = await client.post(SESSION, json={"login": who, "password": PASSWORD, **extra})
    assert response.status_code == 200, response.text
    return response


def set_cookies(response: httpx.Response) -> dict[str, str]:
    """Each Set-Cookie header by cookie name, as the browser gets it."""
    return {header.split("=", 1)[0]: header for header in response.headers.get_list("set-cookie")}


def attributes(header: str) -> set[str]:
    return {part.strip().lower() for part in header.split(";")[1:]}


async def a_queued_warning(client: httpx.AsyncClient) -> int:
    out = await client.post(
        "/api/v1/platform/warnings",
        json={"warnings": [a_warning("411602001003")]},
        headers=await as_platform(client),
    )
    return int(out.json()["results"][0]["warning_id"])


async def test_logging_in_sets_httponly_strict_cookies_and_no_token_in_the_body(
    client: httpx.AsyncClient, city: TinyCity
) -> None:
    response = await open_session(client)
    body = response.json()
    assert body["user"]["login"] == "sup1"
    assert "access_token" not in body
    assert "refresh_token" not in body
    cookies = set_cookies(response)
    assert set(cookies) == {"beatsync_access", "beatsync_refresh", "beatsync_csrf"}
    access = attributes(cookies["beatsync_access"])
    assert {"httponly", "path=/", "samesite=strict", "max-age=900"} <= access
    refresh = attributes(cookies["beatsync_refresh"])
    assert {"httponly", "path=/api/v1/auth/session", "samesite=strict"} <= refresh
    csrf = attributes(cookies["beatsync_csrf"])
    assert {"path=/", "samesite=strict"} <= csrf
    assert "httponly" not in csrf
    assert client.cookies["beatsync_csrf"] == body["csrf_token"]
    # Plain HTTP in a test or demo: not Secure, or the browser would drop them.
    assert not any("secure" in attributes(c) for c in cookies.values())


async def test_cookies_are_secure_over_https_and_in_production(
    client: httpx.AsyncClient, city: TinyCity
) -> None:
    response = await client.post(
        "https://beatsync.test" + SESSION, json={"login": "sup1", "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    assert all("secure" in attributes(c) for c in set_cookies(response).values())


async def test_the_cookie_reads_and_downloads_without_a_token(
    client: httpx.AsyncClient, city: TinyCity
) -> None:
    await open_session(client, "county1")
    me = await client.get("/api/v1/auth/me")
    assert me.status_code == 200, me.text
    assert me.json()["login"] == "county1"
    download = await client.get("/api/v1/reports/bulletin/xlsx", params={"day": "2026-11-25"})
    assert download.status_code == 200, download.text
    assert download.headers["content-disposition"].startswith("attachment")
    # A bearer header, when there is one, is what counts.
    officer = await client.get("/api/v1/auth/me", headers=await as_user(client, "o1"))
    assert officer.json()["login"] == "o1"


async def test_a_change_without_the_csrf_header_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, store: Store, city: TinyCity
) -> None:
    warning = await a_queued_warning(client)
    await open_session(client)
    before = store.get_warning(warning)
    change = {"officer_id": city.id("o1")}
    path = f"/api/v1/warnings/{warning}/reassign"
    assert_problem(await client.post(path, json=change), 403, "csrf_failed")
    assert_problem(
        await client.post(path, json=change, headers={"X-CSRF-Token": "forged"}),
        403,
        "csrf_failed",
    )
    assert store.get_warning(warning) == before
    done = await client.post(
        path, json=change, headers={"X-CSRF-Token": client.cookies["beatsync_csrf"]}
    )
    assert done.status_code == 200, done.text
    assert done.json()["officer_id"] == city.id("o1")


async def test_another_sessions_csrf_token_does_not_pass(
    client: httpx.AsyncClient, store: Store, city: TinyCity
) -> None:
    other = (await open_session(client, "county1")).json()["csrf_token"]
    await open_session(client, "sup1", device_id="browser-0002")
    warning = await a_queued_warning(client)
    # A cookie planted beside the session (by a sibling site, say) with its own header.
    client.cookies.set("beatsync_csrf", other, domain="beatsync.test")
    assert_problem(
        await client.post(
            f"/api/v1/warnings/{warning}/cancel",
            json={"reason": "重复"},
            headers={"X-CSRF-Token": other},
        ),
        403,
        "csrf_failed",
    )
    assert store.get_warning(warning).state == "new"  # type: ignore[union-attr]


async def test_refresh_rotates_and_a_reused_refresh_cookie_ends_the_session(
    client: httpx.AsyncClient, clock: ManualClock, city: TinyCity
) -> None:
    first = await open_session(client)
    csrf = first.json()["csrf_token"]
    old_refresh = client.cookies["beatsync_refresh"]
    assert_problem(await client.post(f"{SESSION}/refresh"), 403, "csrf_failed")
    assert client.cookies["beatsync_refresh"] == old_refresh  # not spent by the refusal
    clock.advance(minutes=20)
    assert_problem(await client.get("/api/v1/auth/me"), 401, "token_expired")
    renewed = await client.post(f"{SESSION}/refresh", headers={"X-CSRF-Token": csrf})
    assert renewed.status_code == 200, renewed.text
    assert renewed.json()["csrf_token"] == csrf  # the same session
    assert client.cookies["beatsync_refresh"] != old_refresh
    assert (await client.get("/api/v1/auth/me")).status_code == 200
    again = await client.post(f"{SESSION}/refresh", headers={"X-CSRF-Token": csrf})
    assert again.status_code == 200, again.text
    # The first refresh cookie, replayed after its successor was used (stolen, say):
    # the session ends, as a reused bearer refresh token ends it.
    client.cookies.set(
        "beatsync_refresh", old_refresh, domain="beatsync.test", path="/api/v1/auth/session"
    )
    replay = await client.post(f"{SESSION}/refresh", headers={"X-CSRF-Token": csrf})
    assert_problem(replay, 401, "refresh_token_reused")
    assert_problem(await client.get("/api/v1/auth/me"), 401, "token_invalid")


async def test_two_tabs_refreshing_at_once_get_the_same_cookies_and_keep_the_session(
    client: httpx.AsyncClient, clock: ManualClock, city: TinyCity
) -> None:
    csrf = (await open_session(client)).json()["csrf_token"]
    old_refresh = client.cookies["beatsync_refresh"]
    clock.advance(minutes=20)
    tabs = await asyncio.gather(
        *(client.post(f"{SESSION}/refresh", headers={"X-CSRF-Token": csrf}) for _ in range(2))
    )
    assert [t.status_code for t in tabs] == [200, 200], [t.text for t in tabs]
    assert {t.cookies["beatsync_refresh"] for t in tabs} == {client.cookies["beatsync_refresh"]}
    assert {t.json()["csrf_token"] for t in tabs} == {csrf}
    assert (await client.get("/api/v1/auth/me")).status_code == 200
    # Past the window, the spent cookie is reuse: the session ends.
    clock.advance(seconds=121)
    client.cookies.set(
        "beatsync_refresh", old_refresh, domain="beatsync.test", path="/api/v1/auth/session"
    )
    replay = await client.post(f"{SESSION}/refresh", headers={"X-CSRF-Token": csrf})
    assert_problem(replay, 401, "refresh_token_reused")
    assert_problem(await client.get("/api/v1/auth/me"), 401, "token_invalid")


async def test_logging_out_ends_the_session_and_clears_the_cookies(
    client: httpx.AsyncClient, city: TinyCity
) -> None:
    await open_session(client)
    assert_problem(await client.delete(SESSION), 403, "csrf_failed")
    out = await client.delete(SESSION, headers={"X-CSRF-Token": client.cookies["beatsync_csrf"]})
    assert out.status_code == 204, out.text
    cleared = set_cookies(out)
    assert set(cleared) == {"beatsync_access", "beatsync_refresh", "beatsync_csrf"}
    assert all("max-age=0" in attributes(c) for c in cleared.values())
    assert not client.cookies
    assert_problem(await client.get("/api/v1/auth/me"), 401, "not_authenticated")


async def test_an_officer_or_the_platform_gets_no_browser_session(
    client: httpx.AsyncClient, city: TinyCity
) -> None:
    officer = await client.post(SESSION, json={"login": "o1", "password": PASSWORD})
    assert_problem(officer, 403, "forbidden")
    assert "set-cookie" not in officer.headers
    platform = await client.post(SESSION, json={"login": "platform", "password": PASSWORD})
    assert_problem(platform, 401, "invalid_credentials")
    wrong = await client.post(SESSION, json={"login": "sup1", "password": "nope"})
    assert_problem(wrong, 401, "invalid_credentials")


async def test_a_disabled_users_cookie_is_refused_with_a_wipe(
    client: httpx.AsyncClient, city: TinyCity
) -> None:
    await open_session(client)
    admin = await as_user(client, "admin")
    disabled = await client.patch(
        f"/api/v1/users/{city.id('sup1')}", json={"active": False}, headers=admin
    )
    assert disabled.status_code == 200, disabled.text
    refused = assert_problem(await client.get("/api/v1/auth/me"), 401, "user_disabled")
    assert refused["action"] == "wipe"


async def test_a_revoked_browsers_cookie_is_refused_with_a_wipe(
    client: httpx.AsyncClient, store: Store, city: TinyCity
) -> None:
    await open_session(client, device_id="browser-7f3a")
    device = store.get_device(city.id("sup1"), "browser-7f3a")
    assert device is not None
    admin = await as_user(client, "admin")
    revoked = await client.post(f"/api/v1/devices/{device.id}/revoke", headers=admin)
    assert revoked.status_code == 200, revoked.text
    refused = assert_problem(await client.get("/api/v1/auth/me"), 401, "device_revoked")
    assert refused["action"] == "wipe"

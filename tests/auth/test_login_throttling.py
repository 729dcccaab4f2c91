"""Guessing is slowed per account, with backoff; an address that guesses a lot is slowed
too, but never keeps a correct password out: a station's phones share one address. The
address is the peer's, or what a trusted proxy (BEATSYNC_TRUSTED_PROXIES) says."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import httpx
import msgspec
import pytest
from litestar import Litestar

from server.app import create_app
from server.auth.passwords import Passwords
from server.clock import ManualClock
from server.proxies import client_address
from server.settings import Settings, SettingsError
from server.store.interface import Store
from tests.support.api import assert_problem
from tests.support.city import PASSWORD, PLATFORM_SECRET, TinyCity

pytestmark = pytest.mark.anyio
LOGIN = "/api/v1/auth/login"
WRONG = "guess"  # a wrong password, on purpose


@asynccontextmanager
async def from_peer(app: Litestar, peer: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=(peer, 50000))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://beatsync.test", timeout=10
    ) as c:
        yield c


async def attempt(
    client: httpx.AsyncClient,
    who: str,
    password: str = WRONG,
    headers: Mapping[str, str] | None = None,
) -> httpx.Response:
    return await client.post(
        LOGIN,
        json={"login": who, "password": password, "device_id": "phone-0001"},
        headers=dict(headers or {}),
    )


async def guess_from_one_address(
    client: httpx.AsyncClient, times: int = 20, headers: Mapping[str, str] | None = None
) -> None:
    """What one person behind a station's address does: many logins, all wrong."""
    for n in range(times):
        response = await attempt(client, f"nobody-{n}", headers=headers)
        assert_problem(response, 401, "invalid_credentials")


async def test_twenty_failures_from_an_address_keep_no_correct_password_out(
    client: httpx.AsyncClient, city: TinyCity
) -> None:
    await guess_from_one_address(client)
    await guess_from_one_address(client)
    ok = await attempt(client, "o2", PASSWORD)
    assert ok.status_code == 200, ok.text
    platform = await client.post(
        "/api/v1/auth/token", json={"client_id": "platform", "client_secret": PLATFORM_SECRET}
    )
    assert platform.status_code == 200, platform.text
    console = await client.post(
        "/api/v1/auth/session", json={"login": "sup1", "password": PASSWORD}
    )
    assert console.status_code == 200, console.text


async def test_from_an_address_over_its_limit_one_failure_puts_the_account_in_backoff(
    client: httpx.AsyncClient, city: TinyCity, clock: ManualClock
) -> None:
    # Under the limit, an account has its own allowance of failures.
    assert_problem(await attempt(client, "o3"), 401, "invalid_credentials")
    assert (await attempt(client, "o3", PASSWORD)).status_code == 200
    await guess_from_one_address(client)
    # Over it, the first wrong guess at an account is the last for a while ...
    assert_problem(await attempt(client, "o2"), 401, "invalid_credentials")
    waiting = assert_problem(await attempt(client, "o2", PASSWORD), 429, "too_many_attempts")
    assert "o2" not in str(waiting)
    wait = int((await attempt(client, "o2", PASSWORD)).headers["retry-after"])
    assert 0 < wait <= 30
    # ... while an account not guessed at still logs in from that address.
    assert (await attempt(client, "o3", PASSWORD)).status_code == 200
    clock.advance(seconds=wait)
    assert (await attempt(client, "o2", PASSWORD)).status_code == 200


async def test_an_accounts_backoff_doubles_and_a_success_resets_it(
    client: httpx.AsyncClient, city: TinyCity, clock: ManualClock
) -> None:
    for _ in range(5):
        assert_problem(await attempt(client, "o1"), 401, "invalid_credentials")
    first = assert_problem(await attempt(client, "o1", PASSWORD), 429, "too_many_attempts")
    assert first["status"] == 429
    assert int((await attempt(client, "o1")).headers["retry-after"]) == 30
    clock.advance(seconds=30)
    assert_problem(await attempt(client, "o1"), 401, "invalid_credentials")
    blocked = await attempt(client, "o1", PASSWORD)
    assert_problem(blocked, 429, "too_many_attempts")
    assert int(blocked.headers["retry-after"]) == 60
    clock.advance(seconds=59)
    assert int((await attempt(client, "o1", PASSWORD)).headers["retry-after"]) == 1
    clock.advance(seconds=1)
    assert (await attempt(client, "o1", PASSWORD)).status_code == 200
    # A success clears the account: the next wrong password is just wrong.
    assert_problem(await attempt(client, "o1"), 401, "invalid_credentials")
    assert (await attempt(client, "o1", PASSWORD)).status_code == 200
    # The wait is never longer than the window (15 min), and failures age out of it.
    for _ in range(12):
        await attempt(client, "o1")
        clock.advance(seconds=900)
    assert (await attempt(client, "o1", PASSWORD)).status_code == 200


async def test_the_platforms_token_is_throttled_by_its_own_account(
    client: httpx.AsyncClient, city: TinyCity
) -> None:
    wrong = {"client_id": "platform", "client_secret": "nope"}
    for _ in range(5):
        assert_problem(
            await client.post("/api/v1/auth/token", json=wrong), 401, "invalid_credentials"
        )
    right = {"client_id": "platform", "client_secret": PLATFORM_SECRET}
    blocked = await client.post("/api/v1/auth/token", json=right)
    assert_problem(blocked, 429, "too_many_attempts")
    assert int(blocked.headers["retry-after"]) > 0
    # Officers at the same address are not the platform.
    assert (await attempt(client, "o1", PASSWORD)).status_code == 200


@pytest.fixture
def proxied_app(
    settings: Settings, store: Store, clock: ManualClock, passwords: Passwords, city: TinyCity
) -> Litestar:
    trusting = msgspec.structs.replace(settings, trusted_proxies="10.0.0.0/8, 192.0.2.1")
    return create_app(trusting, store=store, clock=clock, passwords=passwords)


async def test_forwarded_addresses_count_only_from_a_trusted_proxy(
    proxied_app: Litestar, app: Litestar
) -> None:
    station = {"X-Forwarded-For": "203.0.113.5"}
    # From the trusted proxy, the station's address is the one counted ...
    async with from_peer(proxied_app, "10.0.0.7") as proxy:
        await guess_from_one_address(proxy, headers=station)
        assert_problem(await attempt(proxy, "o2", headers=station), 401, "invalid_credentials")
        assert_problem(
            await attempt(proxy, "o2", PASSWORD, headers=station), 429, "too_many_attempts"
        )
        # ... so another station behind the same proxy is not taken for the guesser.
        other = {"X-Forwarded-For": "203.0.113.6", "Forwarded": "for=203.0.113.6"}
        assert_problem(await attempt(proxy, "o3", headers=other), 401, "invalid_credentials")
        assert (await attempt(proxy, "o3", PASSWORD, headers=other)).status_code == 200
    # Straight from a peer nobody trusts, the header is the client's own word: ignored.
    async with from_peer(app, "198.51.100.9") as direct:
        forged = {"X-Forwarded-For": "203.0.113.5"}
        assert_problem(await attempt(direct, "o4", headers=forged), 401, "invalid_credentials")
        assert (await attempt(direct, "o4", PASSWORD, headers=forged)).status_code == 200


TRUSTED = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("2001:db8::/32"))


@pytest.mark.parametrize(
    ("peer", "headers", "expected"),
    [
        # No proxy trusted, or a peer that is none of them: the peer, whatever it says.
        ("203.0.113.5", {"x-forwarded-for": "1.2.3.4"}, "203.0.113.5"),
        ("10.0.0.7", {}, "10.0.0.7"),
        (None, {}, "unknown"),
        ("10.0.0.7", {"x-forwarded-for": "203.0.113.5"}, "203.0.113.5"),
        # What the client wrote itself (left of the hop our proxy added) is not believed.
        ("10.0.0.7", {"x-forwarded-for": "1.2.3.4, 203.0.113.5"}, "203.0.113.5"),
        # Chained trusted proxies are skipped from the right.
        ("10.0.0.7", {"x-forwarded-for": "203.0.113.5, 10.1.1.1"}, "203.0.113.5"),
        ("10.0.0.7", {"x-forwarded-for": "garbage, 10.1.1.1"}, "10.1.1.1"),
        ("10.0.0.7", {"x-forwarded-for": " "}, "10.0.0.7"),
        # RFC 7239, preferred when both are there; ports and IPv6 brackets.
        (
            "10.0.0.7",
            {"forwarded": 'for=1.2.3.4, for="[3fff::17]:4711";proto=https'},
            "3fff::17",
        ),
        (
            "10.0.0.7",
            {"forwarded": "for=198.51.100.1:4711;by=10.0.0.7", "x-forwarded-for": "1.1.1.1"},
            "198.51.100.1",
        ),
        ("10.0.0.7", {"forwarded": "for=unknown"}, "10.0.0.7"),
        ("2001:db8::1", {"x-forwarded-for": "198.51.100.2"}, "198.51.100.2"),
    ],
)
def test_the_client_address_rule(peer: str | None, headers: dict[str, str], expected: str) -> None:
    trusted: Any = () if peer == "203.0.113.5" else TRUSTED
    assert client_address(peer, headers, trusted) == expected


def test_a_bad_trusted_proxy_is_refused_at_start() -> None:
    assert Settings(trusted_proxies="10.0.0.0/8,::1").trusted_proxy_networks()
    assert Settings().trusted_proxy_networks() == ()
    with pytest.raises(SettingsError, match="BEATSYNC_TRUSTED_PROXIES"):
        Settings(trusted_proxies="10.0.0.0/8, example.org").check()

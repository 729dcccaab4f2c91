"""A phone that is online hears of new work within a second, then pulls.

The event stream is read as a phone reads it, over a real socket: httpx's in-process
transport hands back a body only once the app has finished with it, which a stream never
does. So these stories run the app under uvicorn on 127.0.0.1, in a thread.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import msgspec
import pytest
from litestar import Litestar

from server.sync.events import ScopeNotifier
from tests.support.api import a_warning, as_platform, as_user, assert_problem, login
from tests.support.city import TinyCity
from tests.support.live import serve_in_thread

pytestmark = pytest.mark.anyio
EVENTS = "/api/v1/sync/events"
WAIT = "/api/v1/sync/wait"


@pytest.fixture
def live(app: Litestar) -> Iterator[str]:
    """The app served by uvicorn on a free loopback port, in a thread of its own."""
    with serve_in_thread(app) as base:
        yield base


@pytest.fixture
async def http(live: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=live, timeout=10) as c:
        yield c


def notifier_of(app: Litestar) -> ScopeNotifier:
    notifier: ScopeNotifier = app.state.notifier
    return notifier


class EventReader:
    """Reads an open text/event-stream response block by block, as EventSource does."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.lines = response.aiter_lines()

    async def block(self, timeout: float) -> list[str] | None:
        """The next block of lines; None when the server ended the stream."""
        lines: list[str] = []
        async with asyncio.timeout(timeout):
            async for line in self.lines:
                if line == "":
                    if lines:
                        return lines
                    continue
                lines.append(line)
        return None

    async def event(self, timeout: float = 3) -> dict[str, Any]:
        """The next event that carries data, skipping comments and the retry hint."""
        async with asyncio.timeout(timeout):
            while True:
                block = await self.block(timeout)
                assert block is not None, "the stream ended"
                fields = dict(line.split(": ", 1) for line in block if not line.startswith(":"))
                if "data" in fields:
                    return {
                        "id": int(fields["id"]),
                        "event": fields["event"],
                        "data": msgspec.json.decode(fields["data"]),
                    }

    async def nothing_for(self, seconds: float) -> list[list[str]]:
        """Every block that arrives within `seconds`; none of them may be an event."""
        seen: list[list[str]] = []
        try:
            async with asyncio.timeout(seconds):
                while True:
                    block = await self.block(seconds)
                    assert block is not None, "the stream ended"
                    assert not any(line.startswith("data") for line in block), block
                    seen.append(block)
        except TimeoutError:
            pass
        return seen


async def deliver(client: httpx.AsyncClient, grid: str) -> int:
    response = await client.post(
        "/api/v1/platform/warnings",
        json={"warnings": [a_warning(grid)]},
        headers=await as_platform(client),
    )
    assert response.status_code == 200, response.text
    [result] = response.json()["results"]
    return int(result["warning_id"])


async def wait_until(condition: Any, seconds: float = 3) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def test_a_new_warning_reaches_its_officers_open_stream_within_a_second(
    http: httpx.AsyncClient, app: Litestar, city: TinyCity
) -> None:
    o1 = await as_user(http, "o1")
    o3 = await as_user(http, "o3")
    async with (
        http.stream("GET", EVENTS, headers=o1) as mine,
        http.stream("GET", EVENTS, headers=o3) as theirs,
    ):
        assert mine.status_code == 200
        assert mine.headers["content-type"].startswith("text/event-stream")
        assert mine.headers["cache-control"] == "no-store"
        o1_events, o3_events = EventReader(mine), EventReader(theirs)
        await wait_until(lambda: notifier_of(app).subscriber_count() == 2)

        started = time.monotonic()
        await deliver(http, "411602001001")  # o1's grid
        event = await o1_events.event(timeout=1)
        assert time.monotonic() - started < 1
        assert event["event"] == "scope_changed"
        assert event["data"] == {"seq": event["id"]}

        # The phone then pulls from its cursor and finds the warning there.
        pulled = (await http.get("/api/v1/sync/pull", headers=o1)).json()
        assert max(c["seq"] for c in pulled["changes"]) <= event["id"]
        # o3 works another grid: their stream stays quiet.
        await o3_events.nothing_for(0.5)


async def test_a_burst_of_warnings_becomes_few_events_with_the_newest_seq(
    http: httpx.AsyncClient, city: TinyCity
) -> None:
    o1 = await as_user(http, "o1")
    platform = await as_platform(http)
    async with http.stream("GET", EVENTS, headers=o1) as stream:
        events = EventReader(stream)
        response = await http.post(
            "/api/v1/platform/warnings",
            json={"warnings": [a_warning("411602001001") for _ in range(5)]},
            headers=platform,
        )
        assert response.json()["created"] == 5
        first = await events.event()
        last = (await http.get("/api/v1/sync/pull", headers=o1)).json()
        assert max(c["seq"] for c in last["changes"]) <= first["id"]
        await events.nothing_for(0.3)


async def test_a_phone_that_reconnects_with_last_event_id_hears_of_what_it_missed_at_once(
    http: httpx.AsyncClient, city: TinyCity
) -> None:
    o1 = await as_user(http, "o1")
    async with http.stream("GET", EVENTS, headers=o1) as stream:
        events = EventReader(stream)
        await deliver(http, "411602002001")  # o3's: nothing for o1
        await deliver(http, "411602001001")
        seen = (await events.event())["id"]
    # Offline: another warning arrives meanwhile.
    await deliver(http, "411602001001")
    resumed = {**o1, "Last-Event-ID": str(seen)}
    async with http.stream("GET", EVENTS, headers=resumed) as stream:
        missed = await EventReader(stream).event(timeout=1)
        assert missed["id"] > seen
    # Resuming from the newest id: nothing is owed.
    up_to_date = {**o1, "Last-Event-ID": str(missed["id"])}
    async with http.stream("GET", EVENTS, headers=up_to_date) as stream:
        await EventReader(stream).nothing_for(0.3)
    # `after` in the query does the same for clients that cannot set headers.
    async with http.stream("GET", EVENTS, headers=o1, params={"after": seen}) as stream:
        assert (await EventReader(stream).event(timeout=1))["id"] == missed["id"]


async def test_heartbeats_keep_a_quiet_stream_alive(
    http: httpx.AsyncClient, city: TinyCity
) -> None:
    o1 = await as_user(http, "o1")
    async with http.stream("GET", EVENTS, headers=o1, params={"heartbeat": 1}) as stream:
        blocks = await EventReader(stream).nothing_for(2.5)
    assert blocks[0] == ["retry: 3000"]
    assert blocks[1:].count([": ping"]) >= 2


async def test_closing_the_stream_drops_the_subscription(
    http: httpx.AsyncClient, app: Litestar, city: TinyCity
) -> None:
    o1 = await as_user(http, "o1")
    notifier = notifier_of(app)
    async with (
        http.stream("GET", EVENTS, headers=o1) as first,
        http.stream("GET", EVENTS, headers=o1) as second,
    ):
        assert (first.status_code, second.status_code) == (200, 200)
        # Readers held for the whole block: a reader dropped closes its response as its
        # line iterator is collected, and the server then (rightly) drops that stream.
        readers = EventReader(first), EventReader(second)
        assert [await r.block(3) for r in readers] == [["retry: 3000"], ["retry: 3000"]]
        assert notifier.subscriber_count(city.id("o1")) == 2
    await wait_until(lambda: notifier.subscriber_count() == 0)
    # Notifying nobody is harmless.
    await deliver(http, "411602001001")


async def test_the_stream_of_a_device_revoked_mid_stream_ends_within_a_heartbeat(
    http: httpx.AsyncClient, app: Litestar, city: TinyCity
) -> None:
    phone = await login(http, "o1", device="lost-phone")
    headers = {"Authorization": f"Bearer {phone['access_token']}"}
    sup = await as_user(http, "sup1")
    async with http.stream("GET", EVENTS, headers=headers, params={"heartbeat": 1}) as stream:
        events = EventReader(stream)
        await events.block(3)
        devices = (
            await http.get("/api/v1/devices/", headers=sup, params={"user_id": city.id("o1")})
        ).json()
        [lost] = [d for d in devices if d["device_id"] == "lost-phone"]
        assert (await http.post(f"/api/v1/devices/{lost['id']}/revoke", headers=sup)).is_success
        started = time.monotonic()
        while (block := await events.block(3)) is not None:
            assert not any(line.startswith("data") for line in block)
        assert time.monotonic() - started < 2
    await wait_until(lambda: notifier_of(app).subscriber_count() == 0)
    # Reconnecting meets the same answer as any other request: wipe.
    again = await http.get(EVENTS, headers=headers)
    assert assert_problem(again, 401, "device_revoked")["action"] == "wipe"


async def test_only_officers_have_an_event_stream_or_a_long_poll(
    client: httpx.AsyncClient, city: TinyCity
) -> None:
    sup = await as_user(client, "sup1")
    assert_problem(await client.get(EVENTS, headers=sup), 403, "forbidden")
    assert_problem(await client.get(WAIT, headers=sup), 403, "forbidden")
    assert_problem(await client.get(WAIT, headers=await as_platform(client)), 403, "forbidden")
    o1 = await as_user(client, "o1")
    assert_problem(
        await client.get(EVENTS, headers={**o1, "Last-Event-ID": "yesterday"}),
        400,
        "validation_failed",
    )
    assert_problem(
        await client.get(WAIT, headers=o1, params={"timeout": 61}), 400, "validation_failed"
    )


async def test_the_long_poll_answers_at_once_when_the_phone_is_behind(
    client: httpx.AsyncClient, city: TinyCity
) -> None:
    o1 = await as_user(client, "o1")
    await deliver(client, "411602001001")
    started = time.monotonic()
    behind = (await client.get(WAIT, headers=o1, params={"after": 0, "timeout": 30})).json()
    assert behind["changed"] is True
    assert behind["seq"] > 0
    assert time.monotonic() - started < 1
    quiet = await client.get(WAIT, headers=o1, params={"after": behind["seq"], "timeout": 1})
    assert quiet.json() == {"seq": behind["seq"], "changed": False}


async def test_the_long_poll_returns_when_new_work_arrives(
    client: httpx.AsyncClient, app: Litestar, city: TinyCity
) -> None:
    o1 = await as_user(client, "o1")
    await deliver(client, "411602001001")
    seq = (await client.get(WAIT, headers=o1)).json()["seq"]

    async def poll() -> dict[str, Any]:
        response = await client.get(WAIT, headers=o1, params={"after": seq, "timeout": 20})
        body: dict[str, Any] = response.json()
        return body

    waiting = asyncio.create_task(poll())
    await wait_until(lambda: notifier_of(app).subscriber_count() == 1)
    await deliver(client, "411602002001")  # o3's: o1 keeps waiting
    await asyncio.sleep(0.2)
    assert not waiting.done()
    started = time.monotonic()
    await deliver(client, "411602001001")
    answer = await asyncio.wait_for(waiting, 2)
    assert time.monotonic() - started < 1
    assert answer["changed"] is True
    assert answer["seq"] > seq
    assert notifier_of(app).subscriber_count() == 0

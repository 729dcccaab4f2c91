"""Two `beatsync serve` processes behind one database, as `--workers 2` or two nodes run:
on one SQLite file, and on one PostgreSQL database where the suite has a server.

Phones reach either at random, as a load balancer sends them; what one process writes the
other serves, its event streams hear of it within a second, and killing one loses nothing
a phone was told was stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sync import checksum
from tests.support import postgres
from tests.support.api import a_warning
from tests.support.city import PLATFORM_SECRET
from tests.support.live import LiveServer
from tests.support.sync import visit
from tests.sync.test_events import EventReader

pytestmark = pytest.mark.anyio

# Each officer's own grid in the tiny city.
GRIDS = {"o1": "411602001001", "o3": "411602002001", "o4": "411621001001"}


BACKENDS = ["sqlite", *(["postgres"] if postgres.SERVER else [])]


@contextlib.contextmanager
def two_processes(directory: Path, backend: str) -> Iterator[tuple[LiveServer, LiveServer]]:
    first = LiveServer(directory, backend=backend).start()
    second = LiveServer(directory, beside=first)
    try:
        second.start()
        yield first, second
    finally:
        second.stop()
        first.stop()
        if backend == "postgres":
            postgres.drop_database_for(directory)


@pytest.fixture(params=BACKENDS)
def pair(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[LiveServer, LiveServer]]:
    """Two processes on one SQLite file, or two nodes on one PostgreSQL database."""
    with two_processes(tmp_path, request.param) as servers:
        yield servers


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def ingest(server: LiveServer, grid: str, count: int) -> list[int]:
    token = httpx.post(
        f"{server.base}/api/v1/auth/token",
        json={"client_id": "platform", "client_secret": PLATFORM_SECRET},
        timeout=30,
    ).json()["access_token"]
    response = httpx.post(
        f"{server.base}/api/v1/platform/warnings",
        json={"warnings": [a_warning(grid) for _ in range(count)]},
        headers=bearer(token),
        timeout=30,
    )
    response.raise_for_status()
    return [int(r["warning_id"]) for r in response.json()["results"]]


async def test_a_phone_on_one_process_hears_within_a_second_of_work_ingested_on_the_other(
    pair: tuple[LiveServer, LiveServer],
) -> None:
    first, second = pair
    o1 = bearer(second.token("o1", "phone-o1"))
    async with (
        httpx.AsyncClient(base_url=second.base, timeout=10) as phone,
        phone.stream("GET", "/api/v1/sync/events", headers=o1) as stream,
    ):
        events = EventReader(stream)
        assert await events.block(timeout=5) == ["retry: 3000"]  # subscribed
        started = time.monotonic()
        [warning] = await asyncio.to_thread(ingest, first, GRIDS["o1"], 1)
        event = await events.event(timeout=2)
        assert time.monotonic() - started < 1
        assert event["event"] == "scope_changed"
        pulled = (await phone.get("/api/v1/sync/pull", headers=o1)).json()
        assert warning in {c["task"]["id"] for c in pulled["changes"]}


class Phone:
    """An officer's phone that sends each batch to whichever process the balancer picks,
    resends what it had no answer for, and sometimes resends what it had (a lost reply)."""

    def __init__(self, login: str, tasks: list[int], servers: list[LiveServer], seed: int):
        self.login = login
        self.tasks = tasks
        self.servers = servers
        self.rng = random.Random(seed)
        self.token = servers[0].token(login, f"phone-{login}")
        self.acknowledged: dict[str, str] = {}  # entry id -> verdict
        self.outbox: list[dict[str, Any]] = []
        self.cut_off = 0  # pushes that got no answer: their process died under them
        self.told_to_wait = 0  # pushes answered 503: the database was away
        self.sending_to: LiveServer | None = None

    def record(self, count: int) -> None:
        for _ in range(count):
            self.outbox.append(visit(self.rng.choice(self.tasks), node=f"phone-{self.login}"))

    async def push_until_acknowledged(self, client: httpx.AsyncClient) -> None:
        while self.outbox:
            batch = self.outbox[: self.rng.randint(1, 5)]
            server = self.rng.choice([s for s in self.servers if s.process is not None])
            self.sending_to = server
            try:
                response = await client.post(
                    f"{server.base}/api/v1/sync/push",
                    headers=bearer(self.token),
                    json={"device_time": _now(), "mutations": batch},
                )
            except httpx.TransportError:
                self.cut_off += 1
                await asyncio.sleep(0.05)  # that process is gone: the next try goes elsewhere
                continue
            finally:
                self.sending_to = None
            if response.status_code == 503:
                # The database is away: never a 500, always told when to come back.
                assert response.json()["code"] == "store_unavailable", response.text
                assert int(response.headers["retry-after"]) > 0
                self.told_to_wait += 1
                await asyncio.sleep(0.2)  # sooner than Retry-After says: the test is short
                continue
            assert response.status_code == 200, response.text
            for mutation, result in zip(batch, response.json()["results"], strict=True):
                assert result["status"] in ("applied", "conflict"), result
                self.acknowledged[mutation["entry"]["entry_id"]] = result["status"]
            if self.rng.random() < 0.3:
                continue  # the reply was lost on the way: the same batch goes again
            del self.outbox[: len(batch)]


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())


async def phones_at_work(
    servers: list[LiveServer], phones: list[Phone], rounds: int, kill: LiveServer | None = None
) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        for n in range(rounds):
            for phone in phones:
                phone.record(4)
            work = [p.push_until_acknowledged(client) for p in phones]
            if kill is not None and n == rounds // 2:
                work.append(_kill_in_flight(kill, phones))
            await asyncio.gather(*work)


async def _kill_in_flight(server: LiveServer, phones: list[Phone]) -> None:
    """kill -9 the moment a phone's push is on its way to it: sent, maybe committed,
    its answer not yet read."""
    while not any(p.sending_to is server for p in phones):
        await asyncio.sleep(0)
    server.kill()


def check_nothing_lost(servers: list[LiveServer], phones: list[Phone]) -> None:
    """Every acknowledged visit is on record exactly once, and every phone's pull agrees
    with its checksum through every process still running."""
    for phone in phones:
        seen: list[str] = []
        sums = set()
        for server in servers:
            changes, cursor_checksum = _pull_everything(server, phone.token)
            upserts = [c for c in changes if c["type"] == "upsert"]
            held = [(u["task"]["kind"], u["task"]["id"], u["task"]["version"]) for u in upserts]
            assert checksum.of(held) == cursor_checksum
            sums.add(cursor_checksum)
            if not seen:
                seen = [v["entry_id"] for u in upserts for v in u["visits"]]
        assert len(sums) == 1, f"{phone.login}'s checksum differs between processes"
        assert sorted(seen) == sorted(phone.acknowledged), f"{phone.login}'s visits"


def _pull_everything(server: LiveServer, token: str) -> tuple[list[dict[str, Any]], str]:
    changes: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 200} | ({"cursor": cursor} if cursor else {})
        page = httpx.get(
            f"{server.base}/api/v1/sync/pull", headers=bearer(token), params=params, timeout=30
        ).json()
        changes += page["changes"]
        cursor = page["cursor"]
        if not page["has_more"]:
            return changes, page["checksum"]


def three_phones(servers: list[LiveServer]) -> list[Phone]:
    return [
        Phone(login, ingest(servers[n % 2], grid, 6), servers, seed=n)
        for n, (login, grid) in enumerate(GRIDS.items())
    ]


async def test_phones_pushing_and_pulling_through_both_processes_lose_nothing(
    pair: tuple[LiveServer, LiveServer],
) -> None:
    servers = list(pair)
    phones = three_phones(servers)
    await phones_at_work(servers, phones, rounds=6)
    check_nothing_lost(servers, phones)


async def test_killing_one_process_loses_nothing_a_phone_was_told_was_stored(
    pair: tuple[LiveServer, LiveServer],
) -> None:
    first, second = pair
    servers = [first, second]
    phones = three_phones(servers)
    await phones_at_work(servers, phones, rounds=6, kill=first)
    check_nothing_lost([second], phones)
    # Every visit recorded was acknowledged once the survivor took the retries, and
    # check_nothing_lost found each on record once: the replays stored nothing again.
    assert [len(p.acknowledged) for p in phones] == [24, 24, 24]
    assert sum(p.cut_off for p in phones) >= 1


@pytest.mark.skipif(not postgres.SERVER, reason="needs BEATSYNC_TEST_POSTGRES (.ci/run sets it)")
async def test_while_postgresql_is_away_both_nodes_answer_503_and_come_back_by_themselves(
    tmp_path: Path,
) -> None:
    with two_processes(tmp_path, "postgres") as (first, second):
        servers = [first, second]
        phones = three_phones(servers)
        async with httpx.AsyncClient(timeout=30) as client:
            await phones_at_work(servers, phones, rounds=1)
            for phone in phones:
                phone.record(4)
            with postgres.gone(tmp_path):
                pushing = [asyncio.create_task(p.push_until_acknowledged(client)) for p in phones]
                for server in servers:
                    ready, alive = await asyncio.gather(
                        client.get(f"{server.base}/readyz"), client.get(f"{server.base}/healthz")
                    )
                    assert ready.status_code == 503, ready.text
                    assert {e["field"] for e in ready.json()["errors"]} >= {"store"}
                    assert alive.status_code == 503, alive.text
                    assert alive.json()["code"] == "store_unavailable"
                    assert int(alive.headers["retry-after"]) > 0
                await _until(lambda: all(p.told_to_wait for p in phones), seconds=30)
            # The database is back: no node was restarted, and the phones' retries land.
            await asyncio.gather(*pushing)
            for server in servers:
                await _until_ready(client, server)
        check_nothing_lost(servers, phones)
        assert [len(p.acknowledged) for p in phones] == [8, 8, 8]


async def _until(condition: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "not within the time"
        await asyncio.sleep(0.05)


async def _until_ready(client: httpx.AsyncClient, server: LiveServer) -> None:
    deadline = time.monotonic() + 15
    while (await client.get(f"{server.base}/readyz")).status_code != 200:
        assert time.monotonic() < deadline, "the node did not come back by itself"
        await asyncio.sleep(0.2)

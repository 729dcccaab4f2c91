"""Dispatch in seconds: from a warning's ingest to the event on its officer's phones.

Starts `beatsync serve --demo` on a fresh database on 127.0.0.1, logs in the demo
officers, opens 2,000 event streams spread over them (several phones per officer, as
raw sockets: one client process must hold them all on a small machine), then delivers
warnings one at a time through the platform API. For each warning, the latency is the
time from sending the ingest request to the `scope_changed` event arriving, on every
stream of the officer whose grid it names. Then it closes those, opens 5,000 idle
streams and reports the server's resident memory before and after.

Targets: p99 under 1 s with 2,000 streams connected; under 250 MB with 5,000 idle.

    python bench/events.py [--streams 2000] [--idle 5000] [--warnings 200]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import msgspec

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import demo_server, percentile, rss_kib  # noqa: E402
from server.demo import DEMO_PASSWORD, DEMO_PLATFORM_SECRET, random_warning  # noqa: E402

OPEN_AT_ONCE = 100  # connections opened concurrently: stays far below the listen backlog
EVENT_TIMEOUT = 5.0  # an event later than this counts as missed


def rss_mb(pid: int) -> float:
    return rss_kib(pid) / 1024


def officer_grids(db: Path) -> tuple[dict[int, str], dict[int, list[str]]]:
    """Officers by id: their login, and the grids routed to them."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        logins = dict(conn.execute("SELECT id, login FROM users WHERE role = 'officer'"))
        grids: dict[int, list[str]] = {}
        for code, officer in conn.execute(
            "SELECT code, officer_id FROM grids WHERE officer_id IS NOT NULL"
        ):
            grids.setdefault(officer, []).append(code)
    return logins, grids


async def login_all(base: str, logins: dict[int, str]) -> dict[int, str]:
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:

        async def one(officer: int, login: str) -> tuple[int, str]:
            response = await client.post(
                "/api/v1/auth/login",
                json={"login": login, "password": DEMO_PASSWORD, "device_id": f"bench-{officer}"},
            )
            response.raise_for_status()
            return officer, str(response.json()["access_token"])

        return dict(await asyncio.gather(*(one(o, name) for o, name in logins.items())))


class EventStream:
    """One phone's stream over a raw socket: chunked HTTP/1.1, parsed just enough."""

    def __init__(self, officer: int) -> None:
        self.officer = officer
        self.events = 0
        self.greeted = asyncio.Event()
        self.expecting: asyncio.Future[float] | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.task: asyncio.Task[None] | None = None

    async def open(self, port: int, token: str, heartbeat: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        self.writer = writer
        writer.write(
            f"GET /api/v1/sync/events?heartbeat={heartbeat} HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n"
            "Accept: text/event-stream\r\n\r\n".encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(head.decode(errors="replace"))
        self.task = asyncio.create_task(self._read(reader))

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                size = int((await reader.readuntil(b"\r\n"))[:-2], 16)
                if size == 0:
                    return
                # The server sends each SSE block as one chunk, so a chunk is a block.
                block = await reader.readexactly(size + 2)
                if b"event: scope_changed" in block:
                    arrived = time.perf_counter()
                    self.events += 1
                    waiting = self.expecting
                    if waiting is not None and not waiting.done():
                        waiting.set_result(arrived)
                elif block.startswith(b"retry:"):
                    self.greeted.set()
        except (asyncio.IncompleteReadError, ConnectionError):
            return

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)


async def open_streams(
    port: int, tokens: dict[int, str], officers: list[int], count: int, heartbeat: int
) -> list[EventStream]:
    streams = [EventStream(officers[i % len(officers)]) for i in range(count)]
    for start in range(0, count, OPEN_AT_ONCE):
        batch = streams[start : start + OPEN_AT_ONCE]
        await asyncio.gather(*(s.open(port, tokens[s.officer], heartbeat) for s in batch))
    await asyncio.wait_for(asyncio.gather(*(s.greeted.wait() for s in streams)), 60)
    return streams


async def measure_dispatch(
    base: str, streams: list[EventStream], grids: dict[int, list[str]], warnings: int
) -> tuple[list[float], int]:
    async with httpx.AsyncClient(base_url=base, timeout=30) as platform:
        token = (
            await platform.post(
                "/api/v1/auth/token",
                json={"client_id": "platform", "client_secret": DEMO_PLATFORM_SECRET},
            )
        ).json()["access_token"]
        platform.headers["Authorization"] = f"Bearer {token}"
        platform.headers["content-type"] = "application/json"
        by_officer: dict[int, list[EventStream]] = {}
        for stream in streams:
            by_officer.setdefault(stream.officer, []).append(stream)
        officers = sorted(by_officer)
        rng = random.Random(20261125)
        now = datetime.now(UTC)
        latencies: list[float] = []
        missed = 0
        loop = asyncio.get_running_loop()
        for n in range(warnings):
            officer = officers[n % len(officers)]
            warning = random_warning(rng, grids[officer], n, now)
            warning["grid_code"] = rng.choice(grids[officer])
            warning["platform_id"] = f"BENCH-EVENTS-{n:05d}"
            body = msgspec.json.encode({"warnings": [warning]})
            targets = by_officer[officer]
            for stream in targets:
                stream.expecting = loop.create_future()
            sent = time.perf_counter()
            response = await platform.post("/api/v1/platform/warnings", content=body)
            response.raise_for_status()
            assert response.json()["created"] == 1, response.text
            for stream in targets:
                assert stream.expecting is not None
                try:
                    arrived = await asyncio.wait_for(
                        asyncio.shield(stream.expecting),
                        max(0.0, EVENT_TIMEOUT - (time.perf_counter() - sent)),
                    )
                    latencies.append(arrived - sent)
                except TimeoutError:
                    missed += 1
                stream.expecting = None
        return latencies, missed


async def run(args: argparse.Namespace, base: str, port: int, pid: int, db: Path) -> None:
    logins, grids = officer_grids(db)
    officers = sorted(o for o in logins if o in grids)
    started = time.perf_counter()
    tokens = await login_all(base, {o: logins[o] for o in officers})
    print(f"logged in {len(tokens)} officers in {time.perf_counter() - started:.1f} s")
    rss_start = rss_mb(pid)

    started = time.perf_counter()
    streams = await open_streams(port, tokens, officers, args.streams, heartbeat=15)
    print(
        f"opened {len(streams)} event streams ({len(streams) / len(officers):.0f} per officer)"
        f" in {time.perf_counter() - started:.1f} s; server RSS {rss_mb(pid):.0f} MB"
    )
    latencies, missed = await measure_dispatch(base, streams, grids, args.warnings)
    ms = [x * 1000 for x in latencies]
    print(
        f"ingest -> scope_changed on every stream of the officer, {args.warnings} warnings,"
        f" {len(streams)} streams connected:"
    )
    print(
        f"  events {len(ms)}, missed {missed}; p50 {percentile(ms, 50):.1f} ms,"
        f" p90 {percentile(ms, 90):.1f} ms, p99 {percentile(ms, 99):.1f} ms,"
        f" max {max(ms):.1f} ms, mean {statistics.fmean(ms):.1f} ms"
        f"   (target: p99 < 1000 ms)"
    )
    await asyncio.gather(*(s.close() for s in streams))
    await asyncio.sleep(2)

    before = rss_mb(pid)
    started = time.perf_counter()
    idle = await open_streams(port, tokens, officers, args.idle, heartbeat=15)
    opened = time.perf_counter() - started
    await asyncio.sleep(3)
    after = rss_mb(pid)
    print(f"{len(idle)} idle event streams (opened in {opened:.1f} s):")
    # Memory freed by the first phase's streams is reused, not returned to the system, so
    # the growth since before any stream opened is the honest cost of one.
    print(
        f"  server RSS before any stream {rss_start:.0f} MB; before these {before:.0f} MB,"
        f" with them {after:.0f} MB   (target: < 250 MB)"
    )
    print(
        f"  per stream: {(after - rss_start) * 1024 / len(idle):.1f} KB over the start,"
        f" {(after - before) * 1024 / len(idle):.1f} KB over the RSS just before"
    )
    await asyncio.gather(*(s.close() for s in idle))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--streams", type=int, default=2000)
    parser.add_argument("--idle", type=int, default=5000)
    parser.add_argument("--warnings", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        with demo_server(db) as (base, server):
            port = int(base.rsplit(":", 1)[1])
            asyncio.run(asyncio.wait_for(run(args, base, port, server.pid, db), 170))


if __name__ == "__main__":
    main()

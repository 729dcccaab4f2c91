"""Delta pull under load (issue 13, target 3): N phones at once pull a small change.

Starts `beatsync serve --demo` on 127.0.0.1 with a fresh database (the demo city without
its past unless `--history-days`), gives every demo officer `--scope`
warnings, and logs in N phones: officers of the demo city in turn (with more phones than
officers, an officer has several), each phone its own device id. Each phone pulls its
scope to the end once. Then, for each of `--rounds` rounds of `--waves` waves:

1. the platform delivers one warning to each phone's grid (one request, not timed), so
   every phone's scope has one small change since its cursor;
2. all N phones at once send `GET /api/v1/ping` (the do-nothing endpoint, auth included):
   each request's latency is kept;
3. all N phones at once pull from their cursor (`GET /api/v1/sync/pull?cursor=...`), and
   each keeps the cursor it got for the next wave: each request's latency is kept.

p50 and p99 are taken per round, over its waves' requests; the medians of the rounds'
figures are printed, each round's in brackets, with the target: delta p99 at most 2
times the ping p99. One `httpx.AsyncClient` (its pool at least N connections, warmed
before measuring) carries all N phones, each request with its phone's token. The server
and this load generator share the machine: the CPU each spent per request is printed, and
how many cores there were.

    python -m bench.delta_load [--phones 50,200] [--rounds 5] [--waves 10] [--scope 40]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.common import (
    demo_server,
    login,
    officer_grids,
    own_cpu,
    percentile,
    platform_token,
    process_cpu,
)
from bench.sync import ingest
from server.demo import random_warning

TARGET = 2.0
PULL_LIMIT = 500


@dataclass
class Phone:
    officer: str
    device: str
    grid: str
    headers: dict[str, str]
    cursor: str | None = None


@dataclass
class Round:
    ping: list[float]
    pull: list[float]
    server_cpu: float
    load_cpu: float
    requests: int


async def timed_get(client: httpx.AsyncClient, path: str, phone: Phone) -> tuple[float, Any]:
    params = {"cursor": phone.cursor, "limit": PULL_LIMIT} if phone.cursor else None
    started = time.perf_counter()
    response = await client.get(path, params=params, headers=phone.headers)
    took = time.perf_counter() - started
    response.raise_for_status()
    return took, response.json()


async def pull_to_end(client: httpx.AsyncClient, phone: Phone) -> int:
    """Pull until `has_more` is false, not timed; the number of changes."""
    changes = 0
    while True:
        params: dict[str, Any] = {"limit": PULL_LIMIT}
        if phone.cursor:
            params["cursor"] = phone.cursor
        response = await client.get("/api/v1/sync/pull", params=params, headers=phone.headers)
        response.raise_for_status()
        page = response.json()
        changes += len(page["changes"])
        phone.cursor = page["cursor"]
        if not page["has_more"]:
            return changes


async def deliver(
    client: httpx.AsyncClient, platform: dict[str, str], phones: list[Phone], tag: str
) -> None:
    """One new warning in each phone's grid, in one delivery."""
    rng = random.Random(tag)
    now = datetime.now(UTC)
    items = []
    for i, phone in enumerate(phones):
        item = random_warning(rng, [phone.grid], i, now)
        item["platform_id"] = f"{tag}-{i}"
        item["grid_code"] = phone.grid
        items.append(item)
    response = await client.post(
        "/api/v1/platform/warnings", json={"warnings": items}, headers=platform
    )
    response.raise_for_status()


async def measure(
    base: str,
    server_pid: int,
    platform: str,
    phones: list[Phone],
    rounds: int,
    waves: int,
) -> list[Round]:
    n = len(phones)
    limits = httpx.Limits(max_connections=n + 1, max_keepalive_connections=n + 1)
    platform_headers = {"Authorization": f"Bearer {platform}"}
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:
        # Each phone pulls its scope to the end once; the pool opens its connections.
        await asyncio.gather(*(pull_to_end(client, p) for p in phones))
        for _ in range(3):
            await asyncio.gather(*(timed_get(client, "/api/v1/ping", p) for p in phones))
        out: list[Round] = []
        for r in range(rounds):
            ping: list[float] = []
            pull: list[float] = []
            server_cpu = load_cpu = 0.0
            for w in range(waves):
                await deliver(client, platform_headers, phones, f"delta-{n}-{r}-{w}")
                cpu_s, cpu_l = process_cpu(server_pid), own_cpu()
                answers = await asyncio.gather(
                    *(timed_get(client, "/api/v1/ping", p) for p in phones)
                )
                ping += [took for took, _ in answers]
                answers = await asyncio.gather(
                    *(timed_get(client, "/api/v1/sync/pull", p) for p in phones)
                )
                server_cpu += process_cpu(server_pid) - cpu_s
                load_cpu += own_cpu() - cpu_l
                pull += [took for took, _ in answers]
                for phone, (_, page) in zip(phones, answers, strict=True):
                    if not page["changes"]:
                        raise SystemExit(f"{phone.device}: the delta pull saw no change")
                    phone.cursor = page["cursor"]
                    if page["has_more"]:
                        await pull_to_end(client, phone)
            out.append(Round(ping, pull, server_cpu, load_cpu, 2 * n * waves))
        return out


def report(n: int, rounds: list[Round], waves: int) -> None:
    ms = 1000

    def per_round(key: str, p: float) -> list[float]:
        return [percentile(getattr(r, key), p) * ms for r in rounds]

    def each(values: list[float]) -> str:
        return ", ".join(f"{v:.1f}" for v in values)

    print(
        f"N={n} phones, {len(rounds)} rounds x {waves} waves"
        f" ({n * waves} pulls and {n * waves} pings a round):"
    )
    for name, key in (("delta pull", "pull"), ("ping", "ping")):
        p50, p99 = per_round(key, 50), per_round(key, 99)
        print(
            f"  {name + ':':12s} p50 {statistics.median(p50):7.1f} ms   [{each(p50)}]"
            f"\n  {'':12s} p99 {statistics.median(p99):7.1f} ms   [{each(p99)}]"
        )
    ratios = [a / b for a, b in zip(per_round("pull", 99), per_round("ping", 99), strict=True)]
    ratio = statistics.median(ratios)
    verdict = "met" if ratio <= TARGET else "NOT met"
    print(
        f"  p99 ratio:   {ratio:7.2f}      [{', '.join(f'{x:.2f}' for x in ratios)}]"
        f"   (target: delta p99 <= {TARGET:g} x ping p99: {verdict})"
    )
    server = statistics.median(r.server_cpu * ms / r.requests for r in rounds)
    load = statistics.median(r.load_cpu * ms / r.requests for r in rounds)
    print(
        f"  CPU:         {server:.2f} ms server, {load:.2f} ms load generator,"
        " per request (pings and pulls together)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--phones",
        default=None,
        help="comma-separated N (default: 50, and 200 where there are 4 cores or more)",
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--waves", type=int, default=10, help="waves a round")
    parser.add_argument("--scope", type=int, default=40, help="warnings each officer holds")
    parser.add_argument("--history-days", type=int, default=0, help="the demo city's past")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    affinity = len(os.sched_getaffinity(0))
    if args.phones:
        sizes = [int(x) for x in args.phones.split(",")]
    else:
        sizes = [50, 200] if cores >= 4 else [50]
    started = time.perf_counter()
    results: list[tuple[int, list[Round]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        with demo_server(db, history_days=args.history_days) as (base, server):
            grids = officer_grids(db)
            officers = sorted(grids)
            platform = platform_token(base)
            for o in officers:
                ingest(base, platform, grids[o], args.scope, f"scope-{o}")
            for n in sizes:
                phones = []
                for i in range(n):
                    officer = officers[i % len(officers)]
                    device = f"bench-delta-{n}-{i:04d}"
                    token = login(base, officer, device)
                    phones.append(
                        Phone(
                            officer,
                            device,
                            grids[officer][(i // len(officers)) % len(grids[officer])],
                            {"Authorization": f"Bearer {token}"},
                        )
                    )
                rounds = asyncio.run(
                    measure(base, server.pid, platform, phones, args.rounds, args.waves)
                )
                results.append((n, rounds))
    print(
        f"delta pull under load ({datetime.now(UTC):%Y-%m-%d}); load generator and server on"
        f" one machine: os.cpu_count() = {cores}, {affinity} usable by this process"
    )
    print(
        f"{len(officers)} demo officers, {args.scope} warnings each before the first pull"
        f" (history: {args.history_days} days); each wave: one new warning per phone, then"
        " all N ping at once, then all N pull at once; medians of the rounds' percentiles"
    )
    if not args.phones and 200 not in sizes:
        print(f"N=200 skipped: {cores} cores is too few to load 200 phones (--phones 50,200)")
    for n, rounds in results:
        report(n, rounds, args.waves)
    print(f"took {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()

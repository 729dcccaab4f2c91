"""Sync throughput and latency on this machine, beside the HTTP ceiling, in one run.

Starts `beatsync serve --demo` on 127.0.0.1 with a fresh database, then measures:

1. push: 8 phones at once push batches of 100 visit logs; visit logs merged per second,
   next to the same 8 phones posting the same bodies to the do-nothing endpoint
   (`POST /api/v1/ping`, auth included): the HTTP ceiling; in rounds of ping then push,
   medians printed, with CPU per request of server and load generator, the target
   (issue 13: 12,000 visit logs/s) and the budget it leaves a push beside SQLite's bare
   writes (`bench/push_floor.py`);
2. full first pull: one officer with a large backlog pulls everything from no cursor;
   records per second and pages per second, next to `GET /api/v1/ping` from one client;
3. delta pull: 50 phones at once, each pulling a small change since its cursor; p50 and
   p99 latency, next to `GET /api/v1/ping` under the same 50 phones.

    python -m bench.sync [--pushes-per-phone 25] [--rounds 3] [--backlog 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import msgspec

from bench.common import (
    demo_server,
    login,
    officer_grids,
    own_cpu,
    percentile,
    platform_token,
    process_cpu,
)
from bench.push_floor import floor_run, whole_cost
from server.demo import random_warning
from sync.ids import new_id

PHONES = 8
BATCH = 100
DELTA_PHONES = 50
# Issue 13: visit logs merged per second by PHONES phones pushing batches of BATCH, on
# the 2-core machine.
PUSH_TARGET = 12_000


def ingest(base: str, token: str, grids: list[str], count: int, tag: str) -> list[int]:
    import random

    rng = random.Random(tag)
    now = datetime.now(UTC)
    ids: list[int] = []
    with httpx.Client(
        base_url=base, timeout=120, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        for start in range(0, count, 1000):
            items = [
                random_warning(rng, grids, start + i, now) for i in range(min(1000, count - start))
            ]
            for i, item in enumerate(items):
                item["platform_id"] = f"{tag}-{start + i}"
                item["grid_code"] = grids[(start + i) % len(grids)]
            out = client.post("/api/v1/platform/warnings", json={"warnings": items}).json()
            ids += [r["warning_id"] for r in out["results"]]
    return ids


def visit_batch(device: str, tasks: list[int], n: int) -> bytes:
    mutations = []
    for i in range(BATCH):
        task = tasks[(n * BATCH + i) % len(tasks)]
        mutations.append(
            {
                "type": "record_visit",
                "mutation_id": new_id(),
                "hlc": f"{1_764_057_600_000 + n * BATCH + i:018d}-00000-{device}",
                "task_kind": "warning",
                "task_id": task,
                "entry": {
                    "entry_id": new_id(),
                    "recorded_at": "2026-11-25T09:30:00+08:00",
                    "arrived_at": "2026-11-25T09:20:00+08:00",
                    "contact": "face_to_face",
                    "outcome": "dissuaded",
                    "amount_prevented": 5000,
                    "notes": "劝阻成功，已卸载诈骗APP",
                    "position": {"lat": 33.62, "lon": 114.65, "accuracy_m": 12.0},
                    "photos": [hashlib.sha256(uuid.uuid4().bytes).hexdigest()],
                },
            }
        )
    return msgspec.json.encode(
        {"device_time": datetime.now(UTC).isoformat(), "mutations": mutations}
    )


async def post_all(
    base: str, token: str, path: str, bodies: list[bytes], latencies: list[float]
) -> None:
    async with httpx.AsyncClient(
        base_url=base,
        timeout=120,
        headers={"Authorization": f"Bearer {token}", "content-type": "application/json"},
    ) as c:
        for body in bodies:
            started = time.perf_counter()
            response = await c.post(path, content=body)
            latencies.append(time.perf_counter() - started)
            response.raise_for_status()


async def concurrent_posts(
    base: str, tokens: list[str], path: str, bodies: list[list[bytes]]
) -> tuple[float, list[float]]:
    latencies: list[float] = []
    started = time.perf_counter()
    await asyncio.gather(
        *(post_all(base, t, path, b, latencies) for t, b in zip(tokens, bodies, strict=True))
    )
    return time.perf_counter() - started, latencies


async def get_many(
    base: str, token: str, path: str, count: int, params_for: Any = None
) -> list[float]:
    latencies: list[float] = []
    async with httpx.AsyncClient(
        base_url=base, timeout=120, headers={"Authorization": f"Bearer {token}"}
    ) as c:
        for i in range(count):
            started = time.perf_counter()
            response = await c.get(path, params=params_for(i) if params_for else None)
            latencies.append(time.perf_counter() - started)
            response.raise_for_status()
    return latencies


def full_pull(base: str, token: str, limit: int) -> tuple[int, int, float]:
    records = pages = 0
    cursor = None
    started = time.perf_counter()
    with httpx.Client(
        base_url=base, timeout=120, headers={"Authorization": f"Bearer {token}"}
    ) as c:
        while True:
            params: dict[str, Any] = {"limit": limit}
            if cursor:
                params["cursor"] = cursor
            page = c.get("/api/v1/sync/pull", params=params).json()
            records += len(page["changes"])
            pages += 1
            cursor = page["cursor"]
            if not page["has_more"]:
                break
    return records, pages, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pushes-per-phone", type=int, default=25)
    parser.add_argument("--backlog", type=int, default=2000)
    parser.add_argument("--page", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3, help="ping-then-push rounds")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        with demo_server(db) as (base, server):
            grids = officer_grids(db)
            officers = sorted(grids)
            platform = platform_token(base)
            push_officers = officers[:PHONES]
            tasks = {o: ingest(base, platform, grids[o], 200, f"push-{o}") for o in push_officers}
            tokens = [login(base, o, f"bench-push-{i:04d}") for i, o in enumerate(push_officers)]
            total = PHONES * args.pushes_per_phone
            # Rounds of ping then push, each with fresh bodies: this machine's speed drifts
            # by tens of percent from one minute to the next, so each round's ratio is
            # taken between neighbours in time, and the medians are printed.
            rounds: list[dict[str, Any]] = []
            for r in range(args.rounds):
                bodies = [
                    [
                        visit_batch(f"bench-push-{i:04d}", tasks[o], r * args.pushes_per_phone + n)
                        for n in range(args.pushes_per_phone)
                    ]
                    for i, o in enumerate(push_officers)
                ]
                measured: dict[str, Any] = {}
                for name, path in (("ceiling", "/api/v1/ping"), ("push", "/api/v1/sync/push")):
                    # CPU per request, of the server and of this load generator: which of
                    # the two bounds each rate on a machine they share.
                    server_cpu, load_cpu = process_cpu(server.pid), own_cpu()
                    took, latencies = asyncio.run(concurrent_posts(base, tokens, path, bodies))
                    measured[name] = {
                        "rate": total * BATCH / took,
                        "latencies": latencies,
                        "server_ms": (process_cpu(server.pid) - server_cpu) * 1000 / total,
                        "load_ms": (own_cpu() - load_cpu) * 1000 / total,
                    }
                rounds.append(measured)

            backlog_officer = officers[PHONES]
            ingest(base, platform, grids[backlog_officer], args.backlog, "backlog")
            backlog_token = login(base, backlog_officer, "bench-backlog-0001")
            ping_single = asyncio.run(get_many(base, backlog_token, "/api/v1/ping", 400))
            records, pages, pull_s = full_pull(base, backlog_token, args.page)

            delta_officers = officers[PHONES + 1 : PHONES + 1 + DELTA_PHONES]
            delta_tokens = [
                login(base, o, f"bench-delta-{i:04d}") for i, o in enumerate(delta_officers)
            ]
            cursors = []
            for o, t in zip(delta_officers, delta_tokens, strict=True):
                ingest(base, platform, grids[o], 3, f"delta-a-{o}")
                cursors.append(
                    httpx.get(
                        f"{base}/api/v1/sync/pull",
                        headers={"Authorization": f"Bearer {t}"},
                        params={"limit": 500},
                    ).json()["cursor"]
                )
            for o in delta_officers:
                ingest(base, platform, grids[o], 1, f"delta-b-{o}")

            async def fifty(path: str, with_cursor: bool) -> list[float]:
                results = await asyncio.gather(
                    *(
                        get_many(
                            base,
                            t,
                            path,
                            40,
                            (lambda _i, c=c: {"cursor": c}) if with_cursor else None,
                        )
                        for t, c in zip(delta_tokens, cursors, strict=True)
                    )
                )
                return [x for r in results for x in r]

            ping_50 = asyncio.run(fifty("/api/v1/ping", False))
            delta_50 = asyncio.run(fifty("/api/v1/sync/pull", True))

    bare = floor_run()
    ms = 1000
    print(
        "sync benchmark, one 2-core machine, server and load in the same box"
        f" ({datetime.now(UTC):%Y-%m-%d})"
    )
    print(
        f"push, {PHONES} phones x {args.pushes_per_phone} pushes of {BATCH} visit logs,"
        f" {args.rounds} rounds of ping then push (medians; each round's figure in brackets):"
    )

    def column(name: str, key: str) -> list[float]:
        return [r[name][key] for r in rounds]

    def each(values: list[float], form: str) -> str:
        return ", ".join(format(v, form) for v in values)

    push_rates, ceiling_rates = column("push", "rate"), column("ceiling", "rate")
    ratios = [p / c for p, c in zip(push_rates, ceiling_rates, strict=True)]
    push_lat = [x for r in rounds for x in r["push"]["latencies"]]
    ceiling_lat = [x for r in rounds for x in r["ceiling"]["latencies"]]
    print(
        f"  merged:        {statistics.median(push_rates):9.0f} visit logs/s"
        f"   [{each(push_rates, '.0f')}]"
        f"   (p50 {statistics.median(push_lat) * ms:.0f} ms,"
        f" p99 {percentile(push_lat, 99) * ms:.0f} ms per push)"
    )
    print(
        f"  ceiling:       {statistics.median(ceiling_rates):9.0f} logs/s of bodies through"
        f" POST /api/v1/ping   [{each(ceiling_rates, '.0f')}]"
        f"   (p50 {statistics.median(ceiling_lat) * ms:.1f} ms)"
    )
    merged = statistics.median(push_rates)
    print(
        f"  ratio:         {statistics.median(ratios):9.2f}   [{each(ratios, '.2f')}]"
        "   of the ceiling"
    )
    print(
        f"  target:        at least {PUSH_TARGET:,} visit logs/s from {PHONES} phones"
        f" (issue 13): {'met' if merged >= PUSH_TARGET else 'NOT met'}"
    )
    for name in ("push", "ceiling"):
        print(
            f"  CPU, {name + ':':8s} {statistics.median(column(name, 'server_ms')):6.2f} ms"
            f" server, {statistics.median(column(name, 'load_ms')):5.2f} ms load generator,"
            " per request"
        )
    # What the target leaves a push, against SQLite's bare writes: the server applies
    # pushes with one writer, so a push's time is what the rate pays.
    budget = 1000 * BATCH / PUSH_TARGET
    times, last = bare
    print(
        f"  budget:        {budget:6.2f} ms a push at {PUSH_TARGET:,}/s;"
        f" SQLite's bare writes alone (bench.push_floor) {statistics.median(times) * ms:.2f} ms"
        f" a push, {whole_cost(times, last) * ms:.2f} ms with their checkpoints"
    )
    print(f"full first pull, {records} tasks in pages of {args.page}:")
    print(f"  pulled:        {records / pull_s:9.0f} records/s, {pages / pull_s:.0f} pages/s")
    ping_rate = len(ping_single) / sum(ping_single)
    print(f"  ceiling:       {ping_rate:9.0f} requests/s of GET /api/v1/ping, one client")
    print(
        f"  ratio:         {records / pull_s / ping_rate:9.2f} records per ping-time"
        f" (target >= 0.5); pages {pages / pull_s / ping_rate:.2f}"
    )
    print(f"delta pull, {DELTA_PHONES} phones at once, 40 pulls each:")
    print(
        f"  pull:          p50 {statistics.median(delta_50) * ms:6.1f} ms"
        f"   p99 {percentile(delta_50, 99) * ms:6.1f} ms"
    )
    print(
        f"  ping:          p50 {statistics.median(ping_50) * ms:6.1f} ms"
        f"   p99 {percentile(ping_50, 99) * ms:6.1f} ms"
    )
    print(
        f"  ratio of p99:  {percentile(delta_50, 99) / percentile(ping_50, 99):9.2f}"
        "   (target <= 2)"
    )


if __name__ == "__main__":
    main()

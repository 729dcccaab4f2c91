"""Push and pull on PostgreSQL beside SQLite, with one process and with two, in one run.

For each store backend and each number of `beatsync serve --workers`, a fresh demo city
(no past) on 127.0.0.1, and the same phones as `bench/sync.py`:

1. push: 8 phones at once push batches of 100 visit logs, in rounds, and then the same
   visits one to a push, as phones in the field send them;
2. full pull: one officer pulls a backlog of 2,000 tasks from no cursor, in pages of 200;
3. delta pull: the same officer, one new warning since their cursor, pulled again and
   again: what a phone that syncs every few minutes costs;
4. ingest: the backlog's warnings, through the platform API in batches of 1,000;
5. reports: today's completion report, as a station's supervisor and as the city's
   administrator;
6. ping: the same phones post the push bodies to `POST /api/v1/ping`: the HTTP floor;
7. the database's growth per visit log and per warning (pg_database_size, or the file).

Beside each rate it prints the CPU each request costs: of beatsync's processes (the
supervisor and its workers), and of PostgreSQL's (every `postgres` process on the
machine). On a 2-core machine that shares its cores with the load generator, throughput
cannot grow with processes; CPU per request is what a capacity model multiplies out
(docs/scaling.md), and what a machine with more cores divides its cores by.

PostgreSQL: a server that may create databases, named by BEATSYNC_BENCH_POSTGRES (or
BEATSYNC_TEST_POSTGRES, as scripts/check sets it); each run makes a throwaway database
with C collation and drops it. Unset: SQLite only, said so.

    python -m bench.backends [--pushes-per-phone 10] [--rounds 3] [--backlog 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import msgspec

from bench.common import (
    demo_server,
    login,
    officer_grids,
    platform_token,
    postgres_cpu,
    tree_cpu,
)
from bench.push_floor import floor
from bench.sync import BATCH, PHONES, concurrent_posts, full_pull, ingest, visit_batch
from server.demo import ACCOUNTS
from server.publicity.service import CITY_TIMEZONE
from sync.ids import new_id

DELTAS = 200
REPORTS = 40
ADMIN = os.environ.get("BEATSYNC_BENCH_POSTGRES") or os.environ.get("BEATSYNC_TEST_POSTGRES")


@contextmanager
def postgres_database() -> Iterator[str]:
    """A throwaway database on the bench's PostgreSQL server; its URL."""
    import psycopg
    from psycopg import sql

    assert ADMIN
    name = f"beatsync_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C'").format(
                sql.Identifier(name)
            )
        )
    try:
        yield f"{ADMIN.rpartition('/')[0]}/{name}"
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@contextmanager
def location(backend: str) -> Iterator[str]:
    if backend == "postgres":
        with postgres_database() as url:
            yield url
    else:
        with tempfile.TemporaryDirectory() as tmp:
            yield str(Path(tmp) / "bench.db")


def one_visit(body: bytes) -> bytes:
    """A push of the body's first visit log alone (fresh ids, so never a replay)."""
    push = msgspec.json.decode(body)
    first = push["mutations"][0]
    first["mutation_id"], first["entry"]["entry_id"] = new_id(), new_id()
    return msgspec.json.encode({**push, "mutations": [first]})


def database_bytes(where: str) -> int:
    if where.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(where) as conn:
            row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
            return int(row[0]) if row else 0
    return sum(p.stat().st_size for p in Path(where).parent.glob(Path(where).name + "*"))


def delta_pulls(base: str, token: str, cursor: str, count: int) -> int:
    """The same small change pulled `count` times from one cursor; the changes it held."""
    changes = 0
    with httpx.Client(
        base_url=base, timeout=120, headers={"Authorization": f"Bearer {token}"}
    ) as c:
        for _ in range(count):
            page = c.get("/api/v1/sync/pull", params={"cursor": cursor, "limit": 200})
            page.raise_for_status()
            changes = len(page.json()["changes"])
    return changes


def completion_reports(base: str, token: str, day: str, count: int) -> None:
    with httpx.Client(
        base_url=base, timeout=120, headers={"Authorization": f"Bearer {token}"}
    ) as c:
        for _ in range(count):
            answer = c.get("/api/v1/reports/completion", params={"date_from": day, "date_to": day})
            answer.raise_for_status()


def last_cursor(base: str, token: str) -> str:
    cursor: str | None = None
    with httpx.Client(
        base_url=base, timeout=120, headers={"Authorization": f"Bearer {token}"}
    ) as c:
        while True:
            params: dict[str, Any] = {"limit": 500, **({"cursor": cursor} if cursor else {})}
            page = c.get("/api/v1/sync/pull", params=params).json()
            cursor = page["cursor"]
            if not page["has_more"]:
                assert cursor
                return cursor


class Meter:
    """CPU seconds of the server's processes and of PostgreSQL's, over one stretch."""

    def __init__(self, server_pid: int) -> None:
        self.pid = server_pid
        self.server = tree_cpu(server_pid)
        self.database = postgres_cpu()

    def per(self, count: int) -> tuple[float, float]:
        """(server ms, database ms) per one of `count` requests since this meter began."""
        return (
            (tree_cpu(self.pid) - self.server) * 1000 / count,
            (postgres_cpu() - self.database) * 1000 / count,
        )


def measure(backend: str, workers: int, args: argparse.Namespace) -> dict[str, Any]:
    with (
        location(backend) as where,
        demo_server(where, history_days=0, workers=workers) as (
            base,
            server,
        ),
    ):
        grids = officer_grids(where)
        officers = sorted(grids)
        platform = platform_token(base)
        pushers = officers[:PHONES]
        tasks = {o: ingest(base, platform, grids[o], 200, f"push-{o}") for o in pushers}
        tokens = [login(base, o, f"bench-push-{i:04d}") for i, o in enumerate(pushers)]
        pushes = PHONES * args.pushes_per_phone
        size_before_pushes = database_bytes(where)
        rounds: list[dict[str, tuple[float, float, float]]] = []
        for r in range(args.rounds):
            bodies = [
                [
                    visit_batch(f"bench-push-{i:04d}", tasks[o], r * args.pushes_per_phone + n)
                    for n in range(args.pushes_per_phone)
                ]
                for i, o in enumerate(pushers)
            ]
            measured = {}
            for name, path in (("ping", "/api/v1/ping"), ("push", "/api/v1/sync/push")):
                meter = Meter(server.pid)
                took, _ = asyncio.run(concurrent_posts(base, tokens, path, bodies))
                measured[name] = (pushes * BATCH / took, *meter.per(pushes))
            # A phone in the field pushes a visit or two at a time: the fixed cost of a
            # push (auth, the transaction, the scope and the commit) weighs most there.
            singles = [[one_visit(b) for b in phone] for phone in bodies]
            meter = Meter(server.pid)
            took, _ = asyncio.run(concurrent_posts(base, tokens, "/api/v1/sync/push", singles))
            measured["single"] = (pushes / took, *meter.per(pushes))
            rounds.append(measured)
        per_visit = (database_bytes(where) - size_before_pushes) / (args.rounds * pushes * BATCH)

        reader = officers[PHONES]
        size_before_ingest = database_bytes(where)
        meter = Meter(server.pid)
        started = time.perf_counter()
        ingest(base, platform, grids[reader], args.backlog, "backlog")
        ingested = (args.backlog / (time.perf_counter() - started), *meter.per(args.backlog))
        per_warning = (database_bytes(where) - size_before_ingest) / args.backlog
        token = login(base, reader, "bench-backlog-0001")
        pulls = []
        for _ in range(args.rounds):
            meter = Meter(server.pid)
            records, pages, took = full_pull(base, token, args.page)
            pulls.append((records / took, *meter.per(pages), records))
        cursor = last_cursor(base, token)
        ingest(base, platform, grids[reader], 1, "delta")
        deltas = []
        for _ in range(args.rounds):
            meter = Meter(server.pid)
            started = time.perf_counter()
            assert delta_pulls(base, token, cursor, DELTAS) >= 1
            deltas.append((DELTAS / (time.perf_counter() - started), *meter.per(DELTAS)))
        # Supervisors' desks: today's completion report of one station, and the city's
        # by county, over every warning the run has ingested.
        today = datetime.now(CITY_TIMEZONE).date().isoformat()
        reports = {}
        for who, label in (
            (ACCOUNTS.station_supervisor, "station"),
            (ACCOUNTS.admin, "city"),
        ):
            reader_token = login(base, who, f"bench-desk-{label}")
            spans = []
            for _ in range(args.rounds):
                meter = Meter(server.pid)
                started = time.perf_counter()
                completion_reports(base, reader_token, today, REPORTS)
                spans.append((REPORTS / (time.perf_counter() - started), *meter.per(REPORTS)))
            reports[label] = tuple(statistics.median(x[k] for x in spans) for k in range(3))
    med = statistics.median
    return {
        "reports": reports,
        "delta": tuple(med(d[k] for d in deltas) for k in range(3)),
        "bytes": (per_visit, per_warning),
        "ingest": ingested,
        "push": tuple(med(r["push"][k] for r in rounds) for k in range(3)),
        "single": tuple(med(r["single"][k] for r in rounds) for k in range(3)),
        "ping": tuple(med(r["ping"][k] for r in rounds) for k in range(3)),
        "pull": tuple(med(p[k] for p in pulls) for k in range(3)),
        "records": pulls[0][3],
    }


def table(
    results: dict[tuple[str, int], dict[str, Any]], key: str, rate: str, digits: int = 2
) -> None:
    """One figure of every backend and process count: its rate, then CPU per request."""
    print(f"  backend    procs   {rate:>12s}   server ms   database ms")
    for (backend, workers), r in results.items():
        per_second, server_ms, db_ms = r[key]
        print(
            f"  {backend:10s} {workers:5d}   {per_second:12.0f}   {server_ms:9.{digits}f}"
            f"   {db_ms:11.{digits}f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pushes-per-phone", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--backlog", type=int, default=2000)
    parser.add_argument("--page", type=int, default=200)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    backends = ["sqlite", *(["postgres"] if ADMIN else [])]
    results = {(b, w): measure(b, w, args) for b in backends for w in args.workers}
    bare = statistics.median(floor())

    print(
        f"store backends, {os.cpu_count()} cores shared by server, database and load"
        f" generator ({datetime.now(UTC):%Y-%m-%d}); medians of {args.rounds} rounds"
    )
    if not ADMIN:
        print("  PostgreSQL: not measured (set BEATSYNC_BENCH_POSTGRES to a server URL)")
    print(
        f"push: {PHONES} phones x {args.pushes_per_phone} pushes of {BATCH} visit logs;"
        f" CPU per push of {BATCH}"
    )
    print("  backend    procs   visit logs/s   server ms   database ms   | ping: logs/s  server ms")
    for (backend, workers), r in results.items():
        rate, server_ms, db_ms = r["push"]
        ping_rate, ping_ms, _ = r["ping"]
        print(
            f"  {backend:10s} {workers:5d}   {rate:12.0f}   {server_ms:9.2f}   {db_ms:11.2f}"
            f"   | {ping_rate:12.0f}  {ping_ms:9.2f}"
        )
    print(f"push of one visit log: {PHONES} phones x {args.pushes_per_phone}; CPU per push")
    table(results, "single", "pushes/s")
    print(f"  floor: SQLite's bare writes of a push (bench.push_floor): {bare * 1000:.2f} ms")
    records = next(iter(results.values()))["records"]
    print(f"full pull: {records} tasks in pages of {args.page}; CPU per page")
    table(results, "pull", "records/s")
    print(f"delta pull: one new warning since the cursor, {DELTAS} pulls; CPU per pull")
    table(results, "delta", "pulls/s")
    print("ingest: the backlog's warnings in batches of 1,000; CPU per warning")
    table(results, "ingest", "warnings/s", digits=3)
    print(
        f"completion report for today, {REPORTS} a round: a station's supervisor, the city's"
        " administrator (every warning of the run); CPU per report"
    )
    print("  backend    procs   desk        reports/s   server ms   database ms")
    for (backend, workers), r in results.items():
        for label, (rate, server_ms, db_ms) in r["reports"].items():
            print(
                f"  {backend:10s} {workers:5d}   {label:8s} {rate:11.0f}   {server_ms:9.2f}"
                f"   {db_ms:11.2f}"
            )
    print("growth of the database: bytes per visit log, per warning (indexes, logs, audit)")
    for (backend, workers), r in results.items():
        per_visit, per_warning = r["bytes"]
        print(f"  {backend:10s} {workers:5d}   {per_visit:8.0f}   {per_warning:8.0f}")
    if ("sqlite", 1) in results and ("postgres", 1) in results:
        sq, pg = results[("sqlite", 1)], results[("postgres", 1)]
        print(
            "PostgreSQL beside SQLite, one process: push"
            f" {pg['push'][0] / sq['push'][0]:.2f}x the rate,"
            f" {(pg['push'][1] + pg['push'][2]) / sq['push'][1]:.2f}x the CPU per push"
            " (server and database together);"
            f" pull {pg['pull'][0] / sq['pull'][0]:.2f}x the rate"
        )


if __name__ == "__main__":
    main()

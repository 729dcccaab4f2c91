"""What a pull page costs the server, by the size of the officer's scope.

    python -m bench.pull_scope [--scopes 200,2000,20000] [--page 200] [--runs 21]

For each scope size, a fresh tiny city (a real SQLite file) where officer o1 holds that
many open warnings (deadlines spread over days, so the order is real), then, through the
sync service as the HTTP handler calls it (the JSON encoding of the answer included):

- a snapshot page: the first page of a fresh phone's full pull (and, where the scope has
  more pages than one, a page from the middle);
- a delta pull: a phone up to date pulls after one of its warnings changed.

Each is timed in this process's CPU time, median of --runs, the scopes taking turns run
by run (this machine's speed drifts by half over minutes: timed one after another, the
ratios measured the drift). Printed beside issue 13's targets: a page from a scope of
20,000 at most 1.2 times one from a scope of 200, at most 25 µs of server CPU per task
pulled, and a delta pull that costs what changed.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec

from server.auth.passwords import Passwords
from server.auth.principal import Principal
from server.clock import ManualClock
from server.store.interface import Store
from server.store.opening import open_store
from server.store.queries import WarningQuery
from server.store.records import Actor
from server.sync.service import SyncService
from tests.support.city import build_tiny_city, new_warning

BUDGET_RATIO = 1.2
BUDGET_US_PER_TASK = 25.0
ACTOR = Actor(user_id=None, device_id="bench")


def cpu_once(fn: Callable[[], object]) -> float:
    started = time.process_time()
    fn()
    return time.process_time() - started


def city_with_scope(folder: Path, size: int) -> tuple[Store, Principal, ManualClock]:
    clock = ManualClock(datetime(2026, 11, 25, 8, 0, tzinfo=UTC))
    store = open_store(str(folder / f"scope-{size}.db"), clock)
    city = build_tiny_city(store, Passwords(time_cost=1, memory_kib=1024))
    platform, o1 = city.id("platform"), city.id("o1")
    start = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    for first in range(0, size, 1000):
        store.ingest_warnings(
            [
                new_warning(
                    platform,
                    f"P{n}",
                    o1,
                    deadline_at=start + timedelta(minutes=(n * 7919) % (size * 3)),
                )
                for n in range(first, min(size, first + 1000))
            ],
            ACTOR,
        )
    user = store.get_user(o1)
    assert user is not None
    principal = Principal.of(user, device_pk=1, device_id="bench-phone", session_id="s")
    return store, principal, clock


Reads = dict[str, Callable[[], object] | None]


def reads_of(folder: Path, size: int, page: int) -> tuple[Store, Reads]:
    """The store of a city with that scope, and the three reads to time on it."""
    store, principal, _ = city_with_scope(folder, size)
    sync = SyncService(store)
    encode = msgspec.json.encode
    first = sync.pull(principal, None, page)
    middle_cursor = first.cursor if first.has_more else None
    for _ in range(max(0, size // page // 2 - 1)):
        middle_cursor = sync.pull(principal, middle_cursor, page).cursor
    # A phone that holds everything: follow the pages to the end.
    cursor = first.cursor
    while first.has_more:
        answer = sync.pull(principal, cursor, page)
        cursor = answer.cursor
        if not answer.has_more:
            break
    some = store.list_warnings(principal.jurisdiction, WarningQuery(limit=1))[0]
    later = some.deadline_at + timedelta(hours=1)
    store.update_warning(some.id, some.version, {"deadline_at": later}, "warning.deadline", ACTOR)
    delta = sync.pull(principal, cursor, page)
    assert len(delta.changes) == 1, len(delta.changes)
    return store, {
        "first": lambda: encode(sync.pull(principal, None, page)),
        "middle": (lambda: encode(sync.pull(principal, middle_cursor, page)))
        if middle_cursor
        else None,
        "delta": lambda: encode(sync.pull(principal, cursor, page)),
    }


def measure(folder: Path, sizes: list[int], page: int, runs: int) -> dict[int, dict[str, float]]:
    """Median CPU seconds of each read, per scope. The scopes take turns, run by run, so
    that the machine's slow spells fall on all of them alike and the ratios hold."""
    cities = {size: reads_of(folder, size, page) for size in sizes}
    times: dict[int, dict[str, list[float]]] = {size: {} for size in sizes}
    try:
        for _ in range(runs):
            for size, (_, reads) in cities.items():
                for name, read in reads.items():
                    if read is not None:
                        times[size].setdefault(name, []).append(cpu_once(read))
    finally:
        for store, _ in cities.values():
            store.close()
    return {
        size: {
            name: statistics.median(taken[name]) if name in taken else float("nan")
            for name in ("first", "middle", "delta")
        }
        for size, taken in times.items()
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scopes", default="200,2000,20000")
    parser.add_argument("--page", type=int, default=200)
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    sizes = [int(s) for s in args.scopes.split(",")]
    with tempfile.TemporaryDirectory(prefix="bench-pull-") as tmp:
        results = measure(Path(tmp), sizes, args.page, args.runs)
    smallest = results[sizes[0]]
    ok = True
    print(f"pull pages of {args.page}, server CPU (median of {args.runs}):")
    for size in sizes:
        r = results[size]
        per_task = r["first"] / args.page * 1e6
        ratio = r["first"] / smallest["first"]
        delta_ratio = r["delta"] / smallest["delta"]
        ok &= ratio <= BUDGET_RATIO and per_task <= BUDGET_US_PER_TASK
        ok &= delta_ratio <= BUDGET_RATIO
        print(
            f"  scope {size:>6,}: first page {r['first'] * 1e3:6.2f} ms ({per_task:5.1f}"
            f" µs/task, budget {BUDGET_US_PER_TASK:.0f}), x{ratio:.2f} of scope"
            f" {sizes[0]:,} (budget x{BUDGET_RATIO}); middle page"
            f" {r['middle'] * 1e3:6.2f} ms; delta of one task {r['delta'] * 1e3:6.2f} ms"
            f" (x{delta_ratio:.2f}, budget x{BUDGET_RATIO})"
        )
    print("verdict:", "ok" if ok else "OVER BUDGET")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

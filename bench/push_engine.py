"""The push merge engine without HTTP: what `bench/sync.py`'s push figure costs inside.

Seeds the demo city into a store on a fresh SQLite file, delivers 200 warnings to each
of 8 officers, then applies the same pushes as `bench/sync.py` (batches of 100 visit
logs, ids made as the reference client makes them) through the real sync service, from
8 threads at once as 8 phones' requests would, and one push at a time. Prints visit logs
merged per second, the median push, and the process's CPU time per push including the
background work a push leaves (WAL checkpoint, photo claims). Then, beside it, the floor
(`bench/push_floor.py`: SQLite's bare writes of the same push, its checkpoints counted as
the engine's are) measured after each one-thread run, and the median of the engine's CPU
per push over the floor, run by run, against the target (issue 13: at most 3 times the
floor). One-thread figures are medians of `--runs` runs.

    python -m bench.push_engine [--pushes-per-phone 25] [--runs 3]
"""

from __future__ import annotations

import argparse
import contextlib
import random
import sqlite3
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

import msgspec

from bench.common import officer_grids
from bench.push_floor import floor_run, whole_cost
from bench.sync import BATCH, PHONES, visit_batch
from server.auth.passwords import Passwords
from server.auth.principal import Principal
from server.clock import SystemClock
from server.demo import random_warning, seed_demo_city
from server.logs import configure_logging
from server.store.interface import Store
from server.store.opening import open_store
from server.sync.service import SyncService
from server.warnings.service import WarningService

Push = tuple[Principal, bytes]
TARGET = 3.0  # times the floor: issue 13's bound on the engine's CPU per push


def phones(store: Store, db: Path, pushes: int) -> list[list[Push]]:
    """Each phone's pushes, in order, for the first 8 officers of the demo city."""
    platform = store.get_user_by_login("platform")
    assert platform is not None
    ingest = WarningService(store)
    rng = random.Random(7)
    now = datetime.now(UTC)
    out: list[list[Push]] = []
    for n, (login, grids) in enumerate(sorted(officer_grids(db).items())[:PHONES]):
        items = [random_warning(rng, grids, i, now) for i in range(200)]
        for i, item in enumerate(items):
            item["platform_id"] = f"engine-{login}-{i}"
            item["grid_code"] = grids[i % len(grids)]
        body = msgspec.json.encode({"warnings": items})
        delivered = ingest.ingest(Principal.of(platform, 0, "bench", "bench"), body)
        tasks = [r.warning_id for r in delivered.results if r.warning_id is not None]
        user = store.get_user_by_login(login)
        assert user is not None
        device = f"bench-engine-{n:04d}"
        session, dev = store.open_session(
            user.id, device, "bench", f"r-{n}", datetime(2030, 1, 1, tzinfo=UTC)
        )
        principal = Principal.of(user, dev.id, dev.device_id, session)
        out.append([(principal, visit_batch(device, tasks, k)) for k in range(pushes)])
    return out


def run(
    store: Store, db: Path, work: list[list[Push]], threads: int
) -> tuple[float, list[float], float]:
    """(seconds, per-push seconds, CPU seconds incl. the background work a second after)."""
    sync = SyncService(store)
    times: list[float] = []

    def phone(pushes: list[Push]) -> None:
        for principal, body in pushes:
            started = time.perf_counter()
            sync.push_raw(principal, body)
            times.append(time.perf_counter() - started)

    cpu = time.process_time()
    started = time.perf_counter()
    if threads == 1:
        for pushes in work:
            phone(pushes)
    else:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(phone, work))
    took = time.perf_counter() - started
    time.sleep(1.0)  # let the checkpoint and the claims catch up: their CPU counts too
    # And whatever the log still holds: the copy into the database counts however long
    # the store lets it wait (server/store/sqlite/checkpoint.py).
    with contextlib.closing(sqlite3.connect(db, isolation_level=None)) as conn:
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
    return took, times, time.process_time() - cpu


class Measured(NamedTuple):
    threads: int
    pushes: int
    took: float
    times: list[float]
    cpu: float

    @property
    def cpu_per_push(self) -> float:
        return self.cpu / self.pushes

    def report(self) -> None:
        print(
            f"  {self.threads} thread{'s' if self.threads > 1 else ' '}:"
            f" {self.pushes * BATCH / self.took:9.0f} visit logs/s"
            f"   median push {statistics.median(self.times) * 1000:5.1f} ms"
            f"   CPU per push {self.cpu_per_push * 1000:5.1f} ms"
        )


def measure(pushes: int, threads: int) -> Measured:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "engine.db"
        store = open_store(str(db), SystemClock())
        try:
            seed_demo_city(store, Passwords(time_cost=1, memory_kib=1024))
            work = phones(store, db, pushes)
            took, times, cpu = run(store, db, work, threads)
        finally:
            store.close()
    return Measured(threads, sum(len(w) for w in work), took, times, cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pushes-per-phone", type=int, default=25)
    parser.add_argument("--runs", type=int, default=3, help="one-thread runs, for medians")
    args = parser.parse_args()
    configure_logging(level="warning")
    many = measure(args.pushes_per_phone, PHONES)
    # Each one-thread run is followed by the floor: the same number of pushes of the same
    # shape, in the same process, so that each ratio meets one machine state (its speed
    # drifts by half over minutes here).
    ones, bares, medians, ratios = [], [], [], []
    for _ in range(args.runs):
        ones.append(measure(args.pushes_per_phone, 1))
        times, last = floor_run(PHONES * args.pushes_per_phone)
        # Like for like: the engine's CPU counts its checkpoints, so the floor's cost does
        # too (the median push leaves out the commits that ran one; push_floor.floor_run).
        bares.append(whole_cost(times, last))
        medians.append(statistics.median(times))
        ratios.append(ones[-1].cpu_per_push / bares[-1])
    shape = f"{PHONES} phones x {args.pushes_per_phone} pushes of {BATCH}"
    print(f"push merge engine without HTTP, {shape}:")
    many.report()
    one = sorted(ones, key=lambda m: m.cpu_per_push)[len(ones) // 2]
    one.report()
    cpu, bare, ratio = one.cpu_per_push, statistics.median(bares), statistics.median(ratios)
    print(
        f"  CPU per push, median of {len(ones)} one-thread runs: {cpu * 1000:5.2f} ms"
        f"   floor (bench.push_floor), checkpoints included: {bare * 1000:5.2f} ms"
        f"   (median push without them: {statistics.median(medians) * 1000:5.2f} ms)"
    )
    print(
        f"  engine / floor, median of the runs' ratios: {ratio:4.1f}x"
        f" [{', '.join(f'{r:.1f}' for r in ratios)}]   target: at most {TARGET:.0f}x"
        f"   {'met' if ratio <= TARGET else 'NOT met'}"
    )


if __name__ == "__main__":
    main()

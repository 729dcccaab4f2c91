"""Warnings ingested per second, in batches of 1,000, through the real server.

Starts `beatsync serve --demo` on a fresh database on 127.0.0.1, logs in as the demo
platform, and delivers batches of 1,000 fresh warnings: one client at a time, then two
at once. Prints the median rate over the batches, next to the store alone (the same
routing and insert without HTTP) measured in the same run.

    python -m bench.ingest [--batches 20]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import msgspec

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import demo_server, officer_grids, platform_token  # noqa: E402
from server.demo import random_warning  # noqa: E402
from server.logs import configure_logging  # noqa: E402

BATCH = 1000


def grids_of(db: Path) -> list[str]:
    return [code for codes in officer_grids(db).values() for code in codes]


def make_batches(count: int, grids: list[str], tag: str) -> list[bytes]:
    rng = random.Random(tag)
    now = datetime.now(UTC)
    out = []
    for b in range(count):
        items = [random_warning(rng, grids, b * BATCH + i, now) for i in range(BATCH)]
        for i, item in enumerate(items):
            item["platform_id"] = f"BENCH-{tag}-{b:04d}-{i:04d}"
        out.append(msgspec.json.encode({"warnings": items}))
    return out


def deliver(base: str, token: str, bodies: list[bytes], rates: list[float]) -> None:
    with httpx.Client(
        base_url=base,
        timeout=60,
        headers={"Authorization": f"Bearer {token}", "content-type": "application/json"},
    ) as c:
        for body in bodies:
            started = time.perf_counter()
            response = c.post("/api/v1/platform/warnings", content=body)
            elapsed = time.perf_counter() - started
            response.raise_for_status()
            assert response.json()["created"] == BATCH, response.text[:300]
            rates.append(BATCH / elapsed)


def store_only(grids: list[str], batches: int) -> float:
    """The same service call without HTTP, on its own database: the store's ceiling."""
    from server.auth.passwords import Passwords
    from server.auth.principal import Principal
    from server.clock import SystemClock
    from server.demo import seed_demo_city
    from server.store.opening import open_store
    from server.warnings.service import WarningService

    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(str(Path(tmp) / "s.db"), SystemClock())
        seed_demo_city(store, Passwords(time_cost=1, memory_kib=1024))
        platform = store.get_user_by_login("platform")
        assert platform is not None
        principal = Principal.of(platform, 0, "bench", "bench")
        service = WarningService(store)
        rates = []
        for body in make_batches(batches, grids, "store"):
            started = time.perf_counter()
            out = service.ingest(principal, body)
            rates.append(BATCH / (time.perf_counter() - started))
            assert out.created == BATCH
        store.close()
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batches", type=int, default=20)
    args = parser.parse_args()
    configure_logging(json=True, level="warning")
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        with demo_server(db) as (base, _):
            token = platform_token(base)
            grids = grids_of(db)
            one: list[float] = []
            deliver(base, token, make_batches(args.batches, grids, "one"), one)
            two: list[float] = []
            halves = make_batches(args.batches, grids, "two")
            threads = [
                threading.Thread(target=deliver, args=(base, token, part, two))
                for part in (halves[::2], halves[1::2])
            ]
            started = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            two_wall = args.batches * BATCH / (time.perf_counter() - started)
    ceiling = store_only(grids, args.batches)
    print(f"warning ingest, batches of {BATCH}, {args.batches} batches per run, one machine:")
    print(
        f"  over HTTP, one client:       median {statistics.median(one):8.0f} warnings/s"
        f"  (min {min(one):.0f}, max {max(one):.0f})"
    )
    print(f"  over HTTP, two clients:      total  {two_wall:8.0f} warnings/s")
    print(f"  service + store, no HTTP:    median {ceiling:8.0f} warnings/s")
    print(f"  HTTP one client / no HTTP:   {statistics.median(one) / ceiling:.2f}")
    print(
        f"  a city's day (19,000 warnings) at the one-client rate: "
        f"{19000 / statistics.median(one):.1f} s"
    )


if __name__ == "__main__":
    main()

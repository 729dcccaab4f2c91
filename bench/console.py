"""The supervisors' console at city scale: a 30-day trend of a city-month, and the city
ranking (the completion report's by-sub-unit part), each beside its budget.

Builds the city-month of bench/supervision.py (10 counties, 200 stations, 600
officers, 19,000 warnings a day for 30 days: 570,000) with its builder, then times,
through the real services, the city's trend over the 30 days and its ranking over the
same days (the completion report with by_officer=false, as the console asks it),
medians of a few runs. Then reads the full completion report once (by officer too, the
other path through the store) and checks that the ranking's figures (by county, and the
total) are its figures to the byte, by digest, and that the trend's days add up to its
totals.

    python -m bench.console [--days 30] [--per-day 19000] [--runs 5] [--db PATH] [--keep]
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec

from bench.supervision import CITY, FIRST_DAY, build, timed
from server.auth.principal import Principal
from server.clock import ManualClock
from server.reports.service import ReportService
from server.settings import Settings
from server.store.opening import open_store
from server.store.records import Role

BUDGET_SECONDS = 1.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--per-day", type=int, default=19_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--db", type=Path, help="reuse (or keep) the city-month here")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    folder = tempfile.TemporaryDirectory()
    path = args.db or Path(folder.name) / "console.db"
    if not path.exists():
        started = time.perf_counter()
        count = build(path, args.days, args.per_day)
        print(f"built {count:,} warnings in {time.perf_counter() - started:.1f} s")
    clock = ManualClock(
        datetime.combine(FIRST_DAY + timedelta(days=args.days), datetime.min.time(), UTC)
    )
    store = open_store(str(path), clock)
    admin = Principal(
        user_id=0,
        login="admin",
        name="admin",
        role=Role.CITY_ADMIN,
        unit_id=CITY,
        city_id=CITY,
        county_id=None,
        station_id=None,
        device_pk=0,
        device_id="bench",
        session_id="bench",
    )
    reports = ReportService(store, Settings(env="test", database_path=str(path)))
    last = FIRST_DAY + timedelta(days=args.days - 1)
    t_trend, trend = timed(
        f"trend, city, {args.days} days",
        lambda: reports.trend(admin, CITY, FIRST_DAY, last),
        args.runs,
    )
    t_rank, ranking = timed(
        "ranking: completion report, city, by county (by_officer=false)",
        lambda: reports.completion(admin, CITY, FIRST_DAY, last, by_officer=False),
        args.runs,
    )
    report = reports.completion(admin, CITY, FIRST_DAY, last)
    store.close()
    digests = [
        hashlib.sha256(msgspec.json.encode([r.total, r.by_unit])).hexdigest()  # type: ignore[attr-defined]
        for r in (ranking, report)
    ]
    print("ranking figures sha256:", digests[0])
    assert digests[0] == digests[1], ("the ranking is not the report's by_unit", digests)
    print("the ranking's figures are the completion report's: yes")
    total = report.total.warnings
    days = trend.days  # type: ignore[attr-defined]
    for name in ("received", "visited", "face_to_face", "on_time", "overdue", "amount_prevented"):
        summed = sum(getattr(d, name) for d in days)
        assert summed == getattr(total, name), (name, summed, getattr(total, name))
    print(f"trend days: {len(days)}; counties ranked: {len(report.by_unit)}")
    print("the trend's days add up to the report's totals: yes")
    for label, seconds in (("trend", t_trend), ("ranking", t_rank)):
        verdict = "within" if seconds < BUDGET_SECONDS else "OVER"
        print(f"{label}: {seconds:.3f} s, budget {BUDGET_SECONDS:.1f} s: {verdict}")
    if args.keep:
        print("kept", path)
        folder.cleanup = lambda: None  # type: ignore[method-assign]


if __name__ == "__main__":
    main()

"""The supervisors' console at city scale: a 30-day trend of a city-month, and the city
ranking (the completion report's by-sub-unit part), each beside its budget.

Builds the city-month of bench/supervision.py (10 counties, 200 stations, 600
officers, 19,000 warnings a day for 30 days: 570,000) with its builder, then times,
through the real services, the city's trend over the 30 days and its completion report
over the same days (the endpoint that yields the ranking of counties), medians of a few
runs. Checks that the trend's days add up to the report's totals.

    python -m bench.console [--days 30] [--per-day 19000] [--runs 5] [--db PATH] [--keep]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.supervision import CITY, FIRST_DAY, build, timed
from server.auth.principal import Principal
from server.clock import ManualClock
from server.reports.service import ReportService
from server.settings import Settings
from server.store.interface import open_store
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
    t_rank, report = timed(
        "ranking: completion report, city, by county (and officer)",
        lambda: reports.completion(admin, CITY, FIRST_DAY, last),
        args.runs,
    )
    store.close()
    total = report.total.warnings  # type: ignore[attr-defined]
    days = trend.days  # type: ignore[attr-defined]
    for name in ("received", "visited", "face_to_face", "on_time", "overdue", "amount_prevented"):
        summed = sum(getattr(d, name) for d in days)
        assert summed == getattr(total, name), (name, summed, getattr(total, name))
    print(f"trend days: {len(days)}; counties ranked: {len(report.by_unit)}")  # type: ignore[attr-defined]
    print("the trend's days add up to the report's totals: yes")
    for label, seconds in (("trend", t_trend), ("ranking", t_rank)):
        verdict = "within" if seconds < BUDGET_SECONDS else "OVER"
        print(f"{label}: {seconds:.3f} s, budget {BUDGET_SECONDS:.1f} s: {verdict}")
    if args.keep:
        print("kept", path)
        folder.cleanup = lambda: None  # type: ignore[method-assign]


if __name__ == "__main__":
    main()

"""Supervision at city scale: the completion report and the bulletin over a city-month.

Builds a SQLite file with the store's own schema (open_store migrates it), then fills a
month of a city straight in with bulk inserts: 10 counties, 200 stations, 600 officers,
19,000 warnings a day for 30 days (570,000) with a visit log for each visited one. Then
times, through the real services, the month's completion report of the whole city (by
county and by officer) and the month's and a day's bulletin. Prints every figure.

    python bench/supervision.py [--days 30] [--per-day 19000] [--db PATH] [--keep]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import msgspec

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from server.auth.principal import Principal  # noqa: E402
from server.clock import ManualClock, iso  # noqa: E402
from server.reports.schemas import Period  # noqa: E402
from server.reports.service import ReportService  # noqa: E402
from server.settings import Settings  # noqa: E402
from server.store.opening import open_store  # noqa: E402
from server.store.records import Role  # noqa: E402
from server.store.sqlite.base import connect  # noqa: E402

CITY = "411600"
COUNTIES = [f"4116{n:02d}" for n in range(2, 12)]
STATIONS_PER_COUNTY = 20
OFFICERS_PER_STATION = 3
FIRST_DAY = date(2026, 11, 1)
OUTCOMES = (
    ["dissuaded"] * 80
    + ["already_lost"] * 3
    + ["not_reachable"] * 7
    + ["refused"] * 4
    + ["false_alarm"] * 6
)


def utc(when: datetime) -> str:
    """iso() for a time that is in UTC already: the same text, without astimezone()."""
    return when.isoformat(timespec="microseconds")


def build(path: Path, days: int, per_day: int, seed: int = 7) -> int:
    clock = ManualClock(datetime(2026, 11, 1, tzinfo=UTC))
    open_store(str(path), clock).close()  # the schema, by the store's own migrations
    rng = random.Random(seed)
    now = iso(clock.now())
    conn = connect(path)
    conn.row_factory = None
    conn.execute("PRAGMA synchronous = OFF")
    # A bulk load: keep the B-trees being filled in memory, write them once.
    conn.execute("PRAGMA journal_mode = OFF")
    conn.execute("PRAGMA cache_size = -1500000")
    conn.execute("BEGIN")
    # Indexes are built once after the load (a sort each), not row by row.
    indexes = [
        sql
        for (sql,) in conn.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
            " AND tbl_name IN ('warnings', 'visit_logs')"
        )
    ]
    for (name,) in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        " AND tbl_name IN ('warnings', 'visit_logs')"
    ).fetchall():
        conn.execute(f"DROP INDEX {name}")
    units = [(CITY, "周口市公安局", "city", None, CITY, None, None, now, now)]
    users = [(1, "platform", "预警平台", "platform", CITY, CITY, None, None, "!", now, now)]
    grids = []
    officers: list[tuple[int, str, str, str]] = []  # id, grid, county, station
    user_id = 2
    for county in COUNTIES:
        units.append((county, f"{county}分局", "county", CITY, CITY, county, None, now, now))
        for s in range(1, STATIONS_PER_COUNTY + 1):
            station = f"{county}-{s:02d}"
            units.append(
                (station, f"{station}派出所", "station", county, CITY, county, station, now, now)
            )
            for o in range(1, OFFICERS_PER_STATION + 1):
                grid = f"{county}{s:03d}{o:03d}"
                users.append(
                    (
                        user_id,
                        f"officer-{station}-{o}",
                        f"民警{user_id}",
                        "officer",
                        station,
                        CITY,
                        county,
                        station,
                        "!",
                        now,
                        now,
                    )
                )
                grids.append(
                    (grid, f"村{grid}", "village", station, county, CITY, user_id, now, now)
                )
                officers.append((user_id, grid, county, station))
                user_id += 1
    conn.executemany(
        "INSERT INTO units (id, name, level, parent_id, city_id, county_id,"
        " station_id, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?)",
        units,
    )
    conn.executemany(
        "INSERT INTO users (id, login, name, role, unit_id, city_id, county_id,"
        " station_id, password_hash, created_at, updated_at)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        users,
    )
    conn.executemany(
        "INSERT INTO grids (code, name, kind, station_id, county_id, city_id,"
        " officer_id, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?)",
        grids,
    )
    warnings, visits = [], []
    warning_id = 0
    end_of_data = datetime.combine(FIRST_DAY + timedelta(days=days), datetime.min.time(), UTC)
    for day in range(days):
        start = datetime.combine(FIRST_DAY + timedelta(days=day), datetime.min.time(), UTC)
        for _ in range(per_day):
            warning_id += 1
            officer, grid, county, station = rng.choice(officers)
            created = start + timedelta(seconds=rng.randrange(86_400))
            risk = rng.choice(("high", "high", "medium", "low"))
            roll = rng.random()
            amount = None
            state, outcome, contact, first, closed, entry = (
                "dispatched",
                None,
                None,
                None,
                None,
                None,
            )
            if roll < 0.01:
                state = "cancelled"
                closed = utc(created + timedelta(minutes=20))
            elif roll < 0.97 or created < end_of_data - timedelta(hours=6):
                outcome = rng.choice(OUTCOMES)
                contact = "face_to_face" if rng.random() < 0.95 else "phone"
                arrived = created + timedelta(minutes=rng.expovariate(1 / 25))
                first = utc(arrived)
                closed = utc(arrived + timedelta(minutes=30))
                state = "unreachable" if outcome == "not_reachable" else "completed"
                entry = f"e{warning_id:010d}"
                amount = (
                    rng.choice((None, None, 5000, 20000, 100000))
                    if outcome == "dissuaded"
                    else None
                )
                visits.append(
                    (
                        entry,
                        "warning",
                        warning_id,
                        officer,
                        1,
                        f"m{warning_id:010d}",
                        None,
                        first,
                        closed,
                        first,
                        contact,
                        outcome,
                        amount,
                        None,
                        33.6,
                        114.6,
                        10.0,
                        "[]",
                        None,
                        None,
                        "[]",
                        0,
                        f"{warning_id:018d}-00000-bench",
                        0,
                        "[]",
                        warning_id,
                        CITY,
                        county,
                        station,
                    )
                )
            c = utc(created)
            warnings.append(
                (
                    warning_id,
                    1,
                    f"YJ{warning_id:09d}",
                    "x",
                    "陈某",
                    "13800000000",
                    "某村",
                    None,
                    grid,
                    county,
                    "fund_transfer",
                    "fake_loan",
                    risk,
                    None,
                    c,
                    utc(created + timedelta(hours=2)),
                    state,
                    CITY,
                    county,
                    station,
                    officer,
                    "officer",
                    None,
                    outcome,
                    None,
                    c,
                    1,
                    warning_id,
                    c,
                    closed or c,
                    entry,
                    officer if entry else None,
                    contact,
                    None,
                    first,
                    closed,
                    amount,
                )
            )
    conn.executemany(
        "INSERT INTO warnings (id, client_id, platform_id, payload_hash, resident_name,"  # noqa: S608
        " resident_phone, resident_address, resident_id_number, grid_code, county_code,"
        " source, fraud_type, risk_level, summary, issued_at, deadline_at, state, city_id,"
        " county_id, station_id, officer_id, queue, routing_reason, outcome, cancel_reason,"
        " dispatched_at, version, seq, created_at, updated_at, outcome_entry_id,"
        " outcome_officer_id, outcome_contact, outcome_hlc, first_contact_at, closed_at,"
        " outcome_amount) VALUES (" + ",".join("?" * 37) + ")",
        warnings,
    )
    conn.executemany(
        "INSERT INTO visit_logs (entry_id, task_kind, task_id, officer_id, device_pk,"  # noqa: S608
        " mutation_id, supersedes, recorded_at, received_at, arrived_at, contact, outcome,"
        " amount_prevented, notes, lat, lon, accuracy_m, photos, held_at, attendance,"
        " materials, completed, hlc, device_clock_offset_ms, flags, seq, city_id,"
        " county_id, station_id) VALUES (" + ",".join("?" * 29) + ")",
        visits,
    )
    for sql in indexes:
        conn.execute(sql)
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()
    return warning_id


def timed(label: str, fn, runs: int = 5) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    """The median of `runs` timings (this box is noisy), with the fastest beside it."""
    times, result = [], None
    for _ in range(runs):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    median = statistics.median(times)
    print(f"{label}: median of {runs} {median:.3f} s (fastest {min(times):.3f} s)")
    return median, result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--per-day", type=int, default=19_000)
    parser.add_argument("--db", type=Path)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    folder = tempfile.TemporaryDirectory()
    path = args.db or Path(folder.name) / "supervision.db"
    started = time.perf_counter()
    count = build(path, args.days, args.per_day)
    print(
        f"built {count:,} warnings with their visit logs in {time.perf_counter() - started:.1f} s"
        f" ({path.stat().st_size / 1e6:.0f} MB)"
    )
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
    t_report, report = timed(
        "completion report, city, month, by county and officer",
        lambda: reports.completion(admin, CITY, FIRST_DAY, last),
    )
    t_month, month = timed(
        "bulletin, city, month", lambda: reports.bulletin(admin, FIRST_DAY, Period.MONTH)
    )
    t_day, day = timed("bulletin, city, one day", lambda: reports.bulletin(admin, last, Period.DAY))
    total = report.total.warnings  # type: ignore[attr-defined]
    print(
        json.dumps(
            {
                "received": total.received,
                "visited": total.visited,
                "face_to_face_rate": total.face_to_face_rate,
                "on_time_rate": total.on_time_rate,
                "median_min": total.contact_minutes_median,
                "p90_min": total.contact_minutes_p90,
                "by_officer_rows": len(report.by_officer),
            },
            ensure_ascii=False,
        )
    )  # type: ignore[attr-defined]
    # Every figure of the three reports, to compare runs and releases on the same seed.
    every = msgspec.json.encode({"completion": report, "month": month, "day": day})
    print("figures sha256:", hashlib.sha256(every).hexdigest())
    plan = store._query(  # type: ignore[attr-defined]
        "EXPLAIN QUERY PLAN SELECT count(*) FROM warnings w WHERE w.city_id = ?"
        " AND w.created_at >= ? AND w.created_at < ?",
        (CITY, "a", "b"),
    )
    print("plan:", "; ".join(r["detail"] for r in plan))
    store.close()
    ok = max(t_report, t_month, t_day) < 2.0
    print("under 2 s each:", "yes" if ok else "NO")
    if args.keep:
        print("kept", path)
        folder.cleanup = lambda: None  # type: ignore[method-assign]


if __name__ == "__main__":
    main()

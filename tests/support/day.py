"""A day of the tiny city, run through the API, with every figure counted by hand.

Clock: ManualClock (UTC). The reports' day is the local day (UTC+8): 2026-11-25 runs from
2026-11-24T16:00Z to 2026-11-25T16:00Z. Contact limits: high 30 min, medium 120, low 480.

  W0  o1's grid, high, arrived 2026-11-24T15:00Z (local 23:00 on the 24th): not in the 25th
  W1  o1, high:   face to face at 08:10, dissuaded, 100,000 yuan        10 min, on time
  W2  o1, high:   phone at 08:50, refused                               50 min, late
  W3  o2, medium: face to face at 09:00, already lost                   60 min, on time
  W4  o2, high:   never visited                                         overdue at 10:00
  W5  o3, high:   face to face at 08:20, dissuaded, 5,000 yuan          20 min, on time
  W6  station queue (no officer), low: cancelled by sup1
  W7  o4 (the other county), high: face to face at 08:05, false alarm    5 min, on time
  P1  publicity at o1's station, o1, window the 25th: done, attendance 40 corrected to 45,
      materials 100 leaflets + 5 posters
  P2  publicity at o3's station, o3, window the 24th only: never done (overdue)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import httpx

from server.clock import ManualClock
from server.store.interface import Store
from server.store.records import Actor
from tests.support.api import a_warning, as_platform, as_user
from tests.support.city import TinyCity
from tests.support.sync import push, visit

DAY = date(2026, 11, 25)


def at(hour: int, minute: int = 0, day: int = 25) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


@dataclass
class Day:
    warnings: dict[str, int] = field(default_factory=dict)
    publicity: dict[str, int] = field(default_factory=dict)
    entries: dict[str, str] = field(default_factory=dict)


async def deliver(client: httpx.AsyncClient, grid: str, risk: str = "high", **extra: Any) -> int:
    response = await client.post(
        "/api/v1/platform/warnings",
        json={"warnings": [a_warning(grid, risk_level=risk, **extra)]},
        headers=await as_platform(client),
    )
    assert response.status_code == 200, response.text
    [result] = response.json()["results"]
    assert result["status"] == "created", result
    return int(result["warning_id"])


async def record(
    client: httpx.AsyncClient,
    who: str,
    warning: int,
    arrived: datetime,
    contact: str,
    outcome: str,
    **entry: Any,
) -> str:
    headers = await as_user(client, who, f"phone-{who}")
    body = visit(
        warning,
        node=f"phone-{who}",
        contact=contact,
        outcome=outcome,
        arrived_at=arrived.isoformat(),
        recorded_at=arrived.isoformat(),
        **entry,
    )
    [result] = (await push(client, headers, body, device_time=arrived))["results"]
    assert result["status"] in ("applied", "conflict"), result
    return str(body["entry"]["entry_id"])


async def run_day(
    client: httpx.AsyncClient, store: Store, clock: ManualClock, city: TinyCity
) -> Day:
    day = Day()
    clock.set(at(15, day=24))
    day.warnings["W0"] = await deliver(client, "411602001001")
    clock.set(at(8))
    day.warnings["W1"] = await deliver(client, "411602001001")
    day.warnings["W2"] = await deliver(client, "411602001001")
    day.warnings["W3"] = await deliver(client, "411602001002", "medium")
    day.warnings["W4"] = await deliver(client, "411602001002")
    day.warnings["W5"] = await deliver(client, "411602002001")
    day.warnings["W6"] = await deliver(client, "411602001003", "low")
    day.warnings["W7"] = await deliver(client, "411621001001")
    w = day.warnings
    clock.set(at(8, 5))
    await record(client, "o4", w["W7"], at(8, 5), "face_to_face", "false_alarm")
    clock.set(at(8, 20))
    day.entries["W1"] = await record(
        client,
        "o1",
        w["W1"],
        at(8, 10),
        "face_to_face",
        "dissuaded",
        amount_prevented=100_000,
        photos=["a" * 64],
    )
    await record(
        client, "o3", w["W5"], at(8, 20), "face_to_face", "dissuaded", amount_prevented=5000
    )
    clock.set(at(8, 50))
    await record(client, "o1", w["W2"], at(8, 50), "phone", "refused")
    clock.set(at(9))
    await record(client, "o2", w["W3"], at(9), "face_to_face", "already_lost")
    sup1 = await as_user(client, "sup1")
    response = await client.post(
        f"/api/v1/warnings/{w['W6']}/cancel",
        headers=sup1,
        json={"reason": "duplicate of another warning", "expected_version": 1},
    )
    assert response.status_code == 200, response.text
    system = Actor(user_id=city.id("sup1"))
    p1 = store.create_publicity_task(
        _publicity("411602001001", "411602-01", "411602", DAY, DAY, city.id("sup1")),
        [city.id("o1")],
        system,
    )
    p2 = store.create_publicity_task(
        _publicity(
            "411602002001",
            "411602-02",
            "411602",
            date(2026, 11, 24),
            date(2026, 11, 24),
            city.id("sup2"),
        ),
        [city.id("o3")],
        system,
    )
    day.publicity = {"P1": p1.id, "P2": p2.id}
    o1 = await as_user(client, "o1", "phone-o1")
    first = visit(
        p1.id,
        kind="publicity",
        node="phone-o1",
        contact=None,
        attendance=40,
        materials=[{"kind": "leaflet", "count": 100}, {"kind": "poster", "count": 5}],
        completed=True,
    )
    await push(client, o1, first, device_time=at(9, 30))
    correction = visit(
        p1.id,
        kind="publicity",
        node="phone-o1",
        contact=None,
        supersedes=first["entry"]["entry_id"],
        attendance=45,
        materials=[{"kind": "leaflet", "count": 100}, {"kind": "poster", "count": 5}],
        completed=True,
    )
    await push(client, o1, correction, device_time=at(9, 40))
    clock.set(at(10))
    return day


def _publicity(
    grid: str, station: str, county: str, start: date, end: date, by: int
) -> dict[str, Any]:
    return {
        "title": "反诈宣传进社区",
        "grid_code": grid,
        "city_id": "411600",
        "county_id": county,
        "station_id": station,
        "venue_kind": "village",
        "audience": "elderly",
        "window_start": start,
        "window_end": end,
        "status": "planned",
        "notes": None,
        "created_by": by,
    }

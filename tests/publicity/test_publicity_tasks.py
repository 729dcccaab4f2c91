"""A supervisor sends officers out to teach residents about scams; each sees only theirs."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest

from server.clock import ManualClock
from server.store.interface import Store
from server.store.records import Actor, Jurisdiction
from tests.support.api import as_platform, as_user
from tests.support.city import TinyCity
from tests.support.day import run_day

pytestmark = pytest.mark.anyio

TASKS = "/api/v1/publicity-tasks"
PROBLEM = "application/problem+json"


def a_task(city: TinyCity, *officers: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "七一路社区老年人防骗讲座",
        "grid_code": "411602001001",
        "venue_kind": "village",
        "audience": "elderly",
        "window_start": "2026-11-26",
        "window_end": "2026-11-28",
        "officer_ids": [city.id(o) for o in officers or ("o1", "o2")],
        "notes": "带上宣传单和国家反诈中心APP二维码",
    }
    body.update(extra)
    return body


async def plan(
    client: httpx.AsyncClient, headers: dict[str, str], body: dict[str, Any]
) -> dict[str, Any]:
    response = await client.post(TASKS, json=body, headers=headers)
    assert response.status_code == 201, response.text
    task: dict[str, Any] = response.json()
    return task


def assert_problem(
    response: httpx.Response, status: int, code: str, field: str | None = None
) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["code"] == code
    assert body.get("field") == field


async def listed_ids(
    client: httpx.AsyncClient, headers: dict[str, str], **params: Any
) -> list[int]:
    response = await client.get(TASKS, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return [t["id"] for t in response.json()["items"]]


async def test_a_station_supervisor_plans_a_task_that_only_its_people_see(
    client: httpx.AsyncClient, city: TinyCity
) -> None:
    sup1 = await as_user(client, "sup1")
    task = await plan(client, sup1, a_task(city, "o2", "o1"))

    assert task["status"] == "planned"
    assert task["version"] == 1
    assert task["overdue"] is False
    assert task["officer_ids"] == sorted([city.id("o1"), city.id("o2")])
    assert (task["city_id"], task["county_id"], task["station_id"]) == (
        "411600",
        "411602",
        "411602-01",
    )
    assert task["created_by"] == city.id("sup1")
    assert (task["venue_kind"], task["audience"]) == ("village", "elderly")
    assert (task["window_start"], task["window_end"]) == ("2026-11-26", "2026-11-28")
    assert "seq" not in task

    for officer in ("o1", "o2"):
        headers = await as_user(client, officer)
        assert await listed_ids(client, headers) == [task["id"]]
        response = await client.get(f"{TASKS}/{task['id']}", headers=headers)
        assert response.status_code == 200, response.text
        assert response.json() == task

    for supervisor in ("sup1", "county1", "admin"):
        headers = await as_user(client, supervisor)
        assert await listed_ids(client, headers) == [task["id"]]
        response = await client.get(f"{TASKS}/{task['id']}", headers=headers)
        assert response.status_code == 200, response.text

    # Another station's officer, another station, another county: as if it did not exist.
    for outsider in ("o3", "sup2", "county2", "o4"):
        headers = await as_user(client, outsider)
        assert await listed_ids(client, headers) == []
        response = await client.get(f"{TASKS}/{task['id']}", headers=headers)
        assert_problem(response, 404, "not_found")
        missing = await client.get(f"{TASKS}/{task['id'] + 1000}", headers=headers)
        assert missing.json()["detail"].replace(str(task["id"] + 1000), "N") == response.json()[
            "detail"
        ].replace(str(task["id"]), "N")


async def test_a_county_supervisor_plans_for_any_station_of_the_county(
    client: httpx.AsyncClient, city: TinyCity
) -> None:
    county1 = await as_user(client, "county1")
    task = await plan(client, county1, a_task(city, "o3", grid_code="411602002001"))
    assert task["station_id"] == "411602-02"
    assert await listed_ids(client, await as_user(client, "o3")) == [task["id"]]
    assert await listed_ids(client, await as_user(client, "sup1")) == []

    county2 = await as_user(client, "county2")
    response = await client.post(
        TASKS, json=a_task(city, "o1", grid_code="411602001001"), headers=county2
    )
    assert_problem(response, 422, "unknown_reference", "grid_code")


async def test_officers_cannot_plan_or_change_tasks(
    client: httpx.AsyncClient, city: TinyCity
) -> None:
    o1 = await as_user(client, "o1")
    response = await client.post(TASKS, json=a_task(city, "o1"), headers=o1)
    assert_problem(response, 403, "forbidden")

    task = await plan(client, await as_user(client, "sup1"), a_task(city, "o1"))
    response = await client.patch(f"{TASKS}/{task['id']}", json={"status": "done"}, headers=o1)
    assert_problem(response, 403, "forbidden")


async def test_the_platform_client_sees_no_publicity(
    client: httpx.AsyncClient, city: TinyCity
) -> None:
    platform = await as_platform(client)
    response = await client.get(TASKS, headers=platform)
    assert_problem(response, 403, "forbidden")


async def test_a_grid_outside_the_supervisors_station_is_refused(
    client: httpx.AsyncClient, city: TinyCity, store: Store
) -> None:
    sup1 = await as_user(client, "sup1")
    for grid_code in ("411602002001", "411621001001", "999999999999"):
        response = await client.post(TASKS, json=a_task(city, grid_code=grid_code), headers=sup1)
        assert_problem(response, 422, "unknown_reference", "grid_code")
    assert store.list_audit(entity="publicity_task") == []


async def test_only_active_officers_of_the_grids_station_may_be_assigned(
    client: httpx.AsyncClient, city: TinyCity, store: Store
) -> None:
    sup1 = await as_user(client, "sup1")
    for officers in (("o1", "o3"), ("o4",), ("sup1",), ("county1",)):
        response = await client.post(TASKS, json=a_task(city, *officers), headers=sup1)
        assert_problem(response, 422, "unknown_reference", "officer_ids")
    response = await client.post(
        TASKS, json=a_task(city, officer_ids=[city.id("o1"), 999_999]), headers=sup1
    )
    assert_problem(response, 422, "unknown_reference", "officer_ids")

    store.update_user(city.id("o2"), {"active": False}, Actor.system())
    response = await client.post(TASKS, json=a_task(city, "o1", "o2"), headers=sup1)
    assert_problem(response, 422, "unknown_reference", "officer_ids")
    assert store.list_audit(entity="publicity_task") == []


async def test_malformed_plans_are_refused_with_the_field_at_fault(
    client: httpx.AsyncClient, city: TinyCity
) -> None:
    sup1 = await as_user(client, "sup1")
    response = await client.post(
        TASKS,
        json=a_task(city, window_start="2026-11-28", window_end="2026-11-26"),
        headers=sup1,
    )
    assert_problem(response, 400, "validation_failed", "window_end")

    cases: list[tuple[dict[str, Any], str]] = [
        ({"officer_ids": []}, "officer_ids"),
        ({"officer_ids": list(range(1, 22))}, "officer_ids"),
        ({"venue_kind": "church"}, "venue_kind"),
        ({"audience": "aliens"}, "audience"),
        ({"window_end": "next week"}, "window_end"),
        ({"title": ""}, "title"),
    ]
    for extra, field in cases:
        response = await client.post(TASKS, json=a_task(city, **extra), headers=sup1)
        assert_problem(response, 400, "validation_failed", field)

    # A misspelt or foreign field is refused rather than silently dropped.
    response = await client.post(TASKS, json=a_task(city, status="done"), headers=sup1)
    assert_problem(response, 400, "validation_failed", response.json().get("field"))
    assert "unknown field `status`" in response.json()["detail"]

    # A day inside the window is fine, and so is a one-day window.
    await plan(client, sup1, a_task(city, window_start="2026-11-26", window_end="2026-11-26"))


async def test_the_status_moves_only_along_the_lifecycle(
    client: httpx.AsyncClient, city: TinyCity
) -> None:
    sup1 = await as_user(client, "sup1")
    task = await plan(client, sup1, a_task(city))
    url = f"{TASKS}/{task['id']}"

    response = await client.patch(url, json={"status": "done"}, headers=sup1)
    assert_problem(response, 409, "invalid_transition", "status")

    response = await client.patch(url, json={"status": "in_progress"}, headers=sup1)
    assert response.status_code == 200, response.text
    assert (response.json()["status"], response.json()["version"]) == ("in_progress", 2)

    response = await client.patch(url, json={"status": "planned"}, headers=sup1)
    assert_problem(response, 409, "invalid_transition", "status")

    response = await client.patch(url, json={"status": "done", "expected_version": 2}, headers=sup1)
    assert response.status_code == 200, response.text
    assert (response.json()["status"], response.json()["version"]) == ("done", 3)

    for change in ({"status": "cancelled"}, {"status": "in_progress"}, {"title": "改个名"}):
        response = await client.patch(url, json=change, headers=sup1)
        assert_problem(response, 409, "invalid_transition", "status")

    # Saying again what is already so changes nothing and is not an error.
    response = await client.patch(url, json={"status": "done"}, headers=sup1)
    assert response.status_code == 200, response.text
    assert response.json()["version"] == 3


async def test_a_planned_or_running_task_can_be_cancelled(
    client: httpx.AsyncClient, city: TinyCity
) -> None:
    sup1 = await as_user(client, "sup1")
    planned = await plan(client, sup1, a_task(city))
    running = await plan(client, sup1, a_task(city))
    await client.patch(f"{TASKS}/{running['id']}", json={"status": "in_progress"}, headers=sup1)
    for task in (planned, running):
        response = await client.patch(
            f"{TASKS}/{task['id']}",
            json={"status": "cancelled", "notes": "暴雨，改期"},
            headers=sup1,
        )
        assert response.status_code == 200, response.text
        assert (response.json()["status"], response.json()["notes"]) == ("cancelled", "暴雨，改期")


async def test_a_stale_version_is_refused_and_nothing_changes(
    client: httpx.AsyncClient, city: TinyCity
) -> None:
    sup1 = await as_user(client, "sup1")
    county1 = await as_user(client, "county1")
    task = await plan(client, sup1, a_task(city))
    url = f"{TASKS}/{task['id']}"

    first = await client.patch(url, json={"title": "新标题", "expected_version": 1}, headers=sup1)
    assert first.status_code == 200, first.text
    second = await client.patch(
        url, json={"title": "另一个标题", "expected_version": 1}, headers=county1
    )
    assert_problem(second, 409, "invalid_transition")
    # Even a change that changes nothing tells the caller their copy is old.
    same = await client.patch(url, json={"title": "新标题", "expected_version": 1}, headers=sup1)
    assert_problem(same, 409, "invalid_transition")

    now = (await client.get(url, headers=sup1)).json()
    assert (now["title"], now["version"]) == ("新标题", 2)


async def test_a_supervisor_edits_the_plan_and_reassigns_it(
    client: httpx.AsyncClient, city: TinyCity
) -> None:
    sup1 = await as_user(client, "sup1")
    o1 = await as_user(client, "o1")
    task = await plan(client, sup1, a_task(city, "o1"))
    url = f"{TASKS}/{task['id']}"

    response = await client.patch(
        url,
        json={
            "officer_ids": [city.id("o2")],
            "venue_kind": "school",
            "audience": "students",
            "window_end": "2026-11-30",
            "notes": None,
        },
        headers=sup1,
    )
    assert response.status_code == 200, response.text
    changed = response.json()
    assert changed["officer_ids"] == [city.id("o2")]
    assert (changed["venue_kind"], changed["audience"]) == ("school", "students")
    assert (changed["window_start"], changed["window_end"]) == ("2026-11-26", "2026-11-30")
    assert changed["notes"] is None
    assert changed["title"] == task["title"]

    # o1 was taken off: the task is gone from their phone, as if it never was theirs.
    assert await listed_ids(client, o1) == []
    assert_problem(await client.get(url, headers=o1), 404, "not_found")
    assert await listed_ids(client, await as_user(client, "o2")) == [task["id"]]

    refused = [
        ({"officer_ids": [city.id("o3")]}, 422, "unknown_reference", "officer_ids"),
        ({"window_start": "2026-12-01"}, 400, "validation_failed", "window_start"),
        (
            {"window_start": "2026-12-05", "window_end": "2026-12-02"},
            400,
            "validation_failed",
            "window_end",
        ),
        ({"title": None}, 400, "validation_failed", "title"),
        ({"status": "finished"}, 400, "validation_failed", "status"),
    ]
    for change, status, code, field in refused:
        response = await client.patch(url, json=change, headers=sup1)
        assert_problem(response, status, code, field)

    # The grid is fixed: the task's station, and so who sees it, follows from it.
    response = await client.patch(url, json={"grid_code": "411602001002"}, headers=sup1)
    assert_problem(response, 400, "validation_failed", response.json().get("field"))
    assert "unknown field `grid_code`" in response.json()["detail"]

    # Another station's supervisor cannot even learn that the task exists.
    response = await client.patch(url, json={"title": "x"}, headers=await as_user(client, "sup2"))
    assert_problem(response, 404, "not_found")


async def test_lists_filter_by_status_and_day_and_page_by_id(
    client: httpx.AsyncClient, city: TinyCity
) -> None:
    sup1 = await as_user(client, "sup1")
    early = await plan(
        client, sup1, a_task(city, window_start="2026-11-20", window_end="2026-11-22")
    )
    now = await plan(client, sup1, a_task(city, window_start="2026-11-24", window_end="2026-11-27"))
    late = await plan(
        client, sup1, a_task(city, window_start="2026-12-01", window_end="2026-12-03")
    )
    await client.patch(f"{TASKS}/{now['id']}", json={"status": "in_progress"}, headers=sup1)
    await client.patch(f"{TASKS}/{late['id']}", json={"status": "cancelled"}, headers=sup1)

    assert await listed_ids(client, sup1) == [early["id"], now["id"], late["id"]]
    assert await listed_ids(client, sup1, status="planned") == [early["id"]]
    assert await listed_ids(client, sup1, status=["planned", "cancelled"]) == [
        early["id"],
        late["id"],
    ]
    assert await listed_ids(client, sup1, active_on="2026-11-25") == [now["id"]]
    assert await listed_ids(client, sup1, active_on="2026-11-22") == [early["id"]]
    assert await listed_ids(client, sup1, active_on="2026-11-23") == []

    first = await client.get(TASKS, params={"limit": 2}, headers=sup1)
    page = first.json()
    assert [t["id"] for t in page["items"]] == [early["id"], now["id"]]
    assert page["next_cursor"] is not None
    second = await client.get(
        TASKS, params={"limit": 2, "cursor": page["next_cursor"]}, headers=sup1
    )
    assert [t["id"] for t in second.json()["items"]] == [late["id"]]
    assert second.json()["next_cursor"] is None

    for params, field in (
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"status": "finished"}, "status"),
        ({"active_on": "tomorrow"}, "active_on"),
        ({"cursor": "abc"}, "cursor"),
    ):
        response = await client.get(TASKS, params=params, headers=sup1)
        assert_problem(response, 400, "validation_failed", field)


async def test_an_open_task_past_its_window_is_overdue(
    client: httpx.AsyncClient, city: TinyCity, clock: ManualClock
) -> None:
    # The clock moves back, not forward: server/auth/tokens.py lets PyJWT check `iat`
    # against the wall clock, so tokens issued at a future injected time are refused.
    clock.set(datetime(2026, 11, 24, 15, 59, tzinfo=UTC))  # 23:59 on the 24th in the city
    sup1 = await as_user(client, "sup1")
    task = await plan(
        client, sup1, a_task(city, window_start="2026-11-23", window_end="2026-11-24")
    )
    url = f"{TASKS}/{task['id']}"
    assert task["overdue"] is False

    # 16:30 UTC is already 25 November in the city: the last day of the window is over.
    clock.set(datetime(2026, 11, 24, 16, 30, tzinfo=UTC))
    sup1 = await as_user(client, "sup1")  # the first access token has just expired
    assert (await client.get(url, headers=sup1)).json()["overdue"] is True
    listed = (await client.get(TASKS, headers=sup1)).json()["items"]
    assert [t["overdue"] for t in listed] == [True]

    await client.patch(url, json={"status": "in_progress"}, headers=sup1)
    response = await client.patch(url, json={"status": "done"}, headers=sup1)
    assert response.json()["overdue"] is False


async def test_every_change_is_in_the_audit_log(
    client: httpx.AsyncClient, city: TinyCity, store: Store
) -> None:
    sup1 = await as_user(client, "sup1")
    task = await plan(client, sup1, a_task(city, "o1"))
    url = f"{TASKS}/{task['id']}"
    await client.patch(url, json={"status": "in_progress"}, headers=sup1)
    await client.patch(url, json={"officer_ids": [city.id("o1"), city.id("o2")]}, headers=sup1)
    # A refused change leaves no trace.
    await client.patch(url, json={"status": "planned"}, headers=sup1)

    entries = store.list_audit(entity="publicity_task")
    assert [e.action for e in entries] == [
        "publicity.create",
        "publicity.update",
        "publicity.update",
    ]
    assert {e.entity_id for e in entries} == {str(task["id"])}
    assert {e.actor_user_id for e in entries} == {city.id("sup1")}
    assert {e.station_id for e in entries} == {"411602-01"}
    created, started, reassigned = entries
    assert created.before is None
    assert created.after is not None
    assert created.after["status"] == "planned"
    assert created.after["officer_ids"] == [city.id("o1")]
    assert (started.before, started.after) == ({"status": "planned"}, {"status": "in_progress"})
    assert reassigned.before == {"officer_ids": [city.id("o1")]}
    assert reassigned.after == {"officer_ids": sorted([city.id("o1"), city.id("o2")])}
    assert store.verify_audit().ok


async def test_the_api_description_documents_the_publicity_operations(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200, response.text
    operations = {
        op["operationId"]: op
        for path, item in response.json()["paths"].items()
        if path.startswith(TASKS)
        for op in item.values()
    }
    assert set(operations) == {
        "createPublicityTask",
        "listPublicityTasks",
        "getPublicityTask",
        "updatePublicityTask",
        "listPublicitySessions",
    }
    assert all(op["tags"] == ["publicity"] for op in operations.values())


def test_a_task_is_read_whole_even_while_it_is_being_changed(
    store: Store, city: TinyCity, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A task and its officers come from one snapshot, never from either side of a write."""
    sup1 = Actor(user_id=city.id("sup1"))
    task = store.create_publicity_task(
        {
            "title": "集市防骗宣传",
            "grid_code": "411602001001",
            "city_id": "411600",
            "county_id": "411602",
            "station_id": "411602-01",
            "venue_kind": "market",
            "audience": "villagers",
            "window_start": date(2026, 11, 26),
            "window_end": date(2026, 11, 27),
            "status": "planned",
            "notes": None,
            "created_by": city.id("sup1"),
        },
        [city.id("o1")],
        sup1,
    )
    # Commit a reassignment in the gap between reading the task row and its officers, on
    # either backend: the store reads the officers of each row it has read.
    read_officers = type(store)._publicity_row  # type: ignore[attr-defined]
    writes: list[int] = []

    def write_in_between(conn: Any, row: dict[str, Any]) -> dict[str, Any]:
        if not writes:
            writes.append(row["id"])
            store.update_publicity_task(task.id, 1, {}, [city.id("o2")], "publicity.update", sup1)
        return read_officers(conn, row)  # type: ignore[no-any-return]

    monkeypatch.setattr(store, "_publicity_row", write_in_between)
    got = store.get_publicity_task(task.id)
    monkeypatch.undo()
    listed = store.list_publicity_tasks(Jurisdiction(column="station_id", value="411602-01"))

    assert writes
    assert got is not None
    assert (got.version, got.officer_ids) == (1, [city.id("o1")])
    assert [(t.version, t.officer_ids) for t in listed] == [(2, [city.id("o2")])]


async def test_the_station_sees_what_was_held_with_the_correction_counted_once(
    client: httpx.AsyncClient, store: Store, clock: ManualClock, city: TinyCity
) -> None:
    day = await run_day(client, store, clock, city)
    p1, p2 = day.publicity["P1"], day.publicity["P2"]
    sup1 = await as_user(client, "sup1")
    held = (await client.get(f"{TASKS}/{p1}/sessions", headers=sup1)).json()
    first, correction = held["sessions"]
    assert (first["attendance"], first["superseded"]) == (40, True)
    assert (correction["attendance"], correction["supersedes"]) == (45, first["entry_id"])
    assert correction["materials"] == [
        {"kind": "leaflet", "count": 100},
        {"kind": "poster", "count": 5},
    ]
    assert (held["attendance"], held["materials"]) == (45, 105)
    # Nothing held yet at the other station's task; and it is not sup1's to see.
    sup2 = await as_user(client, "sup2")
    assert (await client.get(f"{TASKS}/{p2}/sessions", headers=sup2)).json()["sessions"] == []
    missing = await client.get(f"{TASKS}/{p2}/sessions", headers=sup1)
    assert missing.status_code == 404

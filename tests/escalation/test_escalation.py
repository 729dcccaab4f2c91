"""A warning nobody reaches in time goes up: station, county, city, each step recorded with
its time and told at once to the open streams of the supervisors it goes to."""

from __future__ import annotations

import httpx
import pytest
from litestar import Litestar

from server.escalation.notifier import UnitNotifier
from tests.support.api import as_user, assert_problem
from tests.support.day import at, deliver, record
from tests.sync.test_events import EventReader, http, live, wait_until

pytestmark = pytest.mark.anyio
__all__ = ["http", "live"]  # fixtures, imported for the stream story
RUN = "/api/v1/escalations/run"


async def run(client: httpx.AsyncClient) -> int:
    response = await client.post(RUN, headers=await as_user(client, "admin"))
    assert response.status_code == 200, response.text
    return int(response.json()["escalated"])


async def steps(client: httpx.AsyncClient, who: str, **params: object) -> list[dict]:
    response = await client.get(
        "/api/v1/escalations", headers=await as_user(client, who), params=params
    )
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def test_an_unvisited_warning_climbs_the_three_levels_once_each(client, clock, city) -> None:
    clock.set(at(8))
    late = await deliver(client, "411602001001")  # high: 30 min to contact, 120 to outcome
    prompt = await deliver(client, "411602001002")
    await record(client, "o2", prompt, at(8, 10), "face_to_face", "dissuaded")
    clock.set(at(8, 29))
    assert await run(client) == 0
    clock.set(at(8, 31))
    assert await run(client) == 1
    assert await run(client) == 0  # recorded once
    [step] = await steps(client, "sup1")
    assert (step["warning_id"], step["kind"], step["level"]) == (late, "contact", "station")
    assert step["due_at"] == "2026-11-25T08:30:00Z"
    assert step["at"] == "2026-11-25T08:31:00Z"
    clock.set(at(9, 0))  # due + one step (30 min): the county
    assert await run(client) == 1
    clock.set(at(9, 30))  # due + two steps: the city
    assert await run(client) == 1
    clock.set(at(10, 0))  # 120 min without an outcome: the outcome deadline, at the station
    assert await run(client) == 1
    assert [(s["kind"], s["level"]) for s in await steps(client, "county1")] == [
        ("contact", "station"),
        ("contact", "county"),
        ("contact", "city"),
        ("outcome", "station"),
    ]
    # The late visit still counts; it stops further contact steps, not the recorded ones.
    clock.set(at(10, 5))
    await record(client, "o1", late, at(10, 5), "face_to_face", "dissuaded")
    clock.set(at(12))
    assert await run(client) == 0
    assert len(await steps(client, "sup1", warning_id=late)) == 4
    # Other jurisdictions see none of it.
    assert await steps(client, "county2") == []
    assert await steps(client, "sup2") == []
    audit = (
        await client.get(
            "/api/v1/audit",
            headers=await as_user(client, "admin"),
            params={"entity": "warning", "entity_id": str(late)},
        )
    ).json()
    assert sum(e["action"] == "warning.escalate" for e in audit["items"]) == 4


async def test_only_the_city_runs_a_pass_by_hand_and_bad_filters_are_refused(client) -> None:
    assert_problem(
        await client.post(RUN, headers=await as_user(client, "county1")), 403, "forbidden"
    )
    assert_problem(
        await client.get(
            "/api/v1/escalations", headers=await as_user(client, "sup1"), params={"level": "x"}
        ),
        400,
        "validation_failed",
    )


async def test_a_step_reaches_the_supervisors_open_stream_at_once(
    http: httpx.AsyncClient, app: Litestar, clock, city
) -> None:
    notifier: UnitNotifier = app.state.unit_notifier
    clock.set(at(8))
    warning = await deliver(http, "411602001001")
    sup1 = await as_user(http, "sup1")
    sup2 = await as_user(http, "sup2")
    async with (
        http.stream("GET", "/api/v1/escalations/events", headers=sup1) as mine,
        http.stream("GET", "/api/v1/escalations/events", headers=sup2) as theirs,
    ):
        assert mine.status_code == 200
        await wait_until(lambda: notifier.subscriber_count() == 2)
        clock.set(at(8, 31))
        assert await run(http) == 1
        event = await EventReader(mine).event(timeout=2)
        assert event["event"] == "escalation"
        assert event["data"]["warning_id"] == warning
        assert event["data"]["level"] == "station"
        await EventReader(theirs).nothing_for(0.3)
    # Reconnecting from before the step replays it (a new token: the clock moved on).
    sup1 = await as_user(http, "sup1")
    async with http.stream(
        "GET", "/api/v1/escalations/events", headers={**sup1, "Last-Event-ID": "0"}
    ) as again:
        replayed = await EventReader(again).event(timeout=2)
        assert replayed["id"] == event["id"]

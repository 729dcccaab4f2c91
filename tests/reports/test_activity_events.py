"""A supervisor's open console hears, within a second, that something changed in their
jurisdiction (a warning arrived, an officer recorded a visit) and refetches its figures;
other units' supervisors hear nothing of it."""

from __future__ import annotations

import httpx
import pytest
from litestar import Litestar

from server.escalation.notifier import UnitNotifier
from tests.support.api import as_user
from tests.support.day import at, deliver, record
from tests.sync.test_events import EventReader, http, live, wait_until

pytestmark = pytest.mark.anyio
__all__ = ["http", "live"]  # fixtures, imported for the stream story
EVENTS = "/api/v1/reports/events"


async def test_a_new_warning_and_a_visit_reach_the_supervisors_above_them_only(
    http: httpx.AsyncClient, app: Litestar, clock, city
) -> None:
    notifier: UnitNotifier = app.state.activity_notifier
    clock.set(at(8))
    heads = {who: await as_user(http, who) for who in ("sup1", "sup2", "county1", "county2")}
    async with (
        http.stream("GET", EVENTS, headers=heads["sup1"]) as sup1,
        http.stream("GET", EVENTS, headers=heads["county1"]) as county1,
        http.stream("GET", EVENTS, headers=heads["sup2"]) as sup2,
        http.stream("GET", EVENTS, headers=heads["county2"]) as county2,
    ):
        assert sup1.status_code == 200
        assert sup1.headers["content-type"].startswith("text/event-stream")
        await wait_until(lambda: notifier.subscriber_count() == 4)
        mine, county, other_station, other_county = (
            EventReader(r) for r in (sup1, county1, sup2, county2)
        )

        warning = await deliver(http, "411602001001")  # sup1's station, county1's county
        arrived = await mine.event(timeout=2)
        assert arrived["event"] == "changed"
        assert arrived["data"]["audit_id"] == arrived["id"]
        assert (await county.event(timeout=2))["event"] == "changed"

        await record(http, "o1", warning, at(8, 10), "face_to_face", "dissuaded")
        visited = await mine.event(timeout=2)
        assert visited["id"] > arrived["id"]

        await other_station.nothing_for(0.3)
        await other_county.nothing_for(0.3)


async def test_a_console_that_reconnects_hears_of_what_it_missed(
    http: httpx.AsyncClient, clock, city
) -> None:
    clock.set(at(8))
    await deliver(http, "411602001001")
    sup1 = await as_user(http, "sup1")
    async with http.stream("GET", EVENTS, headers={**sup1, "Last-Event-ID": "0"}) as again:
        missed = await EventReader(again).event(timeout=2)
        assert missed["event"] == "changed"
    async with http.stream(
        "GET", EVENTS, headers={**sup1, "Last-Event-ID": str(missed["id"])}
    ) as caught_up:
        await EventReader(caught_up).nothing_for(0.3)
    # Another station's change, missed, is not told.
    await deliver(http, "411621001001")
    async with http.stream(
        "GET", EVENTS, headers={**sup1, "Last-Event-ID": str(missed["id"])}
    ) as elsewhere:
        await EventReader(elsewhere).nothing_for(0.3)


async def test_only_supervisors_follow_the_stream(http: httpx.AsyncClient, city) -> None:
    response = await http.get(EVENTS, headers=await as_user(http, "o1"))
    assert response.status_code == 403

"""A warning's whole story in one call: from the queue to an officer, re-dated,
escalated, handed on, visited, returned, redone, approved, and told to the platform,
each step with when and who; officers read their own, supervisors their jurisdiction."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from litestar import Litestar

from server.app import create_app
from server.auth.passwords import Passwords
from server.clock import ManualClock
from server.settings import Settings
from server.store.interface import Store
from tests.support.api import a_warning, as_platform, as_user, assert_problem
from tests.support.city import TinyCity
from tests.support.sync import double_visit, push, visit

pytestmark = pytest.mark.anyio


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, 25, hour, minute, tzinfo=UTC)


class Platform:
    """The platform's webhook receiver: takes the first outcome, then is down."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        return httpx.Response(204 if self.calls == 1 else 503)


@pytest.fixture
def platform() -> Platform:
    return Platform()


@pytest.fixture
def settings(db_path: Any) -> Settings:
    return Settings(
        env="test",
        database_path=str(db_path),
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        webhook_url="http://platform.test/outcomes",
        webhook_secret="webhook-secret-0123456789",
    )


@pytest.fixture
def app(
    settings: Settings,
    store: Store,
    clock: ManualClock,
    passwords: Passwords,
    city: TinyCity,
    platform: Platform,
) -> Litestar:
    return create_app(
        settings,
        store=store,
        clock=clock,
        passwords=passwords,
        webhook_transport=httpx.MockTransport(platform),
    )


def timeline_path(warning: int) -> str:
    return f"/api/v1/warnings/{warning}/timeline"


async def record(
    client: httpx.AsyncClient, who: str, warning: int, when: datetime, **entry: Any
) -> str:
    body = visit(
        warning,
        node=f"phone-{who}",
        recorded_at=when.isoformat(),
        arrived_at=when.isoformat(),
        **entry,
    )
    headers = await as_user(client, who, f"phone-{who}")
    [result] = (await push(client, headers, body, device_time=when))["results"]
    assert result["status"] == "applied", result
    return str(body["entry"]["entry_id"])


async def test_a_warnings_story_from_the_queue_to_the_platform(
    client: httpx.AsyncClient, app: Litestar, store: Store, clock: ManualClock, city: TinyCity
) -> None:
    # Nobody answers for this grid: it waits in the station's queue.
    delivered = await client.post(
        "/api/v1/platform/warnings",
        json={"warnings": [a_warning("411602001003")]},
        headers=await as_platform(client),
    )
    [result] = delivered.json()["results"]
    warning = int(result["warning_id"])
    clock.set(at(8, 5))
    answer = await client.post(
        f"/api/v1/warnings/{warning}/reassign",
        headers=await as_user(client, "sup1"),
        json={"officer_id": city.id("o1"), "reason": "值班民警"},
    )
    assert answer.status_code == 200, answer.text
    clock.set(at(8, 6))
    answer = await client.patch(
        f"/api/v1/warnings/{warning}",
        headers=await as_user(client, "sup1"),
        json={"deadline_at": "2026-11-25T12:00:00Z"},
    )
    assert answer.status_code == 200, answer.text
    clock.set(at(8, 40))
    ran = await client.post("/api/v1/escalations/run", headers=await as_user(client, "admin"))
    assert ran.json()["escalated"] == 1
    clock.set(at(8, 45))
    answer = await client.post(
        f"/api/v1/warnings/{warning}/reassign",
        headers=await as_user(client, "sup1"),
        json={"officer_id": city.id("o2")},
    )
    assert answer.status_code == 200, answer.text
    clock.set(at(8, 50))
    first = await record(
        client, "o2", warning, at(8, 50), amount_prevented=20_000, photos=["b" * 64]
    )
    clock.set(at(9))
    returned = await client.post(
        f"/api/v1/review/{first}/return",
        headers=await as_user(client, "sup1"),
        json={"reason": "照片看不清"},
    )
    assert returned.status_code == 200, returned.text
    clock.set(at(9, 10))
    second = await record(
        client,
        "o2",
        warning,
        at(9, 10),
        supersedes=first,
        amount_prevented=30_000,
        photos=["c" * 64],
    )
    clock.set(at(9, 20))
    approved = await client.post(
        f"/api/v1/review/{second}/approve", headers=await as_user(client, "sup1"), json={}
    )
    assert approved.status_code == 200, approved.text
    # The platform takes the first outcome; it is down for the correction.
    app.state.webhook_sender.deliver_once()

    response = await client.get(timeline_path(warning), headers=await as_user(client, "sup1"))
    assert response.status_code == 200, response.text
    timeline = response.json()
    assert (timeline["warning_id"], timeline["state"]) == (warning, "completed")
    events = timeline["events"]
    assert [(e["kind"], e["at"]) for e in events] == [
        ("issued", "2026-11-25T00:00:00Z"),
        ("routed", "2026-11-25T08:00:00Z"),
        ("dispatched", "2026-11-25T08:05:00Z"),
        ("deadline_changed", "2026-11-25T08:06:00Z"),
        ("escalated", "2026-11-25T08:40:00Z"),
        ("reassigned", "2026-11-25T08:45:00Z"),
        ("visit", "2026-11-25T08:50:00Z"),
        ("outcome_sent", "2026-11-25T08:50:00Z"),
        ("review", "2026-11-25T09:00:00Z"),
        ("visit", "2026-11-25T09:10:00Z"),
        ("outcome_sent", "2026-11-25T09:10:00Z"),
        ("review", "2026-11-25T09:20:00Z"),
    ]
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        by_kind.setdefault(event["kind"], []).append(event)
    [issued] = by_kind["issued"]
    assert issued["actor"] == {
        "user_id": city.id("platform"),
        "name": "预警平台",
        "device_id": None,
    }
    assert (issued["fraud_type"], issued["risk_level"]) == ("fake_loan", "high")
    [routed] = by_kind["routed"]
    assert (routed["queue"], routed["station_id"], routed["officer_id"]) == (
        "station",
        "411602-01",
        None,
    )
    assert routed["routing_reason"]
    [dispatched] = by_kind["dispatched"]
    assert dispatched["actor"]["name"] == "城区所长"
    assert (dispatched["officer_name"], dispatched["reason"]) == ("张警官", "值班民警")
    [deadline] = by_kind["deadline_changed"]
    assert deadline["after"] == "2026-11-25T12:00:00Z"
    [escalated] = by_kind["escalated"]
    assert escalated["actor"] is None
    assert (escalated["missing"], escalated["level"], escalated["due_at"]) == (
        "contact",
        "station",
        "2026-11-25T08:30:00Z",
    )
    [reassigned] = by_kind["reassigned"]
    assert (reassigned["from_officer_name"], reassigned["officer_name"]) == ("张警官", "李警官")
    first_visit, second_visit = by_kind["visit"]
    assert first_visit["actor"]["name"] == "李警官"
    assert first_visit["entry_id"] == first
    assert (first_visit["contact"], first_visit["outcome"]) == ("face_to_face", "dissuaded")
    assert first_visit["amount_prevented"] == 20_000
    assert first_visit["photos"] == ["b" * 64]
    assert first_visit["position"] == {"lat": 33.62, "lon": 114.65, "accuracy_m": 12.0}
    assert first_visit["superseded_by"] == second
    assert isinstance(first_visit["flags"], list)
    assert second_visit["supersedes"] == first
    assert second_visit["photos"] == ["c" * 64]
    returned_review, approved_review = by_kind["review"]
    assert (returned_review["decision"], returned_review["note"]) == ("returned", "照片看不清")
    assert returned_review["entry_id"] == first
    assert returned_review["actor"]["name"] == "城区所长"
    assert (approved_review["decision"], approved_review["entry_id"]) == ("approved", second)
    told, corrected = by_kind["outcome_sent"]
    assert (told["outcome"], told["amount_prevented"]) == ("dissuaded", 20_000)
    assert told["webhook"] == {
        "state": "delivered",
        "attempts": 0,
        "last_error": None,
        "next_attempt_at": None,
    }
    assert corrected["amount_prevented"] == 30_000
    assert corrected["webhook"]["state"] == "failing"
    assert corrected["webhook"]["attempts"] == 1
    assert corrected["delivery_id"] != told["delivery_id"]

    sup1 = await as_user(client, "sup1")
    assert (await client.get(timeline_path(warning), headers=sup1)).json() == timeline
    # Its officer reads it too; the officer it was taken from, other stations and
    # counties get what a missing warning gets; the platform is no reader at all.
    mine = await client.get(timeline_path(warning), headers=await as_user(client, "o2"))
    assert mine.json() == timeline
    for who in ("o1", "sup2", "county2", "o4"):
        assert_problem(
            await client.get(timeline_path(warning), headers=await as_user(client, who)),
            404,
            "not_found",
        )
    assert_problem(
        await client.get(timeline_path(warning + 1000), headers=await as_user(client, "sup1")),
        404,
        "not_found",
    )
    assert_problem(
        await client.get(timeline_path(warning), headers=await as_platform(client)),
        403,
        "forbidden",
    )
    county1 = await client.get(timeline_path(warning), headers=await as_user(client, "county1"))
    assert county1.json() == timeline


async def test_a_conflict_and_its_resolution_are_on_the_timeline(
    client: httpx.AsyncClient, store: Store, city: TinyCity
) -> None:
    warning, conflict_id = await double_visit(client, city, store)
    sup1 = await as_user(client, "sup1")
    resolved = await client.post(
        f"/api/v1/conflicts/{conflict_id}/resolve",
        headers=sup1,
        json={"decision": "uphold", "note": "先到先算"},
    )
    assert resolved.status_code == 200, resolved.text
    events = (await client.get(timeline_path(warning), headers=sup1)).json()["events"]
    [conflict] = [e for e in events if e["kind"] == "conflict"]
    assert (conflict["conflict_id"], conflict["rule"]) == (conflict_id, "double_visit")
    assert (conflict["winner"]["outcome"], conflict["loser"]["outcome"]) == ("dissuaded", "refused")
    [resolution] = [e for e in events if e["kind"] == "conflict_resolved"]
    assert (resolution["resolution"], resolution["note"]) == ("uphold", "先到先算")
    assert resolution["actor"]["name"] == "城区所长"
    # Reassigned by a supervisor straight through the store: an audited change all the same.
    assert "reassigned" in [e["kind"] for e in events]
    assert [e["kind"] for e in events].count("visit") == 2

"""Supervisors read who changed what in their jurisdiction, and nothing outside it."""

from __future__ import annotations

import pytest

from tests.support.api import a_warning, as_platform, as_user, assert_problem
from tests.support.city import TinyCity
from tests.support.sync import push, visit

pytestmark = pytest.mark.anyio


async def test_a_supervisor_reads_the_history_of_a_warning(client, city: TinyCity) -> None:
    out = (
        await client.post(
            "/api/v1/platform/warnings",
            headers=await as_platform(client),
            json={"warnings": [a_warning("411602001001")]},
        )
    ).json()
    warning = out["results"][0]["warning_id"]
    sup1 = await as_user(client, "sup1", device="desk-0001")
    await client.post(
        f"/api/v1/warnings/{warning}/reassign", headers=sup1, json={"officer_id": city.id("o2")}
    )
    history = (
        await client.get(
            "/api/v1/audit/", headers=sup1, params={"entity": "warning", "entity_id": str(warning)}
        )
    ).json()["items"]
    assert [e["action"] for e in history] == ["warning.ingest", "warning.reassign"]
    reassign = history[1]
    assert reassign["actor_user_id"] == city.id("sup1")
    assert reassign["actor_device_id"] == "desk-0001"
    assert reassign["before"]["officer_id"] == city.id("o1")
    assert reassign["after"]["officer_id"] == city.id("o2")


async def test_each_supervisor_reads_only_their_jurisdictions_entries(client, city) -> None:
    await client.post(
        "/api/v1/platform/warnings",
        headers=await as_platform(client),
        json={"warnings": [a_warning("411602001001"), a_warning("411621001001")]},
    )

    async def stations_seen(login: str) -> set[str | None]:
        headers = await as_user(client, login)
        items = (
            await client.get("/api/v1/audit/", headers=headers, params={"entity": "warning"})
        ).json()["items"]
        return {e["after"]["station_id"] for e in items}

    assert await stations_seen("sup1") == {"411602-01"}
    assert await stations_seen("county2") == {"411621-01"}
    assert await stations_seen("admin") == {"411602-01", "411621-01"}
    assert_problem(
        await client.get("/api/v1/audit/", headers=await as_user(client, "o1")), 403, "forbidden"
    )


async def test_the_audit_log_pages_by_id(client, city) -> None:
    admin = await as_user(client, "admin")
    first = (await client.get("/api/v1/audit/", headers=admin, params={"limit": 5})).json()
    assert len(first["items"]) == 5
    rest = (
        await client.get(
            "/api/v1/audit/",
            headers=admin,
            params={"after_id": first["next_after_id"], "limit": 500},
        )
    ).json()
    ids = [e["id"] for e in first["items"] + rest["items"]]
    assert ids == sorted(set(ids))
    assert rest["next_after_id"] is None


async def test_a_push_puts_each_visit_on_the_chain_in_one_entry(client, city, store) -> None:
    platform = await as_platform(client)
    out = (
        await client.post(
            "/api/v1/platform/warnings",
            headers=platform,
            json={"warnings": [a_warning("411602001001"), a_warning("411602001001")]},
        )
    ).json()
    first, second = (r["warning_id"] for r in out["results"])
    o1 = await as_user(client, "o1", device="phone-0001")
    one, two = visit(first), visit(second)
    await push(client, o1, one, two)

    sup1 = await as_user(client, "sup1")
    [entry] = (
        await client.get(
            "/api/v1/audit/",
            headers=sup1,
            params={"entity": "device", "entity_id": "phone-0001"},
        )
    ).json()["items"]
    assert entry["action"] == "sync.push"
    assert entry["actor_user_id"] == city.id("o1")
    visits = entry["after"]["visits"]
    assert [(v["task_id"], v["entry_id"], v["mutation_id"]) for v in visits] == [
        (first, one["entry"]["entry_id"], one["mutation_id"]),
        (second, two["entry"]["entry_id"], two["mutation_id"]),
    ]
    assert visits[0]["before"] == {"state": "dispatched", "outcome": None}
    assert visits[0]["after"] == {"state": "completed", "outcome": "dissuaded"}
    # Another county's supervisor does not see the visits; the chain still verifies.
    county2 = await as_user(client, "county2")
    elsewhere = (
        await client.get("/api/v1/audit/", headers=county2, params={"entity": "device"})
    ).json()["items"]
    assert elsewhere == []
    assert store.verify_audit().ok

"""An officer leaves: their open warnings wait in the station queue again, nobody else's.

A resident whose warning sits with a disabled officer, or one who now works elsewhere,
would never get a visit; the station supervisor has to see it and give it to someone.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from server.store.interface import Store
from server.store.records import Actor
from tests.support.api import as_user
from tests.support.city import TinyCity
from tests.support.day import deliver
from tests.support.sync import pull_all, push, visit

pytestmark = pytest.mark.anyio
O1_GRID = "411602001001"
O2_GRID = "411602001002"


async def warning(client: httpx.AsyncClient, headers: dict[str, str], id_: int) -> Any:
    response = await client.get(f"/api/v1/warnings/{id_}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_disabled_officers_open_warnings_go_back_to_the_station_queue(
    client: httpx.AsyncClient, city: TinyCity
) -> None:
    dispatched, started, done = [await deliver(client, O1_GRID) for _ in range(3)]
    others = await deliver(client, O2_GRID)
    o1 = await as_user(client, "o1")
    await push(client, o1, visit(started, outcome=None), visit(done))
    admin, sup1 = await as_user(client, "admin"), await as_user(client, "sup1")

    disabled = await client.patch(
        f"/api/v1/users/{city.id('o1')}", json={"active": False}, headers=admin
    )
    assert disabled.status_code == 200, disabled.text

    queue = (
        await client.get("/api/v1/warnings/", headers=sup1, params={"queue": "station"})
    ).json()["items"]
    assert sorted(w["id"] for w in queue) == [dispatched, started]
    for w in queue:
        assert (w["state"], w["officer_id"], w["station_id"]) == ("new", None, "411602-01")
        assert w["routing_reason"] == "officer o1 was disabled"
    # What o1 finished stays theirs, as does another officer's work.
    assert (await warning(client, sup1, done))["officer_id"] == city.id("o1")
    assert (await warning(client, sup1, others))["officer_id"] == city.id("o2")

    reassigned = await client.post(
        f"/api/v1/warnings/{dispatched}/reassign",
        json={"officer_id": city.id("o2")},
        headers=sup1,
    )
    assert reassigned.status_code == 200, reassigned.text
    changes, _, _ = await pull_all(client, await as_user(client, "o2"))
    assert dispatched in [c["task"]["id"] for c in changes if c["type"] == "upsert"]

    audit = (
        await client.get(
            "/api/v1/audit/", headers=admin, params={"entity": "warning", "limit": 100}
        )
    ).json()["items"]
    returned = [e for e in audit if e["action"] == "warning.return"]
    assert sorted(int(e["entity_id"]) for e in returned) == [dispatched, started]
    assert {e["actor_user_id"] for e in returned} == {city.id("admin")}


async def test_a_moved_officers_phone_drops_the_old_stations_open_warnings(
    client: httpx.AsyncClient, city: TinyCity
) -> None:
    open_one = await deliver(client, O1_GRID)
    o1 = await as_user(client, "o1")
    _, cursor, _ = await pull_all(client, o1)
    admin = await as_user(client, "admin")

    moved = await client.patch(
        f"/api/v1/users/{city.id('o1')}", json={"unit_id": "411602-02"}, headers=admin
    )
    assert moved.status_code == 200, moved.text

    changes, _, checksum = await pull_all(client, o1, cursor)
    assert [(c["type"], c["id"]) for c in changes] == [("remove", open_one)]
    assert checksum == "0" * 16  # nothing left in o1's scope
    sup1 = await as_user(client, "sup1")
    returned = await warning(client, sup1, open_one)
    assert (returned["queue"], returned["state"]) == ("station", "new")
    assert returned["routing_reason"] == "officer o1 moved to another station"


async def test_a_sheet_that_disables_an_officer_returns_their_warnings_too(
    client: httpx.AsyncClient, city: TinyCity, store: Store
) -> None:
    open_one = await deliver(client, O1_GRID)
    store.upsert_users([{"login": "o1", "active": False}], Actor.system())
    returned = store.get_warning(open_one)
    assert returned is not None
    assert (returned.state, returned.officer_id, returned.queue) == ("new", None, "station")
    # Renaming an officer moves nothing.
    other = await deliver(client, O2_GRID)
    store.upsert_users([{"login": "o2", "name": "李警官（二）"}], Actor.system())
    kept = store.get_warning(other)
    assert kept is not None
    assert kept.officer_id == city.id("o2")

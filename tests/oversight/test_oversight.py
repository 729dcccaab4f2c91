"""Supervisors see each officer's phones, last sync, backlog and sync errors."""

from __future__ import annotations

import pytest

from tests.support.api import as_user, assert_problem
from tests.support.day import at, deliver, record
from tests.support.sync import push

pytestmark = pytest.mark.anyio
OVERSIGHT = "/api/v1/oversight/officers"


async def test_a_lazy_officer_and_a_broken_phone_look_different(client, clock, city) -> None:
    clock.set(at(8))
    await deliver(client, "411602001001")  # o1's: never visited
    done = await deliver(client, "411602001002")  # o2's
    await record(client, "o2", done, at(8, 10), "face_to_face", "dissuaded")
    o2 = await as_user(client, "o2", "phone-o2")
    bad = {"type": "record_visit", "mutation_id": "m-broken-0001", "task_id": "x"}
    [verdict] = (await push(client, o2, bad))["results"]
    assert verdict["status"] == "rejected"
    clock.set(at(9))
    page = (await client.get(OVERSIGHT, headers=await as_user(client, "sup1"))).json()
    by_login = {o["login"]: o for o in page["items"]}
    assert set(by_login) == {"o1", "o2"}
    o1 = by_login["o1"]
    assert (o1["open_warnings"], o1["overdue_warnings"], o1["rejected"]) == (1, 1, 0)
    assert o1["devices"] == []  # never logged in: no phone, nothing pushed
    assert o1["last_push_at"] is None
    o2_row = by_login["o2"]
    assert (o2_row["open_warnings"], o2_row["rejected"]) == (0, 1)
    assert o2_row["last_rejected_code"] == "malformed_mutation"
    assert [d["device_id"] for d in o2_row["devices"]] == ["phone-o2"]
    assert o2_row["last_push_at"] == "2026-11-25T08:00:00Z"  # when it arrived
    assert "pending_uploads" in o2_row
    county2 = (await client.get(OVERSIGHT, headers=await as_user(client, "county2"))).json()
    assert [o["login"] for o in county2["items"]] == ["o4"]
    assert_problem(
        await client.get(OVERSIGHT, headers=await as_user(client, "o1")), 403, "forbidden"
    )

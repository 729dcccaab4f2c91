"""Supervisors review visits that need an eye, each with its reasons; a returned visit
reaches the officer's phone, whose new entry supersedes it while the old one stays."""

from __future__ import annotations

import pytest

from server.store.records import Actor
from tests.support.api import a_warning, as_platform, as_user, assert_problem
from tests.support.sync import pull_all, push, visit

pytestmark = pytest.mark.anyio
QUEUE = "/api/v1/review"
# Grid 411602001001's centroid; 0.01 degree of latitude is about 1,112 m.
CENTRE = (33.62, 114.65)


async def deliver(client, grid: str = "411602001001") -> int:
    body = (
        await client.post(
            "/api/v1/platform/warnings",
            json={"warnings": [a_warning(grid)]},
            headers=await as_platform(client),
        )
    ).json()
    return int(body["results"][0]["warning_id"])


def at(lat: float, lon: float = CENTRE[1]) -> dict[str, float]:
    return {"lat": lat, "lon": lon, "accuracy_m": 10.0}


async def test_the_queue_gives_each_visit_its_reasons(client, store, city) -> None:
    store.set_grid_positions([("411602001001", *CENTRE)])
    o1 = await as_user(client, "o1", "phone-o1")
    fine = await deliver(client)
    no_photo = await deliver(client)
    far = await deliver(client)
    skewed = await deliver(client)
    await push(client, o1, visit(fine, photos=["a" * 64], position=at(33.63)))  # ~1.1 km
    await push(client, o1, visit(no_photo, position=at(33.62)))
    await push(client, o1, visit(far, contact="phone", position=at(33.66)))  # ~4.4 km
    from datetime import datetime

    await push(
        client,
        o1,
        visit(skewed, contact="phone"),
        device_time=datetime.fromisoformat("2026-11-25T09:00:00+00:00"),  # an hour ahead
    )
    sup1 = await as_user(client, "sup1")
    page = (await client.get(QUEUE, headers=sup1)).json()
    reasons = {i["task_id"]: i["reasons"] for i in page["items"]}
    assert reasons == {
        no_photo: ["no_photo"],
        far: ["far_from_address"],
        skewed: ["clock_skew"],
    }
    far_item = next(i for i in page["items"] if i["task_id"] == far)
    assert 4_400 < far_item["distance_m"] < 4_500
    # Nobody else's queue shows them; a page of one carries a cursor on.
    assert (await client.get(QUEUE, headers=await as_user(client, "sup2"))).json()["items"] == []
    first = (await client.get(QUEUE, headers=sup1, params={"limit": 1})).json()
    assert [i["task_id"] for i in first["items"]] == [no_photo]
    rest = (await client.get(QUEUE, headers=sup1, params={"after": first["next_after"]})).json()
    assert [i["task_id"] for i in rest["items"]] == [far, skewed]


async def test_sync_flags_and_conflicts_come_to_the_queue(client, store, city) -> None:
    warning = await deliver(client)
    store.update_warning(
        warning, 1, {"officer_id": city.id("o2")}, "warning.reassign", Actor(user_id=None)
    )
    o1 = await as_user(client, "o1", "phone-o1")
    [result] = (await push(client, o1, visit(warning, photos=["b" * 64])))["results"]
    assert result["status"] == "conflict"
    sup1 = await as_user(client, "sup1")
    [item] = (await client.get(QUEUE, headers=sup1)).json()["items"]
    assert item["reasons"] == ["visit_after_reassign", "sync_conflict"]


async def test_a_returned_visit_reaches_the_phone_and_its_correction_supersedes_it(
    client, store, city
) -> None:
    warning = await deliver(client)
    o1 = await as_user(client, "o1", "phone-o1")
    first = visit(warning)  # face to face, no photo
    await push(client, o1, first)
    entry = first["entry"]["entry_id"]
    _, cursor, _ = await pull_all(client, o1)
    sup1 = await as_user(client, "sup1")
    version = store.get_warning(warning).version

    assert_problem(
        await client.post(f"{QUEUE}/{entry}/return", headers=sup1, json={"reason": ""}),
        400,
        "validation_failed",
        "reason",
    )
    assert_problem(
        await client.post(
            f"{QUEUE}/{entry}/return",
            headers=await as_user(client, "county2"),
            json={"reason": "x"},
        ),
        404,
        "not_found",
    )
    assert store.get_warning(warning).version == version  # refusals changed nothing
    returned = await client.post(
        f"{QUEUE}/{entry}/return", headers=sup1, json={"reason": "请补拍见面照片"}
    )
    assert returned.status_code == 200, returned.text
    assert returned.json()["decision"] == "returned"
    assert store.get_warning(warning).version == version + 1
    assert_problem(
        await client.post(f"{QUEUE}/{entry}/approve", headers=sup1, json={}),
        409,
        "invalid_transition",
    )
    assert (await client.get(QUEUE, headers=sup1)).json()["items"] == []

    changes, cursor, _ = await pull_all(client, o1, cursor)
    [change] = changes
    [old] = change["visits"]
    assert old["review"]["decision"] == "returned"
    assert old["review"]["note"] == "请补拍见面照片"

    redo = visit(warning, supersedes=entry, photos=["c" * 64])
    [result] = (await push(client, o1, redo))["results"]
    assert result["status"] == "applied"
    [item] = (await client.get(QUEUE, headers=sup1)).json()["items"]
    assert item["entry_id"] == redo["entry"]["entry_id"]
    assert item["reasons"] == ["resubmitted"]
    approved = await client.post(
        f"{QUEUE}/{redo['entry']['entry_id']}/approve", headers=sup1, json={"note": "好"}
    )
    assert approved.status_code == 200, approved.text
    changes, _, _ = await pull_all(client, o1, cursor)
    visits = {v["entry_id"]: v for v in changes[-1]["visits"]}
    assert visits[entry]["superseded_by"] == redo["entry"]["entry_id"]  # kept on record
    assert visits[redo["entry"]["entry_id"]]["review"]["decision"] == "approved"
    audit = (
        await client.get(
            "/api/v1/audit",
            headers=await as_user(client, "admin"),
            params={"entity": "warning", "entity_id": str(warning)},
        )
    ).json()["items"]
    assert [e["action"] for e in audit if e["action"] in ("visit.returned", "visit.approved")] == [
        "visit.returned",
        "visit.approved",
    ]

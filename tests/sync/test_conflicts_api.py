"""Supervisors review sync conflicts with both sides and the rule, and resolve them; a
resolution is an ordinary change that reaches the phones."""

from __future__ import annotations

import pytest

from tests.support.api import a_warning, as_platform, as_user, assert_problem
from tests.support.city import TinyCity
from tests.support.sync import double_visit, hlc, pull_all, push, set_notes, visit

pytestmark = pytest.mark.anyio


async def deliver(client, grid: str = "411602001001") -> int:
    out = (
        await client.post(
            "/api/v1/platform/warnings",
            json={"warnings": [a_warning(grid)]},
            headers=await as_platform(client),
        )
    ).json()
    return int(out["results"][0]["warning_id"])


async def test_a_supervisor_lists_conflicts_with_both_sides_and_the_rule(
    client, city, store
) -> None:
    _, conflict_id = await double_visit(client, city, store)
    sup1 = await as_user(client, "sup1")
    page = (await client.get("/api/v1/conflicts", headers=sup1, params={"status": "open"})).json()
    [conflict] = page["items"]
    assert conflict["id"] == conflict_id
    assert conflict["rule"] == "double_visit"
    assert conflict["winner"]["outcome"] == "dissuaded"
    assert conflict["loser"]["outcome"] == "refused"
    assert_problem(
        await client.get(f"/api/v1/conflicts/{conflict_id}", headers=await as_user(client, "sup2")),
        404,
        "not_found",
    )
    assert (await client.get("/api/v1/conflicts", headers=await as_user(client, "county2"))).json()[
        "items"
    ] == []


async def test_preferring_the_other_side_changes_the_warning_and_reaches_the_phone(
    client, city, store
) -> None:
    warning, conflict_id = await double_visit(client, city, store)
    o2 = await as_user(client, "o2")
    _, cursor, _ = await pull_all(client, o2)
    sup1 = await as_user(client, "sup1")
    resolved = await client.post(
        f"/api/v1/conflicts/{conflict_id}/resolve",
        headers=sup1,
        json={"decision": "prefer_other", "note": "the call was the real contact"},
    )
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["status"] == "resolved"
    seen = (await client.get(f"/api/v1/warnings/{warning}", headers=sup1)).json()
    assert seen["outcome"] == "refused"
    changes, _, _ = await pull_all(client, o2, cursor)
    assert changes[-1]["task"]["outcome"] == "refused"
    again = await client.post(
        f"/api/v1/conflicts/{conflict_id}/resolve", headers=sup1, json={"decision": "uphold"}
    )
    assert_problem(again, 409, "invalid_transition", field="status")
    assert [e.action for e in store.list_audit(entity="conflict")] == ["conflict.resolve"]


async def test_a_losing_field_value_can_be_preferred(client, city, store) -> None:
    warning = await deliver(client)
    phone = await as_user(client, "o1", device="phone-a")
    tablet = await as_user(client, "o1", device="tablet-b")
    first = set_notes(warning, "A", node="phone-a", hlc_text=hlc("phone-a", 1_764_050_000_000))
    await push(client, phone, first)
    late = set_notes(warning, "B", node="tablet-b", hlc_text=hlc("tablet-b", 1_764_040_000_000))
    [verdict] = (await push(client, tablet, late))["results"]
    sup1 = await as_user(client, "sup1")
    # Both sides name the edit that brought them, as the phones sent it (issue 12).
    conflict = (
        await client.get(f"/api/v1/conflicts/{verdict['conflict_id']}", headers=sup1)
    ).json()
    assert (conflict["winner"]["mutation_id"], conflict["winner"]["hlc"]) == (
        first["mutation_id"],
        first["hlc"],
    )
    assert (conflict["loser"]["mutation_id"], conflict["loser"]["value"]) == (
        late["mutation_id"],
        "B",
    )
    await client.post(
        f"/api/v1/conflicts/{verdict['conflict_id']}/resolve",
        headers=sup1,
        json={"decision": "prefer_other"},
    )
    changes, _, _ = await pull_all(client, phone)
    assert changes[0]["task"]["fields"]["officer_notes"]["value"] == "B"


async def test_a_visit_after_reassignment_can_only_be_upheld(client, city: TinyCity, store) -> None:
    warning = await deliver(client)
    sup1 = await as_user(client, "sup1")
    await client.post(
        f"/api/v1/warnings/{warning}/reassign", headers=sup1, json={"officer_id": city.id("o2")}
    )
    [verdict] = (await push(client, await as_user(client, "o1"), visit(warning)))["results"]
    refused = await client.post(
        f"/api/v1/conflicts/{verdict['conflict_id']}/resolve",
        headers=sup1,
        json={"decision": "prefer_other"},
    )
    assert_problem(refused, 409, "invalid_transition", field="decision")
    upheld = await client.post(
        f"/api/v1/conflicts/{verdict['conflict_id']}/resolve",
        headers=sup1,
        json={"decision": "uphold"},
    )
    assert upheld.json()["resolution"] == "uphold"


async def test_a_visit_after_cancellation_can_reopen_the_warning_with_its_outcome(
    client, city, store
) -> None:
    warning = await deliver(client)
    sup1 = await as_user(client, "sup1")
    await client.post(
        f"/api/v1/warnings/{warning}/cancel",
        headers=sup1,
        json={"reason": "looked like a duplicate"},
    )
    [verdict] = (await push(client, await as_user(client, "o1"), visit(warning)))["results"]
    await client.post(
        f"/api/v1/conflicts/{verdict['conflict_id']}/resolve",
        headers=sup1,
        json={"decision": "prefer_other"},
    )
    seen = (await client.get(f"/api/v1/warnings/{warning}", headers=sup1)).json()
    assert (seen["state"], seen["outcome"]) == ("completed", "dissuaded")


async def test_rejected_mutations_are_kept_for_review(client, city) -> None:
    warning = await deliver(client, "411602002001")  # o3's, not o1's
    await push(client, await as_user(client, "o1"), visit(warning))
    sup1 = await as_user(client, "sup1")
    [kept] = (await client.get("/api/v1/rejected-mutations", headers=sup1)).json()["items"]
    assert kept["code"] == "not_assigned"
    assert kept["body"]["task_id"] == warning
    assert_problem(
        await client.get("/api/v1/rejected-mutations", headers=await as_user(client, "o1")),
        403,
        "forbidden",
    )


async def test_a_rejection_resent_until_the_phone_hears_it_is_kept_once(client, city) -> None:
    """Issue 12: every resend of a turned-away mutation used to add a row for review."""
    mine, theirs = await deliver(client), await deliver(client, "411602002001")
    o1 = await as_user(client, "o1")
    first = visit(mine)
    malformed = {**visit(mine), "hlc": "not a clock"}
    reused = {**visit(mine, outcome="refused"), "mutation_id": first["mutation_id"]}
    not_assigned = visit(theirs)
    await push(client, o1, first)
    verdicts = []
    for _ in range(3):  # the answer was lost twice
        out = await push(client, o1, malformed, reused, not_assigned)
        verdicts.append([(r["status"], r["problem"]["code"]) for r in out["results"]])
    assert verdicts[0] == verdicts[1] == verdicts[2]
    assert [code for _, code in verdicts[0]] == [
        "malformed_mutation",
        "mutation_id_reused",
        "not_assigned",
    ]
    sup1 = await as_user(client, "sup1")
    kept = (await client.get("/api/v1/rejected-mutations", headers=sup1)).json()["items"]
    assert sorted(k["code"] for k in kept) == [
        "malformed_mutation",
        "mutation_id_reused",
        "not_assigned",
    ]


async def test_the_reports_count_the_amount_of_whichever_side_holds_the_outcome(
    client, city, store
) -> None:
    _, conflict_id = await double_visit(
        client, city, store, {"amount_prevented": 1_000}, {"amount_prevented": 50_000}
    )
    sup1 = await as_user(client, "sup1")
    params = {"date_from": "2026-11-25", "date_to": "2026-11-25", "unit_id": "411602-01"}

    async def amount() -> int:
        report = await client.get("/api/v1/reports/completion", headers=sup1, params=params)
        return int(report.json()["total"]["warnings"]["amount_prevented"])

    assert await amount() == 50_000  # face to face holds the outcome
    await client.post(
        f"/api/v1/conflicts/{conflict_id}/resolve", headers=sup1, json={"decision": "prefer_other"}
    )
    assert await amount() == 1_000

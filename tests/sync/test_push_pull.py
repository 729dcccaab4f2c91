"""An officer pulls their work, goes offline, records visits, pushes; nothing is lost."""

from __future__ import annotations

import pytest

from server.store.interface import Store
from server.store.sync_records import ClaimSide, FieldSide
from sync import checksum
from tests.support.api import a_warning, as_platform, as_user, assert_problem
from tests.support.city import TinyCity
from tests.support.sync import double_visit, hlc, pull_all, push, set_notes, visit

pytestmark = pytest.mark.anyio


async def deliver(client, *warnings) -> list[int]:
    out = (
        await client.post(
            "/api/v1/platform/warnings",
            json={"warnings": list(warnings)},
            headers=await as_platform(client),
        )
    ).json()
    return [r["warning_id"] for r in out["results"]]


def local_checksum(changes: list[dict]) -> str:
    held: dict[tuple[str, int], int] = {}
    for change in changes:
        if change["type"] == "upsert":
            held[(change["task"]["kind"], change["task"]["id"])] = change["task"]["version"]
        else:
            held.pop((change["kind"], change["id"]), None)
    return checksum.of((k, i, v) for (k, i), v in held.items())


async def test_an_officer_pulls_only_their_own_work_most_urgent_first(client, city) -> None:
    later, other, sooner = await deliver(
        client,
        a_warning("411602001001", deadline_at="2026-11-25T12:00:00+08:00"),
        a_warning("411602002001"),
        a_warning("411602001001", deadline_at="2026-11-25T10:00:00+08:00"),
    )
    o1 = await as_user(client, "o1")
    changes, _, digest = await pull_all(client, o1, limit=1)
    assert [c["task"]["id"] for c in changes] == [sooner, later]
    assert changes[0]["task"]["resident_id_number"].startswith("**************")
    assert digest == local_checksum(changes)
    assert other not in [c["task"]["id"] for c in changes]


async def test_a_visit_recorded_offline_is_pushed_and_closes_the_warning(
    client, city, store: Store
) -> None:
    [warning] = await deliver(client, a_warning("411602001001"))
    o1 = await as_user(client, "o1")
    _, cursor, _ = await pull_all(client, o1)
    sent = visit(warning, amount_prevented=100_000, photos=["ab" * 32])
    result = await push(client, o1, sent)
    assert [r["status"] for r in result["results"]] == ["applied"]
    changes, cursor, digest = await pull_all(client, o1, cursor)
    [upsert] = changes
    assert upsert["task"]["state"] == "completed"
    assert upsert["task"]["outcome"] == "dissuaded"
    assert upsert["visits"][0]["amount_prevented"] == 100_000
    assert upsert["visits"][0]["photos"] == ["ab" * 32]
    assert upsert["visits"][0]["hlc"] == sent["hlc"]  # matched to what the phone sent
    assert digest == checksum.of([("warning", warning, upsert["task"]["version"])])
    sup1 = await as_user(client, "sup1")
    seen = (await client.get(f"/api/v1/warnings/{warning}", headers=sup1)).json()
    assert (seen["state"], seen["outcome"]) == ("completed", "dissuaded")


async def test_replaying_a_push_returns_the_same_verdicts_and_changes_nothing(
    client, city, store: Store
) -> None:
    [warning] = await deliver(client, a_warning("411602001001"))
    o1 = await as_user(client, "o1")
    batch = [
        visit(warning, outcome=None, contact=None),
        visit(warning),
        set_notes(warning, "dog at the gate", node="phone-o1"),
    ]
    first = await push(client, o1, *batch)
    seq = store.current_seq()
    again = await push(client, o1, *batch)
    assert again["results"] == first["results"]
    partial = await push(client, o1, batch[1])
    assert partial["results"] == first["results"][1:2]
    assert store.current_seq() == seq
    assert len(store.visit_logs_for("warning", warning)) == 2


async def test_the_same_mutation_id_with_other_content_is_refused_and_kept(
    client, city, store: Store
) -> None:
    [warning] = await deliver(client, a_warning("411602001001"))
    o1 = await as_user(client, "o1")
    original = visit(warning)
    await push(client, o1, original)
    forged = {**original, "entry": {**original["entry"], "outcome": "refused"}}
    result = await push(client, o1, forged)
    [verdict] = result["results"]
    assert verdict["status"] == "rejected"
    assert verdict["problem"]["code"] == "mutation_id_reused"
    kept = store.list_rejected_mutations("station_id", "411602-01")
    assert [k.code for k in kept] == ["mutation_id_reused"]
    assert '"refused"' in kept[0].body


async def test_a_mutation_for_a_task_never_assigned_is_refused_and_kept(
    client, city, store: Store
) -> None:
    [warning] = await deliver(client, a_warning("411602002001"))  # o3's
    o1 = await as_user(client, "o1")
    result = await push(client, o1, visit(warning), set_notes(warning, "x", node="p"))
    assert [r["problem"]["code"] for r in result["results"]] == ["not_assigned"] * 2
    assert len(store.list_rejected_mutations("station_id", "411602-01")) == 2
    assert store.visit_logs_for("warning", warning) == []


async def test_a_bad_mutation_does_not_block_the_ones_behind_it(client, city) -> None:
    [warning] = await deliver(client, a_warning("411602001001"))
    o1 = await as_user(client, "o1")
    result = await push(client, o1, visit(999_999), visit(warning))
    assert [r["status"] for r in result["results"]] == ["rejected", "applied"]


async def test_a_visit_after_reassignment_stands_closes_the_warning_and_both_learn(
    client, city: TinyCity, store: Store
) -> None:
    [warning] = await deliver(client, a_warning("411602001001"))
    o1 = await as_user(client, "o1")
    o2 = await as_user(client, "o2")
    _, o1_cursor, _ = await pull_all(client, o1)
    _, o2_cursor, _ = await pull_all(client, o2)
    sup1 = await as_user(client, "sup1")
    await client.post(
        f"/api/v1/warnings/{warning}/reassign", headers=sup1, json={"officer_id": city.id("o2")}
    )
    # o1 was at the door, offline, when it moved.
    result = await push(client, o1, visit(warning))
    [verdict] = result["results"]
    assert verdict["status"] == "conflict"
    assert verdict["rule"] == "visit_after_reassign"  # the phone can say why
    conflict = store.get_conflict(verdict["conflict_id"])
    assert conflict is not None
    assert conflict.rule == "visit_after_reassign"
    assert set(conflict.officer_ids) == {city.id("o1"), city.id("o2")}
    o1_changes, _, _ = await pull_all(client, o1, o1_cursor)
    o2_changes, _, _ = await pull_all(client, o2, o2_cursor)
    assert o1_changes[-1]["type"] == "upsert"
    assert o1_changes[-1]["task"]["state"] == "completed"
    assert o2_changes[-1]["task"]["state"] == "completed"
    assert o2_changes[-1]["visits"][0]["officer_id"] == city.id("o1")


async def test_a_visit_after_cancellation_stands_and_is_flagged_for_review(
    client, city, store: Store
) -> None:
    [warning] = await deliver(client, a_warning("411602001001"))
    o1 = await as_user(client, "o1")
    _, cursor, _ = await pull_all(client, o1)
    sup1 = await as_user(client, "sup1")
    await client.post(
        f"/api/v1/warnings/{warning}/cancel", headers=sup1, json={"reason": "platform withdrew it"}
    )
    changes, cursor, _ = await pull_all(client, o1, cursor)
    assert changes == [
        {
            "type": "remove",
            "seq": changes[0]["seq"],
            "kind": "warning",
            "id": warning,
            "reason": "cancelled",
        }
    ]
    [verdict] = (await push(client, o1, visit(warning)))["results"]
    assert verdict["status"] == "conflict"
    assert verdict["rule"] == "visit_after_cancel"  # the phone can say why
    assert store.get_conflict(verdict["conflict_id"]).rule == "visit_after_cancel"
    [log] = store.visit_logs_for("warning", warning)
    assert "visit_after_cancel" in log.flags
    state = (await client.get(f"/api/v1/warnings/{warning}", headers=sup1)).json()["state"]
    assert state == "cancelled"


async def test_two_officers_visit_and_face_to_face_beats_phone(
    client, city: TinyCity, store: Store
) -> None:
    warning, conflict_id = await double_visit(client, city, store)
    conflict = store.get_conflict(conflict_id)
    assert conflict is not None
    assert conflict.rule == "double_visit"
    assert isinstance(conflict.winner, ClaimSide)
    assert isinstance(conflict.loser, ClaimSide)
    assert (conflict.winner.outcome, conflict.loser.outcome) == ("dissuaded", "refused")
    sup1 = await as_user(client, "sup1")
    seen = (await client.get(f"/api/v1/warnings/{warning}", headers=sup1)).json()
    assert seen["outcome"] == "dissuaded"
    assert len(store.visit_logs_for("warning", warning)) == 2


async def test_concurrent_edits_of_a_field_keep_one_winner_and_record_the_loser(
    client, city, store: Store
) -> None:
    [warning] = await deliver(client, a_warning("411602001001"))
    phone = await as_user(client, "o1", device="phone-a")
    tablet = await as_user(client, "o1", device="tablet-b")
    await push(
        client,
        phone,
        set_notes(
            warning,
            "resident works nights",
            node="phone-a",
            hlc_text=hlc("phone-a", 1_764_050_000_000),
        ),
    )
    # The tablet edited offline from the empty note, earlier by HLC: it loses.
    [verdict] = (
        await push(
            client,
            tablet,
            set_notes(
                warning,
                "call the daughter first",
                node="tablet-b",
                hlc_text=hlc("tablet-b", 1_764_040_000_000),
            ),
        )
    )["results"]
    assert verdict["status"] == "conflict"
    assert verdict["rule"] == "concurrent_edit"  # the phone can say why
    conflict = store.get_conflict(verdict["conflict_id"])
    assert isinstance(conflict.winner, FieldSide)
    assert isinstance(conflict.loser, FieldSide)
    assert conflict.winner.value == "resident works nights"
    assert conflict.loser.value == "call the daughter first"
    changes, _, _ = await pull_all(client, phone)
    assert changes[0]["task"]["fields"]["officer_notes"]["value"] == "resident works nights"
    # An edit made on top of what it replaces is no conflict.
    current = changes[0]["task"]["fields"]["officer_notes"]["hlc"]
    [plain] = (
        await push(client, tablet, set_notes(warning, "both", node="tablet-b", base_hlc=current))
    )["results"]
    assert plain["status"] == "applied"


async def test_a_phone_clock_hours_ahead_cannot_win_and_is_flagged(
    client, city, store: Store
) -> None:
    from datetime import timedelta

    [warning] = await deliver(client, a_warning("411602001001"))
    fast = await as_user(client, "o1", device="fast-phone")
    right = await as_user(client, "o1", device="right-phone")
    server_now = store.clock.now()
    far_future = int((server_now + timedelta(hours=6)).timestamp() * 1000)
    result = await push(
        client,
        fast,
        set_notes(
            warning, "from the future", node="fast-phone", hlc_text=hlc("fast-phone", far_future)
        ),
        device_time=server_now + timedelta(hours=6),
    )
    assert result["clock_skew_flagged"] is True
    assert result["clock_offset_ms"] == 6 * 3600 * 1000
    later = int((server_now + timedelta(minutes=1)).timestamp() * 1000)
    [verdict] = (
        await push(
            client,
            right,
            set_notes(warning, "the truth", node="right-phone", hlc_text=hlc("right-phone", later)),
            device_time=server_now,
        )
    )["results"]
    changes, _, _ = await pull_all(client, right)
    assert changes[0]["task"]["fields"]["officer_notes"]["value"] == "the truth"
    assert verdict["status"] == "conflict"


async def test_pull_rejects_a_forged_cursor_and_only_officers_sync(client, city) -> None:
    o1 = await as_user(client, "o1")
    assert_problem(
        await client.get("/api/v1/sync/pull", headers=o1, params={"cursor": "bm9wZQ"}),
        400,
        "validation_failed",
        field="cursor",
    )
    sup1 = await as_user(client, "sup1")
    assert_problem(await client.get("/api/v1/sync/pull", headers=sup1), 403, "forbidden")


async def test_an_old_cursor_gets_a_resync_answer(client, city, store: Store, clock) -> None:
    from datetime import timedelta

    await deliver(client, a_warning("411602001001"))
    o1 = await as_user(client, "o1")
    _, cursor, _ = await pull_all(client, o1)
    await deliver(client, a_warning("411602001001"))
    clock.advance(days=40)
    await deliver(client, a_warning("411602001001"))
    store.compact_changes(clock.now() - timedelta(days=30))
    o1 = await as_user(client, "o1")
    response = await client.get("/api/v1/sync/pull", headers=o1, params={"cursor": cursor})
    assert_problem(response, 410, "resync_required", field="cursor")
    changes, _, digest = await pull_all(client, o1)
    assert len(changes) == 3
    assert digest == local_checksum(changes)


async def test_a_malformed_mutation_is_refused_alone_and_kept(client, city, store: Store) -> None:
    [warning] = await deliver(client, a_warning("411602001001"))
    o1 = await as_user(client, "o1")
    from_the_future = {"type": "teleport", "mutation_id": "m-from-app-v9", "task_id": 1}
    bad_outcome = visit(warning, outcome="vanished")
    result = await push(client, o1, from_the_future, bad_outcome, visit(warning))
    first, second, third = result["results"]
    assert (first["status"], first["mutation_id"]) == ("rejected", "m-from-app-v9")
    assert first["problem"]["code"] == "malformed_mutation"
    assert second["problem"]["field"] == "entry.outcome"
    assert third["status"] == "applied"
    kept = store.list_rejected_mutations("station_id", "411602-01")
    assert [k.code for k in kept] == ["malformed_mutation"] * 2
    assert "teleport" in kept[0].body


async def test_a_push_envelope_that_is_wrong_is_refused_whole(client, city) -> None:
    o1 = await as_user(client, "o1")
    for body, field in [
        ({"mutations": []}, "device_time"),
        ({"device_time": "2026-11-25T08:00:00Z", "mutations": []}, "mutations"),
        ({"device_time": "yesterday", "mutations": [{}]}, "device_time"),
    ]:
        response = await client.post("/api/v1/sync/push", headers=o1, json=body)
        assert_problem(response, 400, "validation_failed", field=field)


async def test_phones_pushing_at_the_same_moment_are_each_applied_as_if_alone(
    client, city, store: Store
) -> None:
    import asyncio

    grids = {"o1": "411602001001", "o2": "411602001002", "o3": "411602002001"}
    tasks = {w: await deliver(client, *[a_warning(g) for _ in range(4)]) for w, g in grids.items()}
    phones = {who: await as_user(client, who) for who in grids}
    batches = {
        who: [
            [visit(t, node=f"phone-{who}", outcome=None, contact=None) for t in tasks[who]],
            [visit(t, node=f"phone-{who}") for t in tasks[who]],
        ]
        for who in grids
    }
    sends = [(who, batch) for who in grids for batch in batches[who]]
    # o1's second batch goes twice at once, as a phone retrying a push that timed out.
    sends.append(("o1", batches["o1"][1]))
    answers = await asyncio.gather(*(push(client, phones[w], *b) for w, b in sends))
    assert answers[1]["results"] == answers[-1]["results"]
    assert all(r["status"] == "applied" for a in answers for r in a["results"])
    for who in grids:
        changes, _, digest = await pull_all(client, phones[who])
        assert digest == local_checksum(changes)
        for task in tasks[who]:
            assert len(store.visit_logs_for("warning", task)) == 2
            warning = store.get_warning(task)
            assert warning.state == "completed"


async def test_a_task_id_no_server_could_hold_is_refused_alone(client, city) -> None:
    [warning] = await deliver(client, a_warning("411602001001"))
    o1 = await as_user(client, "o1")
    result = await push(client, o1, visit(2**64), visit(warning))
    bad, good = result["results"]
    assert bad["status"] == "rejected"
    assert bad["problem"]["code"] == "malformed_mutation"
    assert bad["problem"]["field"] == "task_id"
    assert good["status"] == "applied"

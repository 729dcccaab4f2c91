"""The store contract, sync: pushes and their verdicts, rejections kept for review, the
server's clock, pulls from a cursor, retention and compaction of the change log, and the
conflicts a supervisor resolves (the fixtures: tests/store/conftest.py)."""

from __future__ import annotations

from datetime import timedelta

import msgspec
import pytest

from server.clock import ManualClock
from server.errors import ConflictError, NotFound
from server.store.interface import Store
from server.store.queries import ResyncRequired
from server.store.records import Actor, WarningState
from server.store.sync_records import FieldSide, PulledWarning
from sync import checksum
from sync.hlc import HLC
from sync.protocol import Mutation
from tests.support.city import TinyCity, new_warning
from tests.support.contract import ACTOR, push
from tests.support.sync import push_context, set_notes, visit

ELSEWHERE = {"station_id": "411621-01", "county_id": "411621", "grid_code": "411621001001"}


def a_warning(store: Store, tiny: TinyCity, name: str = "A", officer: str = "o1") -> int:
    [(warning, _)] = store.ingest_warnings(
        [new_warning(tiny.id("platform"), name, tiny.id(officer))], ACTOR
    )
    return warning.id


def log_since(
    store: Store, officer: int, cursor: int, limit: int = 100
) -> list[tuple[object, ...]]:
    """(op, task id, seq, reason) of each change in the officer's scope after `cursor`."""
    rows = store.pull_rows(officer, snapshot_at=None, after_key="", after_seq=cursor, limit=limit)
    return [(i.op, i.id, i.seq, i.reason) for i in rows.items]


def held(store: Store, officer: int) -> list[int]:
    """The tasks a first pull gives the officer now."""
    rows = store.pull_rows(
        officer, snapshot_at=store.current_seq(), after_key="", after_seq=0, limit=1000
    )
    return [i.id for i in rows.items]


# -- push ------------------------------------------------------------------------------


def test_a_push_applies_each_mutation_once_and_a_replay_gets_the_same_verdicts(
    any_store: Store, tiny: TinyCity, clock: ManualClock
) -> None:
    o1 = tiny.id("o1")
    warning = a_warning(any_store, tiny)
    clock.advance(minutes=10)
    body = visit(warning, amount_prevented=5000)
    ctx = push_context(o1, clock.now())
    mutations = [msgspec.convert(body, Mutation)]
    results, server_hlc = any_store.apply_push(ctx, mutations)
    [result] = results
    assert (result.mutation_id, result.status, result.conflict_id) == (
        body["mutation_id"],
        "applied",
        None,
    )
    assert result.hlc is not None
    # The server's clock: never behind the pushes it took, nor its own wall clock.
    assert server_hlc == any_store.server_hlc()
    assert HLC.decode(server_hlc) >= HLC.decode(result.hlc)
    assert HLC.decode(server_hlc).wall_ms >= ctx.now_ms
    closed = any_store.get_warning(warning)
    assert closed is not None
    assert (closed.state, closed.outcome, closed.version) == (
        WarningState.COMPLETED,
        "dissuaded",
        2,
    )
    assert closed.seq == any_store.current_seq()
    assert closed.first_contact_at is not None
    [logged] = any_store.visit_logs_for("warning", warning)
    assert (logged.entry_id, logged.officer_id, logged.amount_prevented) == (
        body["entry"]["entry_id"],
        o1,
        5000,
    )
    assert (logged.outcome, logged.contact, logged.hlc) == (
        "dissuaded",
        "face_to_face",
        result.hlc,
    )
    assert any_store.visit_logs_for("publicity", warning) == []
    # The visit is on the audit chain, in its push's entry.
    [pushed] = any_store.list_audit(entity="device", entity_id=ctx.device_id)
    assert (pushed.action, pushed.station_id) == ("sync.push", "411602-01")
    assert pushed.after is not None
    assert [v["entry_id"] for v in pushed.after["visits"]] == [body["entry"]["entry_id"]]
    # The answer was lost and the phone pushes again: the same verdicts, nothing written.
    seq = any_store.current_seq()
    again, _ = any_store.apply_push(ctx, mutations)
    assert again == results
    assert any_store.current_seq() == seq
    assert len(any_store.visit_logs_for("warning", warning)) == 1
    # The same mutation id with other content is refused, and kept for review.
    other = {**body, "entry": {**body["entry"], "outcome": "refused"}}
    [reused] = push(any_store, o1, other)
    assert reused.status == "rejected"
    assert reused.problem is not None
    assert reused.problem.code == "mutation_id_reused"
    assert any_store.get_warning(warning) == closed


def test_a_push_refuses_what_it_cannot_apply_and_keeps_it_for_review(
    any_store: Store, tiny: TinyCity, clock: ManualClock
) -> None:
    o1, o3 = tiny.id("o1"), tiny.id("o3")
    warning = a_warning(any_store, tiny)
    clock.advance(minutes=10)
    stranger = visit(warning, node="phone-o3")
    nowhere = visit(warning + 100)
    [not_theirs] = push(any_store, o3, stranger)
    [unknown] = push(any_store, o1, nowhere)
    assert [(r.status, r.problem.code if r.problem else None) for r in (not_theirs, unknown)] == [
        ("rejected", "not_assigned"),
        ("rejected", "unknown_task"),
    ]
    kept = any_store.list_rejected_mutations("station_id", "411602-01")
    assert [(r.user_id, r.mutation_id, r.code) for r in kept] == [
        (o3, stranger["mutation_id"], "not_assigned"),
        (o1, nowhere["mutation_id"], "unknown_task"),
    ]
    assert msgspec.json.decode(kept[0].body)["task_id"] == warning
    untouched = any_store.get_warning(warning)
    assert untouched is not None
    assert untouched.version == 1
    assert any_store.visit_logs_for("warning", warning) == []


def test_undecodable_mutations_are_kept_for_review_once_each(
    any_store: Store, tiny: TinyCity, clock: ManualClock
) -> None:
    o1 = tiny.id("o1")
    ctx = push_context(o1, clock.now())
    items = [
        ("m-1", "malformed_mutation", "entry.contact: not a contact method", '{"x": 1}'),
        ("m-2", "malformed_mutation", "no type", "{}"),
    ]
    any_store.record_rejections(ctx, items)
    any_store.record_rejections(ctx, items[:1])  # sent again: the same verdict, kept once
    kept = any_store.list_rejected_mutations("county_id", "411602")
    assert [(r.mutation_id, r.code, r.detail, r.body) for r in kept] == items
    assert {(r.user_id, r.device_pk, r.received_at, r.station_id) for r in kept} == {
        (o1, ctx.device_pk, clock.now(), "411602-01")
    }
    assert any_store.list_rejected_mutations("city_id", "411600", after_id=kept[0].id) == kept[1:]
    assert any_store.list_rejected_mutations("station_id", "411602-01", limit=1) == kept[:1]
    assert any_store.list_rejected_mutations("county_id", "411621") == []
    with pytest.raises(ValueError, match="scoped"):
        any_store.list_rejected_mutations("officer_id", o1)


# -- scopes and pulls --------------------------------------------------------------------


def test_latest_change_is_the_newest_change_in_an_officers_scope(
    any_store: Store, tiny: TinyCity
) -> None:
    o1, o2 = tiny.id("o1"), tiny.id("o2")
    assert any_store.latest_change(o1) == 0
    warning = a_warning(any_store, tiny)
    first = any_store.get_warning(warning)
    assert first is not None
    assert (any_store.latest_change(o1), any_store.latest_change(o2)) == (first.seq, 0)
    moved = any_store.update_warning(warning, 1, {"officer_id": o2}, "warning.reassign", ACTOR)
    assert any_store.latest_change(o1) == any_store.latest_change(o2) == moved.seq
    # A change in nobody's scope of theirs leaves them be.
    any_store.ingest_warnings(
        [new_warning(tiny.id("platform"), "B", tiny.id("o4"), **ELSEWHERE)], ACTOR
    )
    assert any_store.latest_change(o1) == moved.seq


def test_scope_listeners_hear_whose_scope_changed_after_each_commit(
    any_store: Store, tiny: TinyCity
) -> None:
    o1, o2 = tiny.id("o1"), tiny.id("o2")
    # A listener keeps the newest seq it was told per officer: it may be told one twice
    # (interface.py, SyncStore.on_escalation), never one that was not committed.
    told: dict[int, int] = {}

    def listener(officers: frozenset[int], head: int) -> None:
        for officer in officers:
            told[officer] = max(told.get(officer, 0), head)

    any_store.on_scope_change(listener)
    warning = a_warning(any_store, tiny)
    assert told == {o1: any_store.current_seq()}
    moved = any_store.update_warning(warning, 1, {"officer_id": o2}, "warning.reassign", ACTOR)
    assert told == {o1: moved.seq, o2: moved.seq}
    # A write that changes no scope, and one that fails, tell nobody.
    any_store.update_user(o1, {"name": "张明"}, ACTOR)
    with pytest.raises(ConflictError):
        any_store.update_warning(warning, 1, {"officer_id": o1}, "warning.reassign", ACTOR)
    assert told == {o1: moved.seq, o2: moved.seq}


def test_a_pull_from_a_cursor_gives_each_change_since_and_drops_what_left_the_scope(
    any_store: Store, tiny: TinyCity
) -> None:
    o1, o2 = tiny.id("o1"), tiny.id("o2")
    warning = a_warning(any_store, tiny)
    cursor = any_store.current_seq()
    quiet = any_store.pull_rows(o1, snapshot_at=None, after_key="", after_seq=cursor, limit=10)
    assert (quiet.items, quiet.last_seq, quiet.head, quiet.more) == ([], cursor, cursor, False)
    assert quiet.checksum == checksum.of([("warning", warning, 1)])
    moved = any_store.update_warning(warning, 1, {"officer_id": o2}, "warning.reassign", ACTOR)
    gone = any_store.pull_rows(o1, snapshot_at=None, after_key="", after_seq=cursor, limit=10)
    [item] = gone.items
    assert (item.op, item.kind, item.id, item.seq, item.reason) == (
        "remove",
        "warning",
        warning,
        moved.seq,
        "reassigned",
    )
    assert item.task is None  # never a resident's details the officer no longer holds
    assert (gone.last_seq, gone.checksum) == (moved.seq, checksum.of([]))
    came = any_store.pull_rows(o2, snapshot_at=None, after_key="", after_seq=cursor, limit=10)
    [item] = came.items
    assert (item.op, item.id, item.seq) == ("upsert", warning, moved.seq)
    assert isinstance(item.task, PulledWarning)
    assert (item.task.version, item.task.resident_phone) == (2, "13800001111")
    assert came.checksum == checksum.of([("warning", warning, 2)])
    # A page at a time, in seq order.
    more = [a_warning(any_store, tiny, name, "o2") for name in ("B", "C", "D")]
    first = any_store.pull_rows(o2, snapshot_at=None, after_key="", after_seq=cursor, limit=2)
    assert ([i.id for i in first.items], first.more, first.checksum) == (
        [warning, more[0]],
        True,
        None,
    )
    rest = any_store.pull_rows(
        o2, snapshot_at=None, after_key="", after_seq=first.last_seq, limit=2
    )
    assert ([i.id for i in rest.items], rest.more, rest.head) == (
        more[1:],
        False,
        any_store.current_seq(),
    )


def test_compacting_the_change_log_sends_older_cursors_back_to_a_first_pull(
    any_store: Store, tiny: TinyCity, clock: ManualClock
) -> None:
    o1 = tiny.id("o1")
    old = a_warning(any_store, tiny, "A")
    old_seq = any_store.current_seq()
    clock.advance(days=2)
    new = a_warning(any_store, tiny, "B")
    assert any_store.compact_changes(clock.now() - timedelta(days=1)) == 1
    with pytest.raises(ResyncRequired):
        any_store.pull_rows(o1, snapshot_at=None, after_key="", after_seq=0, limit=10)
    assert [change[1] for change in log_since(any_store, o1, old_seq)] == [new]
    assert any_store.compact_changes(clock.now() - timedelta(days=1)) == 0
    assert held(any_store, o1) == [old, new]  # a first pull still gives everything


def test_tasks_closed_longer_than_the_retention_leave_every_scope(
    any_store: Store, tiny: TinyCity, clock: ManualClock
) -> None:
    o1 = tiny.id("o1")
    done, still = a_warning(any_store, tiny, "A"), a_warning(any_store, tiny, "B")
    closed = any_store.update_warning(done, 1, {"state": WarningState.COMPLETED}, "w", ACTOR)
    clock.advance(hours=23)
    assert any_store.sweep_retention(timedelta(hours=24)) == 0
    clock.advance(hours=2)
    cursor = any_store.current_seq()
    assert any_store.sweep_retention(timedelta(hours=24)) == 1
    [(op, task, _, reason)] = log_since(any_store, o1, cursor)
    assert (op, task, reason) == ("remove", done, "retention")
    assert held(any_store, o1) == [still]
    assert any_store.sweep_retention(timedelta(hours=24)) == 0
    assert any_store.get_warning(done) == closed  # gone from phones, kept on the server


# -- conflicts ---------------------------------------------------------------------------


def a_visit_after_cancel(store: Store, tiny: TinyCity, clock: ManualClock) -> tuple[int, int]:
    """o1 went to the door of a warning cancelled meanwhile: (warning id, conflict id)."""
    warning = a_warning(store, tiny)
    store.update_warning(
        warning, 1, {"state": WarningState.CANCELLED, "cancel_reason": "dup"}, "w", ACTOR
    )
    clock.advance(minutes=10)
    [result] = push(store, tiny.id("o1"), visit(warning))
    assert (result.status, result.rule) == ("conflict", "visit_after_cancel")
    assert result.conflict_id is not None
    return warning, result.conflict_id


def test_a_visit_after_cancel_is_a_conflict_until_a_supervisor_upholds_the_cancel(
    any_store: Store, tiny: TinyCity, clock: ManualClock
) -> None:
    warning, conflict_id = a_visit_after_cancel(any_store, tiny, clock)
    [entry] = any_store.visit_logs_for("warning", warning)
    conflict = any_store.get_conflict(conflict_id)
    assert conflict is not None
    assert (conflict.rule, conflict.task_kind, conflict.task_id, conflict.entry_id) == (
        "visit_after_cancel",
        "warning",
        warning,
        entry.entry_id,
    )
    assert (conflict.status, conflict.station_id, conflict.created_at) == (
        "open",
        "411602-01",
        clock.now(),
    )
    assert tiny.id("o1") in conflict.officer_ids
    assert any_store.list_conflicts("station_id", "411602-01") == [conflict]
    assert any_store.list_conflicts("county_id", "411602", status="open") == [conflict]
    assert any_store.list_conflicts("city_id", "411600", status="resolved") == []
    assert any_store.list_conflicts("city_id", "411600", after_id=conflict_id) == []
    assert any_store.list_conflicts("county_id", "411621") == []
    with pytest.raises(ValueError, match="scoped"):
        any_store.list_conflicts("officer_id", tiny.id("o1"))
    cancelled = any_store.get_warning(warning)
    clock.advance(minutes=5)
    sup1 = Actor(user_id=tiny.id("sup1"))
    resolved = any_store.resolve_conflict(conflict_id, "uphold", "重复预警", None, sup1)
    assert (resolved.status, resolved.resolution, resolved.note) == (
        "resolved",
        "uphold",
        "重复预警",
    )
    assert (resolved.resolved_at, resolved.resolved_by) == (clock.now(), tiny.id("sup1"))
    assert any_store.get_conflict(conflict_id) == resolved
    assert any_store.list_conflicts("station_id", "411602-01", status="open") == []
    assert any_store.get_warning(warning) == cancelled  # upheld: the task stays as it was
    assert [e.action for e in any_store.list_audit(entity="conflict")] == ["conflict.resolve"]
    with pytest.raises(ConflictError):
        any_store.resolve_conflict(conflict_id, "uphold", None, None, sup1)
    with pytest.raises(NotFound):
        any_store.resolve_conflict(conflict_id + 100, "uphold", None, None, sup1)
    assert any_store.get_conflict(conflict_id + 100) is None


def test_preferring_the_visit_over_the_cancel_changes_the_warning_as_any_change_does(
    any_store: Store, tiny: TinyCity, clock: ManualClock
) -> None:
    o1 = tiny.id("o1")
    warning, conflict_id = a_visit_after_cancel(any_store, tiny, clock)
    [entry] = any_store.visit_logs_for("warning", warning)
    before = any_store.get_warning(warning)
    assert before is not None
    cursor = any_store.current_seq()
    claim = {
        "state": "completed",
        "outcome": entry.outcome,
        "outcome_entry_id": entry.entry_id,
        "outcome_officer_id": o1,
        "outcome_contact": entry.contact,
        "outcome_hlc": entry.hlc,
    }
    any_store.resolve_conflict(conflict_id, "prefer_other", None, claim, Actor(user_id=None))
    after = any_store.get_warning(warning)
    assert after is not None
    assert (after.state, after.outcome, after.version) == (
        WarningState.COMPLETED,
        "dissuaded",
        before.version + 1,
    )
    assert cursor < after.seq <= any_store.current_seq()
    # No longer cancelled: back on o1's phone.
    assert [(op, task) for op, task, _, _ in log_since(any_store, o1, cursor)] == [
        ("upsert", warning)
    ]
    actions = [e.action for e in any_store.list_audit(limit=10_000)]
    assert actions[-2:] == ["conflict.apply", "conflict.resolve"]


def test_preferring_the_losing_edit_sets_the_field_as_a_new_change(
    any_store: Store, tiny: TinyCity, clock: ManualClock
) -> None:
    o1 = tiny.id("o1")
    warning = a_warning(any_store, tiny)
    clock.advance(minutes=10)
    # Two phones of o1's edit the notes, neither having seen the other's edit.
    [first] = push(any_store, o1, set_notes(warning, "在家", node="phone-a"))
    [second] = push(any_store, o1, set_notes(warning, "不在家", node="phone-b"))
    assert (first.status, second.status, second.rule) == ("applied", "conflict", "concurrent_edit")
    assert second.conflict_id is not None
    conflict = any_store.get_conflict(second.conflict_id)
    assert conflict is not None
    assert isinstance(conflict.winner, FieldSide)
    assert isinstance(conflict.loser, FieldSide)
    assert (conflict.winner.value, conflict.loser.value) == ("不在家", "在家")
    before = any_store.get_warning(warning)
    assert before is not None
    any_store.resolve_conflict(
        conflict.id,
        "prefer_other",
        None,
        None,
        Actor(user_id=tiny.id("sup1")),
        ("officer_notes", "在家"),
    )
    after = any_store.get_warning(warning)
    assert after is not None
    assert (after.version, after.seq) == (before.version + 1, any_store.current_seq())
    rows = any_store.pull_rows(o1, snapshot_at=after.seq, after_key="", after_seq=0, limit=10)
    [item] = rows.items
    assert item.fields["officer_notes"].value == "在家"


def test_resolving_with_a_change_to_a_column_that_does_not_exist_is_a_programming_error(
    any_store: Store, tiny: TinyCity, clock: ManualClock
) -> None:
    _, conflict_id = a_visit_after_cancel(any_store, tiny, clock)
    with pytest.raises(ValueError, match="no_such_column"):
        any_store.resolve_conflict(conflict_id, "prefer_other", None, {"no_such_column": 1}, ACTOR)
    # A real column outside the side a rule overrode is refused the same way.
    with pytest.raises(ValueError, match="version"):
        any_store.resolve_conflict(conflict_id, "prefer_other", None, {"version": 99}, ACTOR)
    conflict = any_store.get_conflict(conflict_id)
    assert conflict is not None
    assert conflict.status == "open"

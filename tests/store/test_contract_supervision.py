"""The store contract, supervision: report figures and trends, escalation, visit review,
the outcome feed and its webhook cursor, oversight of officers' phones, a publicity
task's sessions and a warning's history (the fixtures: tests/store/conftest.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import msgspec
import pytest

from server.clock import ManualClock, iso
from server.errors import ConflictError, NotFound
from server.store.interface import Store
from server.store.records import Actor, WarningState
from server.store.supervision_records import (
    OfficerActivity,
    PublicityGroupFigures,
    WarningCounts,
    WebhookState,
)
from server.store.visit_records import MaterialRecord
from sync.protocol import RecordVisit
from tests.support.city import TinyCity, new_warning
from tests.support.contract import ACTOR, LIMITS, publicity_fields, push, sha
from tests.support.sync import push_context, visit

# -- report figures ----------------------------------------------------------------------

DAY = (datetime(2026, 11, 25, tzinfo=UTC), datetime(2026, 11, 26, tzinfo=UTC))
REPORTED_AT = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def push_visit(store: Store, officer: int, task: int, arrived: str, **entry: Any) -> None:
    at = f"2026-11-25T{arrived}:00+00:00"
    # Received a minute after the officer arrived: the visit's times are believable.
    ctx = push_context(officer, datetime.fromisoformat(at) + timedelta(minutes=1))
    body = visit(task, arrived_at=at, recorded_at=at, **entry)
    [result], _ = store.apply_push(ctx, [msgspec.convert(body, RecordVisit)])
    assert result.status == "applied", result


def a_reported_day(store: Store, tiny: TinyCity) -> dict[str, int]:
    """Six warnings of 城区派出所 arriving at 08:00, twenty of 城关派出所 between the first
    and the rest (so the station's own rows fill little of their rowid span)."""
    platform, o1, o2, o4 = (tiny.id(n) for n in ("platform", "o1", "o2", "o4"))
    elsewhere = {"station_id": "411621-01", "county_id": "411621", "grid_code": "411621001001"}
    [(a, _)] = store.ingest_warnings([new_warning(platform, "A", o1)], ACTOR)
    store.ingest_warnings(
        [new_warning(platform, f"X{n}", o4, **elsewhere) for n in range(20)], ACTOR
    )
    ids = {"A": a.id}
    for name, officer, risk in (("B", o1, "high"), ("C", o2, "low"), ("D", o2, "high")):
        [(w, _)] = store.ingest_warnings(
            [new_warning(platform, name, officer, risk_level=risk)], ACTOR
        )
        ids[name] = w.id
    for name in ("E", "F"):
        [(w, _)] = store.ingest_warnings([new_warning(platform, name, o2)], ACTOR)
        ids[name] = w.id
    # E waited ten minutes for its dispatch: 30 minutes from dispatch, 40 from arrival.
    store.update_warning(
        ids["E"], 1, {"dispatched_at": datetime(2026, 11, 25, 8, 10, tzinfo=UTC)}, "w", ACTOR
    )
    store.update_warning(ids["F"], 1, {"state": WarningState.CANCELLED}, "w", ACTOR)
    push_visit(store, o1, ids["A"], "08:20", amount_prevented=5000)
    push_visit(store, o1, ids["B"], "08:45", contact="phone", outcome="refused")
    push_visit(store, o2, ids["E"], "08:40", amount_prevented=700)
    return ids


def test_warning_figures_count_each_group_and_list_its_contact_minutes(
    any_store: Store, tiny: TinyCity
) -> None:
    a_reported_day(any_store, tiny)
    rows = any_store.warning_figures(
        "county_id", "411602", *DAY, REPORTED_AT, LIMITS, ["station_id", "officer"]
    )
    by_officer = {r.group[1]: r for r in rows}
    assert set(by_officer) == {tiny.id("o1"), tiny.id("o2")}
    assert {r.group[0] for r in rows} == {"411602-01"}
    o1, o2 = by_officer[tiny.id("o1")], by_officer[tiny.id("o2")]
    figures = ("received", "cancelled", "visited", "face_to_face", "on_time", "late", "overdue")
    assert [getattr(o1, k) for k in figures] == [2, 0, 2, 1, 1, 1, 0]  # A at 20, B at 45
    assert [getattr(o2, k) for k in figures] == [4, 1, 1, 1, 0, 1, 1]  # E late; D due
    assert (o1.amount_prevented, o2.amount_prevented) == (5000, 700)
    assert (o1.outcomes["dissuaded"], o1.outcomes["refused"], o2.outcomes["dissuaded"]) == (1, 1, 1)
    assert o1.contact_minutes == [pytest.approx(20), pytest.approx(45)]
    assert o2.contact_minutes == [pytest.approx(30)]  # from its dispatch
    [total] = any_store.warning_figures("county_id", "411602", *DAY, REPORTED_AT, LIMITS, [])
    assert total.group == ()
    assert total.received == 6
    assert total.contact_minutes == sorted(o1.contact_minutes + o2.contact_minutes)
    after = (DAY[1], DAY[1] + timedelta(days=1))
    assert any_store.warning_figures("city_id", "411600", *after, REPORTED_AT, LIMITS, []) == []


def test_warning_figures_are_the_same_read_by_any_unit_that_holds_them(
    any_store: Store, tiny: TinyCity
) -> None:
    a_reported_day(any_store, tiny)
    city = any_store.warning_figures(
        "city_id", "411600", *DAY, REPORTED_AT, LIMITS, ["station_id", "officer"]
    )
    station = any_store.warning_figures(
        "station_id", "411602-01", *DAY, REPORTED_AT, LIMITS, ["officer"]
    )
    assert {
        r.group[1]: msgspec.structs.replace(r, group=()) for r in city if r.group[0] == "411602-01"
    } == {r.group[0]: msgspec.structs.replace(r, group=()) for r in station}
    assert sum(r.received for r in city) == 26


def test_warning_figures_refuse_what_they_cannot_scope_or_group_by(any_store: Store) -> None:
    with pytest.raises(ValueError, match="scope"):
        any_store.warning_figures("officer_id", "1", *DAY, REPORTED_AT, LIMITS, [])
    with pytest.raises(ValueError, match="group"):
        any_store.warning_figures("city_id", "411600", *DAY, REPORTED_AT, LIMITS, ["grid_code"])


def test_the_trend_counts_each_local_day_and_fraud_type_as_the_figures_count_them(
    any_store: Store, tiny: TinyCity, clock: ManualClock
) -> None:
    a_reported_day(any_store, tiny)  # at 08:00Z: 16:00 on the 25th, local
    [total] = any_store.warning_figures("county_id", "411602", *DAY, REPORTED_AT, LIMITS, [])
    clock.set(datetime(2026, 11, 25, 17, 0, tzinfo=UTC))  # 01:00 on the 26th, local
    any_store.ingest_warnings(
        [new_warning(tiny.id("platform"), "late", tiny.id("o1"), fraud_type="impersonation")],
        ACTOR,
    )
    rows = any_store.warning_trend("county_id", "411602", *DAY, REPORTED_AT, LIMITS, 480)
    by_key = {(r.day, r.fraud_type): r for r in rows}
    assert set(by_key) == {
        (date(2026, 11, 25), "fake_loan"),
        (date(2026, 11, 26), "impersonation"),
    }

    def counts(figures: WarningCounts) -> dict[str, Any]:
        return {k: getattr(figures, k) for k in WarningCounts.__struct_fields__}

    day = by_key[(date(2026, 11, 25), "fake_loan")]
    assert counts(day) == counts(total)
    late = by_key[(date(2026, 11, 26), "impersonation")]
    assert (late.received, late.visited, late.amount_prevented) == (1, 0, 0)
    # At UTC both fall on the 25th.
    utc = any_store.warning_trend("county_id", "411602", *DAY, REPORTED_AT, LIMITS, 0)
    assert {(r.day, r.fraud_type) for r in utc} == {
        (date(2026, 11, 25), "fake_loan"),
        (date(2026, 11, 25), "impersonation"),
    }
    elsewhere = any_store.warning_trend("county_id", "411621", *DAY, REPORTED_AT, LIMITS, 480)
    assert sum(r.received for r in elsewhere) == 20
    with pytest.raises(ValueError, match="scope"):
        any_store.warning_trend("officer_id", "1", *DAY, REPORTED_AT, LIMITS, 480)


def test_publicity_figures_count_the_periods_tasks_and_what_their_sessions_held(
    any_store: Store, tiny: TinyCity, clock: ManualClock
) -> None:
    o1, o2 = tiny.id("o1"), tiny.id("o2")
    ended = {"window_start": date(2026, 11, 20), "window_end": date(2026, 11, 24)}
    later = {"window_start": date(2026, 12, 10), "window_end": date(2026, 12, 12)}
    any_store.create_publicity_task(publicity_fields(tiny, "过期", **ended), [o1], ACTOR)
    held = any_store.create_publicity_task(publicity_fields(tiny, "已办"), [o1, o2], ACTOR)
    any_store.create_publicity_task(publicity_fields(tiny, "下月", **later), [o2], ACTOR)
    clock.advance(minutes=10)
    talk: dict[str, Any] = {
        "kind": "publicity",
        "held_at": "2026-11-25T08:06:00+00:00",
        "completed": True,
    }
    first = visit(held.id, attendance=30, materials=[{"kind": "leaflet", "count": 50}], **talk)
    # o1 corrects the count: the entry superseded no longer counts.
    fixed = visit(
        held.id,
        supersedes=first["entry"]["entry_id"],
        attendance=40,
        materials=[{"kind": "leaflet", "count": 60}, {"kind": "poster", "count": 2}],
        **talk,
    )
    assert [r.status for r in push(any_store, o1, first, fixed)] == ["applied", "applied"]

    def figures(column: str, value: str, group: str | None) -> list[PublicityGroupFigures]:
        return any_store.publicity_figures(
            column, value, "2026-11-20", "2026-11-30", "2026-11-25", group
        )

    everything = {"tasks": 2, "done": 1, "overdue": 1, "attendance": 40, "materials": 62}
    assert figures("station_id", "411602-01", None) == [
        PublicityGroupFigures(group=None, **everything)
    ]
    assert figures("county_id", "411602", "station_id") == [
        PublicityGroupFigures(group="411602-01", **everything)
    ]
    by_officer = {r.group: r for r in figures("city_id", "411600", "officer")}
    assert by_officer == {
        # the sessions count for the officer who recorded them
        o1: PublicityGroupFigures(group=o1, **everything),
        o2: PublicityGroupFigures(group=o2, tasks=1, done=1, overdue=0, attendance=0, materials=0),
    }
    assert figures("county_id", "411621", None) == []
    with pytest.raises(ValueError, match="scope"):
        figures("officer_id", str(o1), None)
    with pytest.raises(ValueError, match="group"):
        figures("city_id", "411600", "grid_code")


# -- escalation --------------------------------------------------------------------------


def test_escalation_steps_are_recorded_once_each_as_they_fall_due(
    any_store: Store, tiny: TinyCity, clock: ManualClock
) -> None:
    platform, o1 = tiny.id("platform"), tiny.id("o1")
    made = any_store.ingest_warnings(
        [new_warning(platform, name, o1) for name in ("late", "visited")], ACTOR
    )
    late, visited = (w.id for w, _ in made)
    assert any_store.escalate(LIMITS, 60) == []
    assert any_store.escalation_backlog(LIMITS) == (0, 0)
    clock.advance(minutes=20)
    push(any_store, o1, visit(visited, outcome=None))  # at the door, no outcome yet
    clock.advance(minutes=11)  # 08:31: a high risk warning's first contact was due at 08:30
    assert any_store.escalation_backlog(LIMITS) == (1, 1)
    [station] = any_store.escalate(LIMITS, 60)
    assert (station.warning_id, station.kind, station.level) == (late, "contact", "station")
    assert (station.county_id, station.station_id) == ("411602", "411602-01")
    assert station.due_at == datetime(2026, 11, 25, 8, 30, tzinfo=UTC)
    assert station.at == clock.now()
    assert any_store.escalate(LIMITS, 60) == []  # once each
    assert any_store.escalation_backlog(LIMITS) == (1, 0)
    clock.advance(hours=1)  # 09:31: the county's turn, a step (60 minutes) later
    [county] = any_store.escalate(LIMITS, 60)
    assert (county.warning_id, county.kind, county.level) == (late, "contact", "county")
    assert county.due_at == datetime(2026, 11, 25, 9, 30, tzinfo=UTC)

    def ids(column: str, value: str, **query: Any) -> list[int]:
        return [s.id for s in any_store.list_escalations(column, value, **query)]

    assert any_store.list_escalations("station_id", "411602-01") == [station, county]
    assert ids("county_id", "411602", level="county") == [county.id]
    assert ids("city_id", "411600", warning_id=visited) == []
    assert ids("city_id", "411600", after_id=station.id) == [county.id]
    assert ids("city_id", "411600", limit=1) == [station.id]
    assert ids("county_id", "411621") == []
    with pytest.raises(ValueError, match="scope"):
        any_store.list_escalations("officer_id", str(o1))
    audit = any_store.list_audit(entity="warning", entity_id=str(late))
    assert [e.action for e in audit] == ["warning.ingest", "warning.escalate", "warning.escalate"]


# -- review ------------------------------------------------------------------------------


def test_a_visit_waits_for_review_until_a_supervisor_approves_or_returns_it(
    any_store: Store, tiny: TinyCity, clock: ManualClock
) -> None:
    platform, o1 = tiny.id("platform"), tiny.id("o1")
    sup1 = Actor(user_id=tiny.id("sup1"))
    made = any_store.ingest_warnings([new_warning(platform, n, o1) for n in "ABC"], ACTOR)
    w1, w2, w3 = (w.id for w, _ in made)
    any_store.set_grid_positions([("411602001001", 33.62, 114.65)])
    clock.advance(minutes=10)
    a, b, c = visit(w1), visit(w2), visit(w3, outcome=None)
    redone_c = visit(w3, supersedes=c["entry"]["entry_id"])
    push(any_store, o1, a, b, c, redone_c)
    a_id, b_id, c_id = (m["entry"]["entry_id"] for m in (a, b, c))

    def queue(column: str = "station_id", value: str = "411602-01", after: int = 0) -> list[str]:
        rows = any_store.review_candidates(column, value, after_seq=after, limit=10)
        return [r.entry_id for r in rows]

    # Neither reviewed nor superseded, in the order they arrived.
    redone_id = redone_c["entry"]["entry_id"]
    assert queue() == [a_id, b_id, redone_id]
    first, *_ = any_store.review_candidates("county_id", "411602", after_seq=0, limit=1)
    assert (first.entry_id, first.task_kind, first.task_id, first.officer_id) == (
        a_id,
        "warning",
        w1,
        o1,
    )
    assert (first.grid_lat, first.grid_lon, first.grid_datum) == (33.62, 114.65, "wgs84")
    assert (first.conflicts, first.supersedes_review) == (0, None)
    assert queue(after=first.seq) == [b_id, redone_id]
    assert queue("county_id", "411621") == []
    with pytest.raises(ValueError, match="scope"):
        any_store.review_candidates("officer_id", str(o1), after_seq=0, limit=10)
    waiting = any_store.get_visit(a_id)
    assert waiting is not None
    assert (waiting.entry_id, waiting.officer_id, waiting.review_decision) == (a_id, o1, None)
    assert any_store.get_visit("no-such-entry") is None
    # Approved: out of the queue, and the task moves on (its phones hold the verdict).
    before = any_store.get_warning(w1)
    assert before is not None
    clock.advance(minutes=5)
    approved = any_store.review_visit(a_id, "approved", [], None, sup1)
    assert (approved.entry_id, approved.review_decision, approved.review_note) == (
        a_id,
        "approved",
        None,
    )
    assert approved.review_at == clock.now()
    assert any_store.get_visit(a_id) == approved
    after = any_store.get_warning(w1)
    assert after is not None
    assert (after.version, after.seq) == (before.version + 1, any_store.current_seq())
    assert queue() == [b_id, redone_id]
    with pytest.raises(ConflictError):
        any_store.review_visit(a_id, "returned", [], None, sup1)
    with pytest.raises(ConflictError):  # superseded by the officer: review the new entry
        any_store.review_visit(c_id, "approved", [], None, sup1)
    with pytest.raises(NotFound):
        any_store.review_visit("no-such-entry", "approved", [], None, sup1)
    # Returned: the officer's phone learns it on its next pull; the redone visit comes
    # back to the queue with the verdict on the one it replaces.
    cursor = any_store.current_seq()
    any_store.review_visit(b_id, "returned", ["far_from_grid"], "请重新走访", sup1)
    rows = any_store.pull_rows(o1, snapshot_at=None, after_key="", after_seq=cursor, limit=10)
    [item] = rows.items
    [held] = item.visits
    assert (item.id, held.review_decision, held.review_note) == (w2, "returned", "请重新走访")
    clock.advance(minutes=30)
    again = visit(w2, supersedes=b_id, recorded_at=iso(clock.now()), arrived_at=iso(clock.now()))
    push(any_store, o1, again)
    [redone] = [
        r
        for r in any_store.review_candidates("station_id", "411602-01", after_seq=0, limit=10)
        if r.entry_id == again["entry"]["entry_id"]
    ]
    assert redone.supersedes_review == "returned"
    actions = [e.action for e in any_store.list_audit(limit=10_000)]
    assert [a for a in actions if a.startswith("visit.") and a != "visit.record"] == [
        "visit.approved",
        "visit.returned",
    ]


# -- the outcome feed and its webhook ------------------------------------------------------


def test_each_warning_that_closes_puts_one_item_on_the_outcome_feed(
    any_store: Store, tiny: TinyCity, clock: ManualClock
) -> None:
    platform, o1 = tiny.id("platform"), tiny.id("o1")
    made = any_store.ingest_warnings([new_warning(platform, n, o1) for n in "ABC"], ACTOR)
    a, b, c = (w.id for w, _ in made)
    any_store.update_warning(c, 1, {"officer_id": tiny.id("o2")}, "warning.reassign", ACTOR)
    assert any_store.outcome_feed(None, 0, 10) == []  # nothing closed yet
    clock.advance(minutes=10)
    push(any_store, o1, visit(a, amount_prevented=5000))
    any_store.update_warning(
        b, 1, {"state": WarningState.CANCELLED, "cancel_reason": "重复"}, "warning.cancel", ACTOR
    )
    items = any_store.outcome_feed(None, 0, 10)
    assert [i.warning_id for i in items] == [a, b]
    assert items[0].id < items[1].id
    assert len({i.delivery_id for i in items}) == 2
    assert {i.client_id for i in items} == {platform}
    assert items[1].at == clock.now()
    told = items[0].payload
    assert (told.warning_id, told.platform_id, told.state, told.outcome) == (
        a,
        "A",
        "completed",
        "dissuaded",
    )
    assert (told.contact, told.officer_id, told.amount_prevented) == (
        "face_to_face",
        o1,
        5000,
    )
    cancelled = items[1].payload
    assert (cancelled.state, cancelled.cancel_reason) == ("cancelled", "重复")
    assert any_store.outcome_feed(platform, items[0].id, 10) == items[1:]
    assert any_store.outcome_feed(platform, 0, 1) == items[:1]
    assert any_store.outcome_feed(platform + 100, 0, 10) == []


def test_the_webhooks_cursor_is_kept_between_passes(any_store: Store, clock: ManualClock) -> None:
    fresh = any_store.webhook_state("platform")
    assert fresh == WebhookState(
        name="platform",
        last_id=0,
        attempts=0,
        next_attempt_at=None,
        last_error=None,
        delivered=0,
    )
    failing = msgspec.structs.replace(
        fresh,
        last_id=3,
        attempts=2,
        next_attempt_at=clock.now() + timedelta(seconds=10),
        last_error="HTTP 503",
        delivered=3,
    )
    any_store.save_webhook_state(failing)
    assert any_store.webhook_state("platform") == failing
    delivered = msgspec.structs.replace(
        failing, last_id=4, attempts=0, next_attempt_at=None, last_error=None, delivered=4
    )
    any_store.save_webhook_state(delivered)
    assert any_store.webhook_state("platform") == delivered
    assert any_store.webhook_state("another").last_id == 0


# -- oversight, sessions, history --------------------------------------------------------


def test_officer_activity_tells_each_officers_last_push_rejections_and_open_work(
    any_store: Store, tiny: TinyCity, clock: ManualClock
) -> None:
    platform, o1, o2 = tiny.id("platform"), tiny.id("o1"), tiny.id("o2")
    made = any_store.ingest_warnings(
        [
            new_warning(platform, "A", o1),
            new_warning(platform, "B", o1),
            new_warning(platform, "C", o1, risk_level="low"),
        ],
        ACTOR,
    )
    a = made[0][0].id
    clock.advance(minutes=40)  # B is overdue (30 minutes), C is not (8 hours)
    push(any_store, o1, visit(a, photos=[sha("door")]))  # the photo is still on the phone
    push(any_store, o1, visit(a + 100))  # rejected: no such task
    activity = any_store.officer_activity([o1, o2], clock.now(), LIMITS)
    assert set(activity) == {o1, o2}
    mine = activity[o1]
    assert mine.last_push_at == clock.now()
    assert (mine.rejected, mine.last_rejected_code) == (1, "unknown_task")
    assert mine.last_rejected_at == clock.now()
    assert (mine.open_warnings, mine.overdue_warnings, mine.pending_uploads) == (2, 1, 1)
    assert activity[o2] == OfficerActivity(
        last_push_at=None,
        rejected=0,
        last_rejected_code=None,
        last_rejected_at=None,
        open_warnings=0,
        overdue_warnings=0,
        pending_uploads=0,
    )
    assert any_store.officer_activity([], clock.now(), LIMITS) == {}


def test_a_publicity_tasks_sessions_are_its_visit_log_with_reviews_oldest_first(
    any_store: Store, tiny: TinyCity, clock: ManualClock
) -> None:
    o1, o2 = tiny.id("o1"), tiny.id("o2")
    task = any_store.create_publicity_task(publicity_fields(tiny, "讲座"), [o1, o2], ACTOR)
    clock.advance(minutes=10)
    at = "2026-11-25T08:06:00+00:00"
    first = visit(
        task.id,
        kind="publicity",
        held_at=at,
        attendance=30,
        materials=[{"kind": "leaflet", "count": 50}],
        photos=[sha("talk")],
    )
    second = visit(task.id, kind="publicity", node="phone-o2", attendance=12, completed=True)
    push(any_store, o1, first)
    push(any_store, o2, second)
    second_id = second["entry"]["entry_id"]
    any_store.review_visit(second_id, "returned", [], "照片不清楚", Actor(user_id=tiny.id("sup1")))
    sessions = any_store.publicity_sessions(task.id)
    assert [(s.entry_id, s.officer_id, s.attendance, s.completed) for s in sessions] == [
        (first["entry"]["entry_id"], o1, 30, False),
        (second_id, o2, 12, True),
    ]
    assert sessions[0].held_at == datetime.fromisoformat(at)
    assert sessions[0].materials == [MaterialRecord(kind="leaflet", count=50)]
    assert (sessions[0].photos, sessions[0].received_at) == ([sha("talk")], clock.now())
    assert [(s.review_decision, s.review_note) for s in sessions] == [
        (None, None),
        ("returned", "照片不清楚"),
    ]
    assert any_store.publicity_sessions(task.id + 100) == []


def test_a_warnings_history_gathers_everything_recorded_about_it_oldest_first(
    any_store: Store, tiny: TinyCity, clock: ManualClock
) -> None:
    platform, o1, o2, sup1 = (tiny.id(n) for n in ("platform", "o1", "o2", "sup1"))
    made = any_store.ingest_warnings(
        [new_warning(platform, "A", o1), new_warning(platform, "B", o1)], Actor(user_id=platform)
    )
    warning, other = (w.id for w, _ in made)
    clock.advance(minutes=31)
    any_store.escalate(LIMITS, 60)  # both late: a step each
    first = visit(warning)
    push(any_store, o1, first)
    current = any_store.get_warning(warning)
    assert current is not None
    any_store.update_warning(
        warning, current.version, {"officer_id": o2}, "warning.reassign", Actor(user_id=sup1)
    )
    second = visit(warning, node="phone-o2", contact="phone", outcome="refused")
    [double] = push(any_store, o2, second)
    assert (double.status, double.rule) == ("conflict", "double_visit")
    history = any_store.warning_history(warning)
    assert history is not None
    assert history.warning == any_store.get_warning(warning)
    # Its own audit entries (the visits are on the chain in their pushes' entries).
    assert [e.action for e in history.audit] == [
        "warning.ingest",
        "warning.escalate",
        "warning.reassign",
    ]
    assert [v.entry_id for v in history.visits] == [
        first["entry"]["entry_id"],
        second["entry"]["entry_id"],
    ]
    assert [(c.id, c.rule) for c in history.conflicts] == [(double.conflict_id, "double_visit")]
    assert [(s.warning_id, s.kind, s.level) for s in history.escalations] == [
        (warning, "contact", "station")
    ]
    assert history.escalations[0].due_at == datetime(2026, 11, 25, 8, 30, tzinfo=UTC)
    assert history.outcomes
    assert {o.warning_id for o in history.outcomes} == {warning}
    assert (history.outcomes[0].payload.outcome, history.outcomes[0].client_id) == (
        "dissuaded",
        platform,
    )
    assert {platform, o1, o2, sup1} <= set(history.user_names)
    assert history.user_names[o1] == "张警官"
    assert any_store.warning_history(other + 100) is None

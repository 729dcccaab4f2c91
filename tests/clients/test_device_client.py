"""Stories with the reference DeviceClient as the phone: offline work, lost answers,
killed apps, tampered files, cut-off devices; nothing the officer recorded is lost and
nothing arrives twice."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
import msgspec
import pytest

from clients.device import (
    DeviceClient,
    DeviceWiped,
    ServerUnreachable,
    UnknownTask,
    UnsentRecords,
)
from clients.device.events import EventStreamParser, ServerSentEvent
from server.clock import ManualClock
from server.store.interface import Store
from server.store.sync_records import FieldSide
from tests.clients.conftest import Handset, deliver
from tests.sim.faults import Fault, Killed
from tests.sim.world import Api
from tests.support.city import PASSWORD, TinyCity

O1_GRID = "411602001001"
O3_GRID = "411602002001"


def visit_logs(store: Store, warning: int) -> list[str]:
    return [v.entry_id for v in store.visit_logs_for("warning", warning)]


def file_bytes(phone: Handset) -> bytes:
    return b"".join(
        p.read_bytes() for p in phone.db_path.parent.glob(phone.db_path.name + "*") if p.is_file()
    )


def test_an_officer_pulls_goes_offline_records_and_each_visit_arrives_once(
    api: Api, handset, store: Store
) -> None:
    first, second, _ = deliver(api, O1_GRID, O1_GRID, O3_GRID)
    phone = handset("o1")
    pulled = phone.app.pull()
    assert {t.id for t in phone.app.tasks()} == {first, second}
    assert pulled.checksum == phone.app.checksum()

    phone.net.offline = True  # in the village, no signal
    at_door = phone.app.record_visit(
        "warning",
        first,
        arrived_at="2026-11-25T09:20:00+08:00",
        contact="face_to_face",
        outcome="dissuaded",
        amount_prevented=100_000,
        photos=["ab" * 32],
    )
    by_phone = phone.app.record_visit("warning", second, contact="phone", outcome="not_reachable")
    phone.app.set_notes("warning", first, "daughter lives next door")
    with pytest.raises(ServerUnreachable):
        phone.app.push()
    assert phone.app.outbox_size() == 3
    shown = phone.app.task("warning", first)
    assert shown is not None
    assert [e.entry_id for e in shown.pending] == [at_door]
    assert shown.notes == "daughter lives next door"

    phone.net.offline = False
    pushed, pulled = phone.app.sync()
    assert (pushed.sent, pushed.applied) == (3, 3)
    assert visit_logs(store, first) == [at_door]
    assert visit_logs(store, second) == [by_phone]
    done = phone.app.task("warning", first)
    assert done is not None
    assert (done.task.state, done.pending) == ("completed", [])
    assert done.visits[0].amount_prevented == 100_000
    assert done.notes == "daughter lives next door"
    assert phone.app.checksum() == pulled.checksum
    assert phone.app.outbox_size() == 0


def test_killed_between_push_and_answer_the_replay_changes_nothing(
    api: Api, handset, store: Store
) -> None:
    [warning] = deliver(api, O1_GRID)
    phone = handset("o1")
    phone.app.pull()
    entries = [
        phone.app.record_visit("warning", warning, contact="face_to_face"),
        phone.app.record_visit("warning", warning, contact="face_to_face", outcome="refused"),
    ]
    phone.net.plan(Fault.KILL_AFTER, "/sync/push")
    with pytest.raises(Killed):
        phone.app.push()
    assert visit_logs(store, warning) == entries  # the server did its part
    seq = store.current_seq()

    app = phone.kill_and_restart()
    assert app.outbox_size() == 2  # the verdicts never came home, so they go again
    summary = app.push()
    assert (summary.sent, summary.applied) == (2, 2)
    assert store.current_seq() == seq
    assert visit_logs(store, warning) == entries


def test_lost_and_refused_answers_are_retried_with_backoff_and_get_the_first_verdict(
    api: Api, handset, store: Store
) -> None:
    [warning] = deliver(api, O1_GRID)
    phone = handset("o1")
    phone.app.pull()
    entry = phone.app.record_visit("warning", warning, contact="phone", outcome="refused")
    phone.net.plan(Fault.LOSE)  # processed, answer lost
    phone.net.plan(Fault.SERVER_DOWN)  # a proxy says 503, Retry-After: 1
    phone.net.plan(Fault.DUPLICATE)  # a retrying proxy delivers it twice
    summary = phone.app.push()
    assert (summary.applied, summary.conflicts, summary.rejected) == (1, 0, 0)
    assert visit_logs(store, warning) == [entry]
    assert len(phone.sleeps) == 2
    assert 0 <= phone.sleeps[0] <= 0.5  # full jitter under base * 2**0
    assert phone.sleeps[1] == 1.0  # the server's Retry-After, not the jitter, decides


def test_a_phone_that_never_gets_through_gives_up_in_bounded_time_and_keeps_everything(
    api: Api, handset
) -> None:
    [warning] = deliver(api, O1_GRID)
    phone = handset("o1")
    phone.app.pull()
    phone.app.record_visit("warning", warning, contact="face_to_face")
    phone.net.offline = True
    with pytest.raises(ServerUnreachable):
        phone.app.sync()
    assert len(phone.sleeps) == 3  # four attempts
    for retry, slept in enumerate(phone.sleeps):
        assert 0 <= slept <= 0.5 * 2**retry
    assert phone.app.outbox_size() == 1


def test_a_kill_during_a_pull_never_leaves_half_a_page(api: Api, handset, store: Store) -> None:
    for hour in range(5):
        deliver(api, O1_GRID, deadline_at=f"2026-11-25T1{hour}:00:00+08:00")
    phone = handset("o1", page_size=2)
    phone.net.plan(Fault.KILL_AFTER, "/sync/pull", skip=1)  # the second page dies
    with pytest.raises(Killed):
        phone.app.pull()
    app = phone.kill_and_restart()
    # Only the first page, the two most urgent, with the cursor that follows it.
    assert [t.task.deadline_at.hour for t in app.tasks()] == [2, 3]
    summary = app.pull()
    assert (len(app.tasks()), summary.resyncs) == (5, 0)
    assert summary.checksum == app.checksum()


def test_a_tampered_file_is_caught_by_the_checksum_and_replaced_from_the_server(
    api: Api, handset
) -> None:
    first, second = deliver(api, O1_GRID, O1_GRID)
    phone = handset("o1")
    phone.app.pull()
    honest = {(t.id, t.version) for t in phone.app.tasks()}
    with phone.app.local.atomic():
        phone.app.local.db.execute("UPDATE tasks SET version = 99 WHERE id = ?", (first,))
        phone.app.local.db.execute(
            "INSERT INTO tasks (kind, id, version, task, visits)"
            " SELECT kind, 777, version, task, visits FROM tasks WHERE id = ?",
            (second,),
        )
    summary = phone.app.pull()
    assert summary.resyncs == 1
    assert {(t.id, t.version) for t in phone.app.tasks()} == honest
    assert summary.checksum == phone.app.checksum()


def test_a_cursor_older_than_the_servers_log_resyncs_from_zero(
    api: Api, handset, store: Store, clock: ManualClock
) -> None:
    deliver(api, O1_GRID)
    phone = handset("o1")
    phone.app.pull()
    deliver(api, O1_GRID)
    clock.advance(seconds=1)
    store.compact_changes(clock.now())  # everything before now is forgotten
    summary = phone.app.pull()
    assert (summary.resyncs, len(phone.app.tasks())) == (1, 2)
    assert summary.checksum == phone.app.checksum()


def test_a_revoked_phone_wipes_everything_it_holds(api: Api, handset, city: TinyCity) -> None:
    [warning] = deliver(api, O1_GRID)
    phone = handset("o1", device_id="lost-phone")
    phone.app.pull()
    task = phone.app.task("warning", warning)
    assert task is not None
    resident = task.task.resident_phone.encode()  # type: ignore[union-attr]
    phone.app.record_visit("warning", warning, contact="face_to_face")
    devices = api.call("sup1", "GET", "/api/v1/devices/", params={"user_id": city.id("o1")})
    [lost] = [d for d in devices.json() if d["device_id"] == "lost-phone"]
    assert api.call("sup1", "POST", f"/api/v1/devices/{lost['id']}/revoke").status_code == 200

    with pytest.raises(DeviceWiped) as wiped:
        phone.app.sync()
    assert wiped.value.code == "device_revoked"
    assert phone.app.local.counts() == {"tasks": 0, "outbox": 0, "recorded": 0, "rejected": 0}
    assert phone.app.local.access_token() is None
    assert phone.app.user is None
    assert resident not in file_bytes(phone)
    with pytest.raises(DeviceWiped):
        phone.app.login("o1", PASSWORD)


def test_an_expired_access_token_is_refreshed_once_and_the_request_retried(
    api: Api, handset, clock: ManualClock
) -> None:
    phone = handset("o1")
    phone.app.pull()
    refresh_before = phone.app.local.refresh_token()
    clock.advance(minutes=16)  # access tokens live 15
    deliver(api, O1_GRID)
    phone.net.requests.clear()
    summary = phone.app.pull()
    assert summary.upserts == 1
    assert phone.net.requests == [
        ("GET", "/api/v1/sync/pull"),  # 401 token_expired
        ("POST", "/api/v1/auth/refresh"),
        ("GET", "/api/v1/sync/pull"),
    ]
    assert phone.app.local.refresh_token() != refresh_before  # kept: the old one is spent
    phone.net.requests.clear()
    phone.app.pull()
    assert phone.net.requests == [("GET", "/api/v1/sync/pull")]


def test_a_lost_answer_to_a_refresh_does_not_cost_the_officer_their_records(
    api: Api, handset, clock: ManualClock, store: Store
) -> None:
    [warning] = deliver(api, O1_GRID)
    phone = handset("o1")
    phone.app.pull()
    entry = phone.app.record_visit("warning", warning, contact="face_to_face", outcome="dissuaded")
    clock.advance(minutes=16)
    phone.net.plan(Fault.LOSE, "/auth/refresh")
    phone.app.push()
    assert visit_logs(store, warning) == [entry]


def test_a_removed_task_leaves_the_phone_with_its_resident_but_not_the_officers_record(
    api: Api, handset, city: TinyCity, store: Store
) -> None:
    [warning] = deliver(api, O1_GRID)
    phone = handset("o1")
    phone.app.pull()
    task = phone.app.task("warning", warning)
    assert task is not None
    resident = task.task.resident_phone.encode()  # type: ignore[union-attr]
    assert resident in file_bytes(phone)
    phone.net.offline = True
    entry = phone.app.record_visit("warning", warning, contact="face_to_face", outcome="dissuaded")
    phone.net.offline = False
    moved = api.call(
        "sup1", "POST", f"/api/v1/warnings/{warning}/reassign", json={"officer_id": city.id("o2")}
    )
    assert moved.status_code == 200

    summary = phone.app.pull()  # pulled before pushing: the task goes, the record stays
    assert summary.removes == 1
    assert phone.app.task("warning", warning) is None
    assert resident not in file_bytes(phone)
    assert phone.app.outbox_size() == 1

    pushed, _ = phone.app.sync()
    assert pushed.conflicts == 1  # visit_after_reassign: the visit stands
    assert visit_logs(store, warning) == [entry]
    back = phone.app.task("warning", warning)  # the officer recorded on it: in scope again
    assert back is not None
    assert back.task.state == "completed"
    [note] = phone.app.conflicts()
    assert store.get_conflict(note.conflict_id).rule == "visit_after_reassign"  # type: ignore[union-attr]


def test_a_refused_mutation_leaves_the_outbox_and_is_kept_for_the_officer(
    api: Api, handset, store: Store
) -> None:
    mine, not_mine = deliver(api, O1_GRID, O3_GRID)
    phone = handset("o1")
    phone.app.pull()
    with pytest.raises(UnknownTask):
        phone.app.record_visit("warning", not_mine, contact="phone")
    # A restored backup shows a task this officer never had.
    with phone.app.local.atomic():
        phone.app.local.db.execute(
            "INSERT INTO tasks (kind, id, version, task, visits)"
            " SELECT kind, ?, version, task, visits FROM tasks WHERE id = ?",
            (not_mine, mine),
        )
    phone.app.record_visit("warning", not_mine, contact="phone", notes="wrong door")
    after = phone.app.record_visit("warning", mine, contact="face_to_face")
    summary = phone.app.push()
    assert (summary.rejected, summary.applied) == (1, 1)
    assert phone.app.outbox_size() == 0
    [refused] = phone.app.rejected()
    assert (refused.task_id, refused.code, refused.field) == (not_mine, "not_assigned", "task_id")
    assert refused.mutation.entry.notes == "wrong door"  # type: ignore[union-attr]
    assert visit_logs(store, mine) == [after]  # the bad one blocked nothing
    [kept] = store.list_rejected_mutations("station_id", "411602-01")
    assert kept.mutation_id == refused.mutation_id


class _NewerServer(httpx.BaseTransport):
    """A server one version ahead: its pulls carry a change type this app never heard of."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if not request.url.path.endswith("/sync/pull") or response.status_code != 200:
            return response
        page = msgspec.json.decode(response.read())
        page["changes"].insert(0, {"type": "archive", "seq": 1, "kind": "warning", "id": 1})
        return httpx.Response(200, json=page, request=request)


def test_a_change_of_a_type_this_app_does_not_know_is_skipped(
    api: Api, handset, tmp_path: Path
) -> None:
    deliver(api, O1_GRID)
    phone = handset("o1")
    phone.app.close()
    app = DeviceClient(
        "http://beatsync.test",
        phone.db_path,
        phone.device_id,
        transport=_NewerServer(phone.net),
    )
    phone.app = app
    summary = app.pull()
    assert (summary.ignored, summary.upserts, summary.resyncs) == (1, 1, 0)
    assert summary.checksum == app.checksum()


def test_notes_edited_on_two_devices_conflict_only_when_neither_saw_the_other(
    api: Api, handset, clock: ManualClock, store: Store
) -> None:
    [warning] = deliver(api, O1_GRID)
    phone = handset("o1", device_id="o1-phone")
    tablet = handset("o1", device_id="o1-tablet")
    phone.app.pull()
    tablet.app.pull()
    # Two edits in a row on one device: the second is made on top of the first.
    phone.app.set_notes("warning", warning, "resident works nights")
    phone.app.set_notes("warning", warning, "resident works nights; call after 8")
    assert phone.app.push().applied == 2
    clock.advance(minutes=1)
    # The tablet never saw those: a concurrent edit, later by HLC, so it wins.
    tablet.app.set_notes("warning", warning, "call the daughter first")
    pushed = tablet.app.push()
    assert pushed.conflicts == 1
    [note] = tablet.app.conflicts()
    conflict = store.get_conflict(note.conflict_id)
    assert conflict is not None
    assert conflict.rule == "concurrent_edit"
    assert isinstance(conflict.winner, FieldSide)
    assert isinstance(conflict.loser, FieldSide)
    assert conflict.winner.value == "call the daughter first"
    assert conflict.loser.value == "resident works nights; call after 8"
    # Having seen the winner, the tablet's next edit is an ordinary change.
    tablet.app.pull()
    tablet.app.set_notes("warning", warning, "both: daughter, after 8")
    assert tablet.app.push().applied == 1
    phone.app.pull()
    shown = phone.app.task("warning", warning)
    assert shown is not None
    assert shown.notes == "both: daughter, after 8"


def test_another_officer_cannot_sign_in_over_unsent_records(api: Api, handset) -> None:
    [warning] = deliver(api, O1_GRID)
    phone = handset("o1", device_id="shared-phone")
    phone.app.pull()
    phone.app.record_visit("warning", warning, contact="face_to_face")
    with pytest.raises(UnsentRecords):
        phone.app.login("o2", PASSWORD)
    phone.app.push()
    phone.app.login("o2", PASSWORD)  # now clean: o1's tasks leave with o1
    assert phone.app.tasks() == []
    assert phone.app.user is not None
    assert phone.app.user["login"] == "o2"


def test_a_device_never_waits_without_a_limit(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="timeout"):
        DeviceClient("http://x", tmp_path / "p.db", "phone-1", timeout=0)
    phone = DeviceClient("http://x", tmp_path / "p.db", "phone-1")
    try:
        assert phone.http.timeout.read == 10.0
    finally:
        phone.close()
    with pytest.raises(ValueError, match="belongs to device"):
        DeviceClient("http://x", tmp_path / "p.db", "phone-2")


def test_the_event_stream_parser_reads_what_the_server_writes() -> None:
    parser = EventStreamParser()
    lines = [
        "retry: 3000",
        "",
        ": ping",
        "",
        "id: 42",
        "event: scope_changed",
        'data: {"seq": 42}',
        "",
        "data: line one",
        "data:line two",
        "",
    ]
    events = [e for e in map(parser.feed, lines) if e is not None]
    assert parser.retry_ms == 3000
    assert events == [
        ServerSentEvent(event="scope_changed", data='{"seq": 42}', id="42"),
        ServerSentEvent(event="message", data="line one\nline two", id="42"),
    ]


def test_the_sdk_sees_a_wrong_clock_only_through_its_hlc(
    api: Api, handset, clock: ManualClock, store: Store
) -> None:
    [warning] = deliver(api, O1_GRID)
    fast = handset("o1", device_id="fast-phone", skew_s=6 * 3600)
    fast.app.pull()
    fast.app.record_visit("warning", warning, contact="face_to_face", outcome="dissuaded")
    fast.app.push()
    [log] = store.visit_logs_for("warning", warning)
    assert "clock_skew" in log.flags
    # Merged with the server's clock on every answer, the HLC only ever moves forward.
    before = fast.app.local.hlc()
    clock.advance(seconds=1)
    fast.app.pull()
    assert fast.app.local.hlc() >= before
    # recorded_at keeps the phone's own (wrong) clock; received_at is the server's.
    ahead = log.recorded_at - log.received_at
    assert timedelta(hours=5, minutes=59) < ahead <= timedelta(hours=6)


def test_a_fast_phone_builds_on_the_servers_clock_once_it_has_pulled(
    api: Api, handset, store: Store
) -> None:
    [warning] = deliver(api, O1_GRID)
    fast = handset("o1", device_id="fast-phone", skew_s=3 * 3600)
    fast.app.pull()
    fast.app.set_notes("warning", warning, "dog at the gate")
    assert fast.app.push().applied == 1
    # The server ordered that edit by its own clock, not the phone's; the pull shows it.
    fast.app.pull()
    fast.app.set_notes("warning", warning, "dog at the gate; bring treats")
    pushed = fast.app.push()
    assert (pushed.applied, pushed.conflicts) == (1, 0)


def test_a_fast_phones_second_edit_before_any_pull_is_no_conflict(api: Api, handset) -> None:
    [warning] = deliver(api, O1_GRID)
    fast = handset("o1", device_id="fast-phone", skew_s=3 * 3600)
    fast.app.pull()
    fast.app.set_notes("warning", warning, "dog at the gate")
    fast.app.push()
    fast.app.set_notes("warning", warning, "dog at the gate; bring treats")
    assert fast.app.push().conflicts == 0

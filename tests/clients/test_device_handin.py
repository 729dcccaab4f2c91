"""An officer's phone is cut off (revoked, or the officer disabled) while visits wait in
its outbox: the reference client hands them in under the token the `401` carries, then
wipes. A network that fails half way leaves the records on the phone for the next contact;
a phone killed half way hands in again, and nothing arrives twice.
(sync/PROTOCOL.md, Being cut off.)"""

from __future__ import annotations

import pytest

from clients.device import DeviceWiped, ServerUnreachable
from server.clock import ManualClock
from server.store.interface import Store
from tests.clients.conftest import Handset, deliver
from tests.sim.faults import Fault, Killed
from tests.sim.world import Api
from tests.support.city import TinyCity

O1_GRID = "411602001001"


def revoke(api: Api, city: TinyCity, device_id: str) -> None:
    devices = api.call("sup1", "GET", "/api/v1/devices/", params={"user_id": city.id("o1")})
    [device] = [d for d in devices.json() if d["device_id"] == device_id]
    assert api.call("sup1", "POST", f"/api/v1/devices/{device['id']}/revoke").status_code == 200


def flags(store: Store, warning: int) -> dict[str, list[str]]:
    return {v.entry_id: v.flags for v in store.visit_logs_for("warning", warning)}


def wiped_clean(phone: Handset) -> bool:
    counts = phone.app.local.counts()
    return counts == dict.fromkeys(counts, 0) and phone.app.local.access_token() is None


def test_a_revoked_phone_hands_in_what_it_recorded_before_then_wipes(
    api: Api, handset, city: TinyCity, store: Store, clock: ManualClock
) -> None:
    first, second = deliver(api, O1_GRID, O1_GRID)
    phone = handset("o1", device_id="o1-phone")
    phone.app.pull()
    phone.net.offline = True  # in the village, no signal
    before = [
        phone.app.record_visit("warning", first, contact="face_to_face", outcome="dissuaded"),
        phone.app.record_visit("warning", second, contact="phone"),
    ]
    clock.advance(minutes=5)
    revoke(api, city, "o1-phone")  # the phone does not know yet
    clock.advance(minutes=30)
    after = phone.app.record_visit("warning", second, contact="face_to_face", outcome="refused")
    phone.app.set_notes("warning", first, "written after the revocation")
    clock.advance(hours=1)

    phone.net.offline = False
    with pytest.raises(DeviceWiped) as wiped:
        phone.app.sync()
    assert (wiped.value.code, wiped.value.handed_in) == ("device_revoked", 4)
    assert wiped_clean(phone)

    assert flags(store, first) == {before[0]: ["handed_in_at_revocation"]}
    assert flags(store, second) == {before[1]: ["handed_in_at_revocation"]}
    kept = store.list_rejected_mutations("station_id", "411602-01")
    assert sorted(k.code for k in kept) == ["recorded_after_revocation"] * 2
    assert after in " ".join(k.body for k in kept)


def test_a_hand_in_the_network_cuts_short_keeps_the_records_for_the_next_contact(
    api: Api, handset, city: TinyCity, store: Store, clock: ManualClock
) -> None:
    [warning] = deliver(api, O1_GRID)
    phone = handset("o1", device_id="o1-phone")
    phone.app.pull()
    entry = phone.app.record_visit("warning", warning, contact="face_to_face")
    revoke(api, city, "o1-phone")
    # The push that learns of the revocation arrives; every try of the hand-in is lost.
    phone.net.plan(Fault.OFFLINE, skip=1)
    phone.net.plan(Fault.OFFLINE, times=3)
    with pytest.raises(ServerUnreachable):
        phone.app.sync()
    assert phone.app.outbox_size() == 1  # nothing wiped before it was handed in

    clock.advance(minutes=3)
    with pytest.raises(DeviceWiped) as wiped:
        phone.app.sync()
    assert wiped.value.handed_in == 1
    assert wiped_clean(phone)
    assert flags(store, warning) == {entry: ["handed_in_at_revocation"]}


def test_a_phone_killed_while_handing_in_hands_in_again_and_nothing_arrives_twice(
    api: Api, handset, city: TinyCity, store: Store
) -> None:
    [warning] = deliver(api, O1_GRID)
    phone = handset("o1", device_id="o1-phone", batch_size=1)
    phone.app.pull()
    entries = [
        phone.app.record_visit("warning", warning, contact="phone"),
        phone.app.record_visit("warning", warning, contact="face_to_face"),
    ]
    revoke(api, city, "o1-phone")
    phone.net.plan(Fault.KILL_AFTER, skip=2)  # after the first batch of the hand-in landed
    with pytest.raises(Killed):
        phone.app.sync()
    phone.kill_and_restart()
    with pytest.raises(DeviceWiped):
        phone.app.sync()
    assert wiped_clean(phone)
    assert sorted(flags(store, warning)) == sorted(entries)


def test_a_disabled_officers_phone_hands_in_too(
    api: Api, handset, city: TinyCity, store: Store
) -> None:
    [warning] = deliver(api, O1_GRID)
    phone = handset("o1", device_id="o1-phone")
    phone.app.pull()
    entry = phone.app.record_visit("warning", warning, contact="face_to_face", outcome="dissuaded")
    disabled = api.call("admin", "PATCH", f"/api/v1/users/{city.id('o1')}", json={"active": False})
    assert disabled.status_code == 200
    with pytest.raises(DeviceWiped) as wiped:
        phone.app.sync()
    assert (wiped.value.code, wiped.value.handed_in) == ("user_disabled", 1)
    # The warning went back to the station queue with o1 disabled: the visit stands.
    assert flags(store, warning) == {entry: ["visit_after_reassign", "handed_in_at_revocation"]}

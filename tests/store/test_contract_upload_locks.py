"""The store contract, upload locks: what keeps two requests, of any processes or nodes
sharing the store, from writing one upload at once (server/uploads/service.py). A lock is
a lease held by a named holder until the store's clock reads its end; the sweeps leave
alone what a lock holds. Through the interface alone, on every implementation
(tests/store/conftest.py)."""

from __future__ import annotations

from datetime import timedelta

from server.clock import ManualClock
from server.store.interface import Store
from server.store.records import Actor
from server.store.upload_records import PhotoRecord, UploadRecord, UploadState
from tests.support.city import TinyCity
from tests.support.contract import sha

LEASE = timedelta(seconds=60)


def an_upload(store: Store, tiny: TinyCity, upload_id: str, photo: str = "door") -> UploadRecord:
    now = store.clock.now()
    upload = UploadRecord(
        id=upload_id,
        user_id=tiny.id("o1"),
        device_id="phone-o1",
        length=1000,
        received=0,
        sha256=sha(photo),
        metadata="",
        filename=None,
        filetype=None,
        media_type=None,
        state=UploadState.OPEN,
        created_at=now,
        updated_at=now,
        expires_at=now + timedelta(days=7),
        city_id="411600",
        county_id="411602",
        station_id="411602-01",
    )
    created = store.create_upload(upload, max_open=10)
    assert created is not None
    assert created.state == UploadState.OPEN
    return created


def test_an_upload_is_locked_by_one_holder_at_a_time_until_its_lease_passes(
    any_store: Store, tiny: TinyCity, clock: ManualClock
) -> None:
    an_upload(any_store, tiny, "upload-lock-0001")
    locked = any_store.lock_upload("upload-lock-0001", "host-a:1:aa:1", LEASE)
    assert locked is not None
    assert (locked.id, locked.received, locked.state) == ("upload-lock-0001", 0, "open")
    assert locked.lock_holder == "host-a:1:aa:1"
    assert locked.lock_until == clock.now() + LEASE
    # Nobody else while the lease runs, the holder itself not again (a take is not a
    # renewal), and the lock is what anyone reads.
    assert any_store.lock_upload("upload-lock-0001", "host-b:2:bb:1", LEASE) is None
    assert any_store.lock_upload("upload-lock-0001", "host-a:1:aa:1", LEASE) is None
    clock.advance(seconds=59)
    assert any_store.lock_upload("upload-lock-0001", "host-b:2:bb:1", LEASE) is None
    read = any_store.get_upload("upload-lock-0001")
    assert read is not None
    assert (read.lock_holder, read.lock_until) == ("host-a:1:aa:1", locked.lock_until)
    # Its holder died (no unlock): once the lease has passed, the next holder takes it.
    clock.advance(seconds=1)
    taken = any_store.lock_upload("upload-lock-0001", "host-b:2:bb:1", LEASE)
    assert taken is not None
    assert (taken.lock_holder, taken.lock_until) == ("host-b:2:bb:1", clock.now() + LEASE)


def test_a_lock_is_freed_by_its_holder_alone_and_then_free_at_once(
    any_store: Store, tiny: TinyCity
) -> None:
    an_upload(any_store, tiny, "upload-lock-0002")
    assert any_store.lock_upload("upload-lock-0002", "a", LEASE) is not None
    any_store.unlock_upload("upload-lock-0002", "b")  # not b's: nothing happens
    assert any_store.lock_upload("upload-lock-0002", "b", LEASE) is None
    any_store.unlock_upload("upload-lock-0002", "a")
    read = any_store.get_upload("upload-lock-0002")
    assert read is not None
    assert (read.lock_holder, read.lock_until) == (None, None)
    assert any_store.lock_upload("upload-lock-0002", "b", LEASE) is not None
    any_store.unlock_upload("no-such-upload-0000", "b")  # nothing to free: no error


def test_a_renewal_holds_on_only_while_nobody_took_the_lock(
    any_store: Store, tiny: TinyCity, clock: ManualClock
) -> None:
    an_upload(any_store, tiny, "upload-lock-0003")
    assert any_store.lock_upload("upload-lock-0003", "a", LEASE) is not None
    clock.advance(seconds=50)
    assert any_store.renew_upload_lock("upload-lock-0003", "a", LEASE)
    assert not any_store.renew_upload_lock("upload-lock-0003", "b", LEASE)
    clock.advance(seconds=50)  # 100 s after the take: held still, thanks to the renewal
    assert any_store.lock_upload("upload-lock-0003", "b", LEASE) is None
    read = any_store.get_upload("upload-lock-0003")
    assert read is not None
    assert read.lock_until == clock.now() + timedelta(seconds=10)
    # Past its lease with nobody come: nothing else wrote, so the holder may go on.
    clock.advance(seconds=30)
    assert any_store.renew_upload_lock("upload-lock-0003", "a", LEASE)
    # Past its lease and taken by another: lost for good, even once the other is done.
    clock.advance(seconds=61)
    assert any_store.lock_upload("upload-lock-0003", "b", LEASE) is not None
    assert not any_store.renew_upload_lock("upload-lock-0003", "a", LEASE)
    any_store.unlock_upload("upload-lock-0003", "b")
    assert not any_store.renew_upload_lock("upload-lock-0003", "a", LEASE)
    assert not any_store.renew_upload_lock("no-such-upload-0000", "a", LEASE)


def test_each_step_records_the_holder_that_wrote_it(
    any_store: Store, tiny: TinyCity, clock: ManualClock
) -> None:
    an_upload(any_store, tiny, "upload-lock-0004")
    expires = clock.now() + timedelta(days=7)
    locked = any_store.lock_upload("upload-lock-0004", "a", LEASE)
    assert locked is not None
    assert locked.written_by is None
    assert any_store.advance_upload("upload-lock-0004", 0, 400, expires, "image/jpeg")
    any_store.unlock_upload("upload-lock-0004", "a")
    read = any_store.get_upload("upload-lock-0004")
    assert read is not None
    assert (read.received, read.written_by, read.lock_holder) == (400, "a", None)
    locked = any_store.lock_upload("upload-lock-0004", "b", LEASE)
    assert locked is not None
    assert (locked.received, locked.written_by) == (400, "a")
    assert any_store.advance_upload("upload-lock-0004", 400, 300, expires, None)  # a rewind
    any_store.unlock_upload("upload-lock-0004", "b")
    # A step without a lock leaves no writer to trust.
    assert any_store.advance_upload("upload-lock-0004", 300, 500, expires, None)
    read = any_store.get_upload("upload-lock-0004")
    assert read is not None
    assert (read.received, read.written_by) == (500, None)


def test_a_complete_upload_or_none_is_never_locked(any_store: Store, tiny: TinyCity) -> None:
    an_upload(any_store, tiny, "upload-lock-0005")
    photo = PhotoRecord(
        sha256=sha("door"),
        size=1000,
        media_type="image/jpeg",
        uploaded_by=tiny.id("o1"),
        received_at=any_store.clock.now(),
    )
    any_store.complete_upload("upload-lock-0005", photo, Actor(user_id=tiny.id("o1")))
    assert any_store.lock_upload("upload-lock-0005", "a", LEASE) is None
    assert any_store.lock_upload("no-such-upload-0000", "a", LEASE) is None


def test_the_sweep_is_not_shown_an_expired_upload_a_lock_holds(
    any_store: Store, tiny: TinyCity, clock: ManualClock
) -> None:
    an_upload(any_store, tiny, "upload-lock-0006")
    an_upload(any_store, tiny, "upload-lock-0007", "window")
    clock.advance(days=7, seconds=1)
    # A request that began before the expiry holds one of them still.
    assert any_store.lock_upload("upload-lock-0006", "a", LEASE) is not None
    now = clock.now()
    assert [u.id for u in any_store.expired_uploads(now)] == ["upload-lock-0007"]
    any_store.unlock_upload("upload-lock-0006", "a")
    assert {u.id for u in any_store.expired_uploads(now)} == {
        "upload-lock-0006",
        "upload-lock-0007",
    }
    # A lock whose holder died holds nothing once its lease has passed.
    assert any_store.lock_upload("upload-lock-0006", "b", LEASE) is not None
    assert len(any_store.expired_uploads(clock.advance(seconds=60))) == 2


def test_a_photo_stays_while_an_upload_of_it_is_locked(
    any_store: Store, tiny: TinyCity, clock: ManualClock
) -> None:
    """A request completing an upload of a stored photo may be storing its bytes again
    this moment, in any process: the photo sweep leaves the photo alone meanwhile."""
    an_upload(any_store, tiny, "upload-lock-0008")
    an_upload(any_store, tiny, "upload-lock-0009")  # the same photo, sent again
    photo = PhotoRecord(
        sha256=sha("door"),
        size=1000,
        media_type="image/jpeg",
        uploaded_by=tiny.id("o1"),
        received_at=clock.now(),
    )
    any_store.complete_upload("upload-lock-0008", photo, Actor(user_id=tiny.id("o1")))
    clock.advance(days=8)
    assert any_store.unclaimed_photos(clock.now()) == [sha("door")]
    assert any_store.lock_upload("upload-lock-0009", "a", LEASE) is not None
    assert any_store.remove_unclaimed_photo(sha("door"), clock.now()) is False
    assert any_store.get_photo(sha("door")) is not None
    clock.advance(seconds=60)  # its holder died: the lease passed
    assert any_store.remove_unclaimed_photo(sha("door"), clock.now()) is True
    assert any_store.get_photo(sha("door")) is None

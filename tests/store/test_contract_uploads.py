"""The store contract, photos: tus uploads in progress, stored photos and their senders,
who may see them, the photos a task's visits name, and the sweep of what nobody claimed
(the fixtures: tests/store/conftest.py; upload locks: test_contract_upload_locks.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from server.clock import ManualClock
from server.store.interface import Store
from server.store.records import Actor, Jurisdiction
from server.store.upload_records import PhotoRecord, UploadRecord, UploadState
from tests.support.city import TinyCity, new_warning
from tests.support.contract import ACTOR, push, sha
from tests.support.sync import visit

SIZE = 1000


def an_upload(
    store: Store,
    upload_id: str,
    user: int,
    photo: str,
    *,
    length: int = SIZE,
    expires_in: timedelta = timedelta(days=1),
) -> UploadRecord:
    """An upload of photo `photo` by a user of 城区派出所, as UploadService.create makes it."""
    now = store.clock.now()
    return UploadRecord(
        id=upload_id,
        user_id=user,
        device_id=f"phone-{user}",
        length=length,
        received=0,
        sha256=sha(photo),
        metadata=f"filename {photo}.jpg",
        filename=f"{photo}.jpg",
        filetype="image/jpeg",
        media_type=None,
        state=UploadState.OPEN,
        created_at=now,
        updated_at=now,
        expires_at=now + expires_in,
        city_id="411600",
        county_id="411602",
        station_id="411602-01",
    )


def a_photo(store: Store, photo: str, user: int) -> PhotoRecord:
    """The photo's facts as UploadService reads them from its bytes, received now."""
    return PhotoRecord(
        sha256=sha(photo),
        size=SIZE,
        media_type="image/jpeg",
        width=640,
        height=480,
        taken_at="2026-11-25T09:20:00+08:00",
        lat=33.62,
        lon=114.65,
        uploaded_by=user,
        received_at=store.clock.now(),
    )


def stored(store: Store, upload_id: str, user: int, photo: str) -> PhotoRecord:
    """A photo sent whole by `user`: its upload created and completed."""
    assert store.create_upload(an_upload(store, upload_id, user, photo), max_open=10)
    return store.complete_upload(upload_id, a_photo(store, photo, user), Actor(user_id=user))


# -- uploads -----------------------------------------------------------------------------


def test_an_upload_is_created_open_and_refused_past_its_users_quota(
    any_store: Store, tiny: TinyCity, clock: ManualClock
) -> None:
    o1, o2 = tiny.id("o1"), tiny.id("o2")
    first = any_store.create_upload(an_upload(any_store, "u1", o1, "a"), max_open=2)
    assert first is not None
    assert (first.state, first.received, first.written_by) == (UploadState.OPEN, 0, None)
    assert any_store.get_upload("u1") == first
    assert any_store.create_upload(an_upload(any_store, "u2", o1, "b"), max_open=2)
    # Two unfinished held already: a third waits.
    assert any_store.create_upload(an_upload(any_store, "u3", o1, "c"), max_open=2) is None
    assert any_store.get_upload("u3") is None
    # Another user's quota is their own.
    assert any_store.create_upload(an_upload(any_store, "u4", o2, "c"), max_open=2)
    # An upload past its expiry holds no place.
    clock.advance(days=1, seconds=1)
    assert any_store.create_upload(an_upload(any_store, "u3", o1, "c"), max_open=2)
    assert any_store.get_upload("no-such-upload") is None


def test_an_upload_moves_on_only_from_where_it_stands(
    any_store: Store, tiny: TinyCity, clock: ManualClock
) -> None:
    any_store.create_upload(an_upload(any_store, "u1", tiny.id("o1"), "a"), max_open=10)
    later = clock.now() + timedelta(days=2)
    clock.advance(minutes=1)
    assert any_store.advance_upload("u1", 0, 400, later, "image/jpeg")
    upload = any_store.get_upload("u1")
    assert upload is not None
    assert (upload.received, upload.media_type, upload.expires_at, upload.updated_at) == (
        400,
        "image/jpeg",
        later,
        clock.now(),
    )
    # Another request moved it meanwhile: this one's step is refused.
    assert not any_store.advance_upload("u1", 0, 800, later, None)
    assert any_store.advance_upload("u1", 400, 800, later, None)
    upload = any_store.get_upload("u1")
    assert upload is not None
    assert (upload.received, upload.media_type) == (800, "image/jpeg")  # kept once known
    assert not any_store.advance_upload("no-such-upload", 0, 10, later, None)
    # The bytes did not hash to the declared sha256: it is failed, and moves no more.
    any_store.fail_upload("u1")
    failed = any_store.get_upload("u1")
    assert failed is not None
    assert failed.state == UploadState.FAILED
    assert not any_store.advance_upload("u1", 800, SIZE, later, None)


def test_completing_an_upload_keeps_the_photo_once_and_each_of_its_senders(
    any_store: Store, tiny: TinyCity, clock: ManualClock
) -> None:
    o1, o2 = tiny.id("o1"), tiny.id("o2")
    any_store.create_upload(an_upload(any_store, "u1", o1, "door"), max_open=10)
    any_store.create_upload(an_upload(any_store, "u2", o2, "door"), max_open=10)
    assert any_store.get_photo(sha("door")) is None
    clock.advance(minutes=1)
    photo = a_photo(any_store, "door", o1)
    assert any_store.complete_upload("u1", photo, Actor(user_id=o1)) == photo
    assert any_store.get_photo(sha("door")) == photo
    done = any_store.get_upload("u1")
    assert done is not None
    assert (done.state, done.received, done.media_type) == (
        UploadState.COMPLETE,
        SIZE,
        "image/jpeg",
    )
    # The same bytes again from o2: the photo stored first stays, o2 is a sender too.
    clock.advance(minutes=1)
    again = any_store.complete_upload("u2", a_photo(any_store, "door", o2), Actor(user_id=o2))
    assert again == photo
    assert any_store.photo_visible_to(sha("door"), Jurisdiction(column="officer_id", value=o2))
    [entry] = any_store.list_audit(entity="photo", entity_id=sha("door"))
    assert (entry.action, entry.actor_user_id, entry.station_id) == (
        "photo.receive",
        o1,
        "411602-01",
    )


def test_an_upload_of_a_photo_stored_already_is_complete_at_once(
    any_store: Store, tiny: TinyCity
) -> None:
    o1, o2 = tiny.id("o1"), tiny.id("o2")
    stored(any_store, "u1", o1, "door")
    upload = any_store.create_upload(an_upload(any_store, "u2", o2, "door"), max_open=10)
    assert upload is not None
    assert (upload.state, upload.received, upload.media_type) == (
        UploadState.COMPLETE,
        SIZE,
        "image/jpeg",
    )
    assert any_store.get_upload("u2") == upload
    assert any_store.photo_visible_to(sha("door"), Jurisdiction(column="officer_id", value=o2))
    # Another length is other bytes: they must travel.
    other = any_store.create_upload(
        an_upload(any_store, "u3", o2, "door", length=SIZE + 1), max_open=10
    )
    assert other is not None
    assert other.state == UploadState.OPEN


def test_an_unfinished_upload_may_be_deleted_but_a_complete_one_stays(
    any_store: Store, tiny: TinyCity
) -> None:
    o1 = tiny.id("o1")
    any_store.create_upload(an_upload(any_store, "open", o1, "a"), max_open=10)
    any_store.create_upload(an_upload(any_store, "failed", o1, "b"), max_open=10)
    any_store.fail_upload("failed")
    stored(any_store, "complete", o1, "c")
    assert any_store.delete_upload("open")
    assert any_store.get_upload("open") is None
    assert not any_store.delete_upload("open")
    assert any_store.delete_upload("failed")
    assert not any_store.delete_upload("complete")  # a stored photo is evidence
    assert any_store.get_upload("complete") is not None


def test_expired_uploads_are_found_oldest_first_and_forgotten_together(
    any_store: Store, tiny: TinyCity, clock: ManualClock
) -> None:
    o1 = tiny.id("o1")
    for upload_id, minutes in (("u1", 10), ("u2", 5), ("u3", 60 * 24), ("u4", 20)):
        upload = an_upload(
            any_store, upload_id, o1, upload_id, expires_in=timedelta(minutes=minutes)
        )
        any_store.create_upload(upload, max_open=10)
    any_store.fail_upload("u4")
    any_store.create_upload(
        an_upload(any_store, "u5", o1, "u5", expires_in=timedelta(minutes=1)), max_open=10
    )
    any_store.complete_upload("u5", a_photo(any_store, "u5", o1), Actor(user_id=o1))
    clock.advance(minutes=30)
    assert [u.id for u in any_store.expired_uploads(clock.now())] == ["u2", "u1", "u4"]
    assert [u.id for u in any_store.expired_uploads(clock.now(), limit=1)] == ["u2"]
    assert any_store.expired_uploads(clock.now() - timedelta(minutes=27)) == []
    assert any_store.delete_uploads(["u2", "u1", "u4", "u5", "no-such-upload"]) == 3
    assert any_store.expired_uploads(clock.now()) == []
    assert any_store.get_upload("u3") is not None
    assert any_store.get_upload("u5") is not None


# -- photos ------------------------------------------------------------------------------


def test_a_photo_is_visible_to_its_senders_and_to_the_units_of_the_visits_naming_it(
    any_store: Store, tiny: TinyCity, clock: ManualClock
) -> None:
    o1, o2, o3, o4 = (tiny.id(n) for n in ("o1", "o2", "o3", "o4"))
    stored(any_store, "u1", o1, "door")

    def visible(column: str, value: str | int) -> bool:
        return any_store.photo_visible_to(sha("door"), Jurisdiction(column=column, value=value))

    assert visible("officer_id", o1)
    assert visible("station_id", "411602-01")
    assert visible("county_id", "411602")
    assert visible("city_id", "411600")
    assert not visible("officer_id", o2)
    assert not visible("county_id", "411621")
    # o4's visit in 扶沟县 names it: there it is evidence too.
    elsewhere = {"station_id": "411621-01", "county_id": "411621", "grid_code": "411621001001"}
    [(warning, _)] = any_store.ingest_warnings(
        [new_warning(tiny.id("platform"), "A", o4, **elsewhere)], ACTOR
    )
    clock.advance(minutes=10)
    push(any_store, o4, visit(warning.id, node="phone-o4", photos=[sha("door")]))
    assert visible("county_id", "411621")
    assert visible("officer_id", o4)
    assert not visible("officer_id", o3)
    never = Jurisdiction(column="officer_id", value=o1)
    assert not any_store.photo_visible_to(sha("never-sent"), never)
    with pytest.raises(ValueError, match="scoped"):
        visible("grid_code", "411602001001")


def test_a_tasks_photos_are_listed_entry_by_entry_with_those_still_on_the_phone(
    any_store: Store, tiny: TinyCity, clock: ManualClock
) -> None:
    o1 = tiny.id("o1")
    [(warning, _)] = any_store.ingest_warnings([new_warning(tiny.id("platform"), "A", o1)], ACTOR)
    clock.advance(minutes=10)
    names = sorted(["door", "letter"], key=sha)
    body = visit(warning.id, outcome=None, photos=[sha(n) for n in reversed(names)])
    push(any_store, o1, body)
    arrived = stored(any_store, "u1", o1, names[0])
    claimed = any_store.photos_of_task("warning", warning.id)
    assert [(c.entry_id, c.officer_id, c.sha256, c.photo) for c in claimed] == [
        (body["entry"]["entry_id"], o1, sha(names[0]), arrived),
        (body["entry"]["entry_id"], o1, sha(names[1]), None),  # not arrived yet
    ]
    assert claimed[0].recorded_at == datetime(2026, 11, 25, 8, 5, tzinfo=UTC)
    assert any_store.photos_of_task("publicity", warning.id) == []
    assert any_store.photos_of_task("warning", warning.id + 100) == []


def test_a_photos_thumbnail_state_is_kept_with_it(any_store: Store, tiny: TinyCity) -> None:
    photo = stored(any_store, "u1", tiny.id("o1"), "door")
    assert photo.thumbnail == 0  # made when first asked for
    any_store.set_photo_thumbnail(sha("door"), 1)
    made = any_store.get_photo(sha("door"))
    assert made is not None
    assert made.thumbnail == 1
    any_store.set_photo_thumbnail(sha("door"), -1)  # the pixels do not decode
    broken = any_store.get_photo(sha("door"))
    assert broken is not None
    assert broken.thumbnail == -1


def test_only_old_photos_no_visit_names_and_nobody_resent_are_forgotten(
    any_store: Store, tiny: TinyCity, clock: ManualClock
) -> None:
    o1, o2 = tiny.id("o1"), tiny.id("o2")
    platform = tiny.id("platform")
    made = any_store.ingest_warnings([new_warning(platform, n, o1) for n in "AB"], ACTOR)
    first, second = (w.id for w, _ in made)
    for name in ("lost", "named", "resent"):
        stored(any_store, f"u-{name}", o1, name)
    clock.advance(minutes=10)
    push(any_store, o1, visit(first, photos=[sha("named")]))
    clock.set(datetime(2026, 11, 25, 9, 0, tzinfo=UTC))
    stored(any_store, "u-fresh", o1, "fresh")
    any_store.create_upload(an_upload(any_store, "u-again", o2, "resent"), max_open=10)
    cutoff = datetime(2026, 11, 25, 8, 30, tzinfo=UTC)
    assert any_store.unclaimed_photos(cutoff) == [sha("lost")]
    assert not any_store.remove_unclaimed_photo(sha("named"), cutoff)
    assert not any_store.remove_unclaimed_photo(sha("resent"), cutoff)
    assert not any_store.remove_unclaimed_photo(sha("fresh"), cutoff)
    assert any_store.remove_unclaimed_photo(sha("lost"), cutoff)
    assert any_store.get_photo(sha("lost")) is None
    assert any_store.get_upload("u-lost") is None
    assert not any_store.remove_unclaimed_photo(sha("lost"), cutoff)
    [entry] = any_store.list_audit(entity="photo", entity_id=sha("lost"))[1:]
    assert (entry.action, entry.after) == ("photo.remove", None)
    assert any_store.unclaimed_photos(cutoff) == []
    later = clock.now() + timedelta(hours=1)
    assert any_store.unclaimed_photos(later) == [sha("resent"), sha("fresh")]
    assert any_store.unclaimed_photos(later, limit=1) == [sha("resent")]
    # A visit that names a photo a moment ago keeps it, however recent the claim.
    push(any_store, o1, visit(second, photos=[sha("fresh")]))
    assert not any_store.remove_unclaimed_photo(sha("fresh"), later)
    assert any_store.get_photo(sha("fresh")) is not None

"""Photo claims follow the pushes a moment behind, yet nobody ever sees a visit's photo as
unclaimed: every reader of claims catches up first."""

from __future__ import annotations

import time
from datetime import timedelta

import msgspec

from server.clock import ManualClock
from server.store.interface import Store
from server.store.records import Actor, Jurisdiction
from server.store.upload_records import PhotoRecord, UploadRecord, UploadState
from sync.protocol import RecordVisit
from tests.support.city import TinyCity, new_warning
from tests.support.sync import push_context, visit

PHOTO = "c0" * 32


def a_warning_of(store: Store, city: TinyCity) -> int:
    [(record, _)] = store.ingest_warnings(
        [new_warning(city.id("platform"), "claims-1", city.id("o1"))],
        Actor(user_id=city.id("platform")),
    )
    return record.id


def an_old_stored_photo(store: Store, clock: ManualClock, officer: int) -> None:
    now = clock.now()
    upload = UploadRecord(
        id="u1",
        user_id=officer,
        device_id="phone-o1",
        length=10,
        received=0,
        sha256=PHOTO,
        metadata="",
        filename=None,
        filetype=None,
        media_type="image/jpeg",
        state=UploadState.OPEN,
        created_at=now,
        updated_at=now,
        expires_at=now + timedelta(days=1),
        city_id="411600",
        county_id="411602",
        station_id="411602-01",
    )
    assert store.create_upload(upload, max_open=5) is not None
    photo = PhotoRecord(
        sha256=PHOTO, size=10, media_type="image/jpeg", uploaded_by=officer, received_at=now
    )
    store.complete_upload("u1", photo, Actor(user_id=officer))


def push_visit_naming_the_photo(store: Store, clock: ManualClock, officer: int, task: int) -> None:
    ctx = push_context(officer, clock.now(), "phone-o1")
    mutation = msgspec.convert(visit(task, photos=[PHOTO]), RecordVisit)
    [result], _ = store.apply_push(ctx, [mutation])
    assert result.status == "applied"


def test_a_photo_named_a_moment_ago_is_already_claimed_for_every_reader(
    store: Store, city: TinyCity, clock: ManualClock
) -> None:
    officer = city.id("o1")
    an_old_stored_photo(store, clock, officer)
    clock.advance(days=30)
    store._claimer.close()  # type: ignore[attr-defined]  # only readers may catch up now
    push_visit_naming_the_photo(store, clock, officer, a_warning_of(store, city))
    assert PHOTO not in store.unclaimed_photos(clock.now())
    assert store.remove_unclaimed_photo(PHOTO, clock.now()) is False
    assert store.photo_visible_to(PHOTO, Jurisdiction(column="station_id", value="411602-01"))
    [claimed] = store.photos_of_task("warning", 1)
    assert claimed.sha256 == PHOTO
    assert claimed.photo is not None


def test_the_background_claims_what_was_pushed_without_a_reader_asking(
    store: Store, city: TinyCity, clock: ManualClock
) -> None:
    officer = city.id("o1")
    push_visit_naming_the_photo(store, clock, officer, a_warning_of(store, city))
    deadline = time.monotonic() + 5
    while store._claims_behind() and time.monotonic() < deadline:  # type: ignore[attr-defined]
        time.sleep(0.02)
    assert not store._claims_behind()  # type: ignore[attr-defined]

"""Where the outcome feed's rules live: in code, once for every backend."""

from __future__ import annotations

from server.store.interface import Store
from server.store.outcome_feed import feed_row
from tests.support import raw

CLOSED = {
    "id": 7,
    "platform_id": "YJ-7",
    "client_id": 2,
    "state": "completed",
    "outcome": "dissuaded",
    "outcome_contact": "face_to_face",
    "outcome_officer_id": 3,
    "outcome_amount": 5000,
    "first_contact_at": "2026-11-25T01:20:00.000000+00:00",
    "closed_at": "2026-11-25T01:21:00.000000+00:00",
    "cancel_reason": None,
    "county_id": "411602",
    "station_id": "411602-01",
    "version": 4,
    "updated_at": "2026-11-25T01:21:00.000000+00:00",
}


def test_no_trigger_builds_what_the_platform_is_told(store: Store, database: str) -> None:
    """The payload is a wire contract: one encoder builds it (server/store/outcome_feed.py)
    on SQLite and PostgreSQL alike, so no trigger in either dialect may build it too."""
    if raw.is_postgres(database):
        query = "SELECT trigger_name AS name FROM information_schema.triggers"
    else:
        query = "SELECT name FROM sqlite_master WHERE type = 'trigger'"
    assert raw.rows(database, query) == []


def test_closing_a_warning_tells_the_platform_in_the_fields_it_reads() -> None:
    before = {**CLOSED, "state": "dispatched", "outcome": None, "outcome_amount": None}
    row = feed_row(before, CLOSED)
    assert row is not None
    delivery_id, client_id, warning_id, payload, at = row
    assert (delivery_id, client_id, warning_id, at) == (
        "out-7-v4",
        2,
        7,
        CLOSED["updated_at"],
    )
    assert payload == (
        '{"warning_id":7,"platform_id":"YJ-7","state":"completed","outcome":"dissuaded",'
        '"contact":"face_to_face","officer_id":3,"amount_prevented":5000,'
        '"first_contact_at":"2026-11-25T01:20:00.000000+00:00",'
        '"closed_at":"2026-11-25T01:21:00.000000+00:00","cancel_reason":null,'
        '"county_id":"411602","station_id":"411602-01"}'
    )


def test_a_change_that_tells_the_platform_nothing_new_puts_nothing_out() -> None:
    """A resubmitted entry with its photo: the same outcome, contact, officer and amount."""
    resubmitted = {**CLOSED, "version": 5}
    assert feed_row(CLOSED, resubmitted) is None
    # ... while a corrected amount, or a warning still open, is judged as such.
    corrected = feed_row(CLOSED, {**resubmitted, "outcome_amount": 6000})
    assert corrected is not None
    assert corrected[0] == "out-7-v5"
    assert feed_row({**CLOSED, "state": "new"}, {**CLOSED, "state": "dispatched"}) is None

"""Inputs past what the store and the clock can hold, or of the wrong JSON type, are
refused at the edge with 400 naming the field, and change nothing.

Each case here was a 500 (or, for the JSON types, a request acted on although the
document calls it invalid) until the schema fuzz test (tests/test_fuzz_api.py) or a
probe at its boundaries found it.
"""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from server.bounds import ID_MAX
from server.store.interface import Store
from tests.support.api import a_warning, as_platform, as_user, assert_problem
from tests.support.city import TinyCity

pytestmark = pytest.mark.anyio

TOO_BIG = ID_MAX + 1
HUGE = 2**70  # past SQLite's 64-bit integers: this one reached the driver and broke it


def state(store: Store) -> tuple[int, int]:
    entries = store.list_audit(after_id=0, limit=1_000_000)
    return store.current_seq(), entries[-1].id if entries else 0


async def deliver(client: httpx.AsyncClient, *warnings: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/platform/warnings",
        json={"warnings": list(warnings)},
        headers=await as_platform(client),
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.parametrize("number", [TOO_BIG, HUGE])
async def test_ids_past_the_range_are_refused_by_name(
    client: httpx.AsyncClient, city: TinyCity, store: Store, number: int
) -> None:
    (warning_id,) = [r["warning_id"] for r in (await deliver(client, a_warning()))["results"]]
    admin = await as_user(client, "admin")
    sup1 = await as_user(client, "sup1")
    before = state(store)
    cases = [
        ("GET", f"/api/v1/warnings/{number}", None, None, admin, "warning_id"),
        ("GET", f"/api/v1/warnings/{number}/timeline", None, None, admin, "warning_id"),
        ("GET", "/api/v1/warnings/", {"officer_id": str(number)}, None, admin, "officer_id"),
        ("GET", f"/api/v1/users/{number}", None, None, admin, "user_id"),
        ("PATCH", f"/api/v1/users/{number}", None, {"name": "张三"}, admin, "user_id"),
        ("GET", f"/api/v1/publicity-tasks/{number}", None, None, admin, "task_id"),
        ("POST", f"/api/v1/devices/{number}/revoke", None, None, admin, "device_pk"),
        ("GET", "/api/v1/devices/", {"user_id": str(number)}, None, admin, "user_id"),
        ("GET", "/api/v1/audit/", {"after_id": str(number)}, None, admin, "after_id"),
        (
            "POST",
            f"/api/v1/warnings/{warning_id}/reassign",
            None,
            {"officer_id": number},
            sup1,
            "officer_id",
        ),
        (
            "POST",
            "/api/v1/publicity-tasks/",
            None,
            {
                "title": "宣传",
                "grid_code": "411602001001",
                "venue_kind": "square",
                "audience": "elderly",
                "window_start": "2026-12-01",
                "window_end": "2026-12-02",
                "officer_ids": [city.id("o1"), number],
            },
            sup1,
            "officer_ids[1]",
        ),
    ]
    for method, path, params, body, headers, field in cases:
        response = await client.request(method, path, params=params, json=body, headers=headers)
        assert_problem(response, 400, "validation_failed", field)
    assert state(store) == before


def cursor_of(payload: bytes) -> str:
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


@pytest.mark.parametrize(
    ("path", "cursor"),
    [
        ("/api/v1/warnings/", cursor_of(b'["2026-11-25T08:00:00+00:00", %d]' % HUGE)),
        # No offset: it was read as local time, not refused.
        ("/api/v1/warnings/", cursor_of(b'["2026-11-25T08:00:00", 1]')),
        # UTC of this is past year 9999.
        ("/api/v1/warnings/", cursor_of(b'["9999-12-31T23:00:00-10:00", 1]')),
        ("/api/v1/publicity-tasks/", str(HUGE)),
        ("/api/v1/publicity-tasks/", "9" * 5000),  # int() itself refuses this many digits
    ],
)
async def test_a_forged_cursor_is_refused(
    client: httpx.AsyncClient, city: TinyCity, path: str, cursor: str
) -> None:
    response = await client.get(
        path, params={"cursor": cursor}, headers=await as_user(client, "sup1")
    )
    assert_problem(response, 400, "validation_failed", "cursor")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        # Its UTC time is past year 9999.
        ({"issued_at": "9999-12-31T23:00:00-10:00"}, "issued_at"),
        # Its UTC time is before year 1.
        ({"issued_at": "0001-01-01T00:00:00+10:00"}, "issued_at"),
        # No deadline: the default one would be added past year 9999.
        ({"issued_at": "9999-12-31T23:30:00+00:00", "deadline_at": None}, "issued_at"),
        ({"deadline_at": "9999-12-31T23:59:59-23:59"}, "deadline_at"),
    ],
)
async def test_a_warning_with_an_impossible_time_is_rejected_alone(
    client: httpx.AsyncClient, city: TinyCity, store: Store, changes: dict[str, Any], field: str
) -> None:
    good = a_warning()
    bad = {**a_warning(), **changes}
    out = await deliver(client, bad, good)
    assert (out["created"], out["rejected"]) == (1, 1)
    rejected = out["results"][0]
    assert rejected["status"] == "rejected"
    assert rejected["problem"]["code"] == "validation_failed"
    assert rejected["problem"]["field"] == field
    assert store.get_warning(out["results"][1]["warning_id"]) is not None


@pytest.mark.parametrize("deadline", ["9999-12-31T23:59:59-23:59", "1969-12-31T23:59:59+00:00"])
async def test_a_deadline_outside_the_time_window_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, city: TinyCity, store: Store, deadline: str
) -> None:
    (result,) = (await deliver(client, a_warning()))["results"]
    before = state(store)
    response = await client.patch(
        f"/api/v1/warnings/{result['warning_id']}",
        json={"deadline_at": deadline},
        headers=await as_user(client, "sup1"),
    )
    assert_problem(response, 400, "validation_failed", "deadline_at")
    assert state(store) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"active": 0}, "active"),
        ({"active": "false"}, "active"),
        ({"name": 5}, "name"),
    ],
)
async def test_a_body_value_of_the_wrong_json_type_is_refused_not_coerced(
    client: httpx.AsyncClient, city: TinyCity, store: Store, body: dict[str, Any], field: str
) -> None:
    # Litestar's own conversion of bodies is lenient: `"active": 0` disabled the person.
    before = state(store)
    response = await client.patch(
        f"/api/v1/users/{city.id('o1')}", json=body, headers=await as_user(client, "admin")
    )
    assert_problem(response, 400, "validation_failed", field)
    assert state(store) == before
    o1 = store.get_user(city.id("o1"))
    assert o1 is not None
    assert o1.active


async def test_a_number_sent_as_text_is_refused(
    client: httpx.AsyncClient, city: TinyCity, store: Store
) -> None:
    (result,) = (await deliver(client, a_warning("411602001002")))["results"]
    before = state(store)
    response = await client.post(
        f"/api/v1/warnings/{result['warning_id']}/reassign",
        json={"officer_id": str(city.id("o1"))},
        headers=await as_user(client, "sup1"),
    )
    assert_problem(response, 400, "validation_failed", "officer_id")
    assert state(store) == before


async def test_a_body_of_the_wrong_shape_blames_the_body(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/auth/login", json=[1, 2])
    body = assert_problem(response, 400, "validation_failed", "body")
    assert body["errors"] == [{"field": "body", "reason": "Expected `object`, got `array`"}]

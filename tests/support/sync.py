"""Wire-level helpers for sync stories: a phone's pushes and pulls, by hand."""

from __future__ import annotations

import itertools
import uuid
from datetime import datetime
from typing import Any

import httpx

from sync.hlc import HLC

_ticks = itertools.count(1)


def hlc(node: str, wall_ms: int | None = None) -> str:
    wall = wall_ms if wall_ms is not None else 1_764_057_600_000 + next(_ticks)
    return HLC(wall, 0, node).encode()


def new_id() -> str:
    return uuid.uuid4().hex


def visit(
    task_id: int,
    *,
    node: str = "phone-o1",
    outcome: str | None = "dissuaded",
    contact: str | None = "face_to_face",
    kind: str = "warning",
    mutation_id: str | None = None,
    entry_id: str | None = None,
    hlc_text: str | None = None,
    **entry: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "entry_id": entry_id or new_id(),
        # Minutes after the tests' clock starts (08:00Z, when their warnings arrive): a
        # visit the server can believe (an earlier one is flagged impossible_time).
        "recorded_at": "2026-11-25T16:05:00+08:00",
        "arrived_at": "2026-11-25T16:02:00+08:00",
        "contact": contact,
        "outcome": outcome,
        "position": {"lat": 33.62, "lon": 114.65, "accuracy_m": 12.0},
    }
    if kind == "publicity":
        body.pop("outcome")
    body.update(entry)
    return {
        "type": "record_visit",
        "mutation_id": mutation_id or new_id(),
        "hlc": hlc_text or hlc(node),
        "task_kind": kind,
        "task_id": task_id,
        "entry": body,
    }


def set_notes(
    task_id: int,
    value: str | None,
    *,
    node: str,
    base_hlc: str | None = None,
    hlc_text: str | None = None,
    kind: str = "warning",
) -> dict[str, Any]:
    return {
        "type": "set_field",
        "mutation_id": new_id(),
        "hlc": hlc_text or hlc(node),
        "task_kind": kind,
        "task_id": task_id,
        "field": "officer_notes",
        "value": value,
        "base_hlc": base_hlc,
    }


async def push(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    *mutations: dict[str, Any],
    device_time: datetime | None = None,
) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/sync/push",
        headers=headers,
        json={
            "device_time": (
                device_time or datetime.fromisoformat("2026-11-25T08:00:00+00:00")
            ).isoformat(),
            "mutations": list(mutations),
        },
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def pull_all(
    client: httpx.AsyncClient, headers: dict[str, str], cursor: str | None = None, limit: int = 200
) -> tuple[list[dict[str, Any]], str, str | None]:
    """Every change until caught up: (changes, cursor, checksum)."""
    changes: list[dict[str, Any]] = []
    while True:
        params: dict[str, Any] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        response = await client.get("/api/v1/sync/pull", headers=headers, params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        changes += page["changes"]
        cursor = page["cursor"]
        if not page["has_more"]:
            return changes, cursor, page["checksum"]


async def double_visit(
    client: httpx.AsyncClient,
    city: Any,
    store: Any,
    first: dict[str, Any] | None = None,
    second: dict[str, Any] | None = None,
) -> tuple[int, int]:
    """o1 phoned and was refused; o2, assigned meanwhile, went to the door later.
    `first` and `second`: what else their entries say (an amount prevented, say).

    Returns (warning id, id of the double_visit conflict o2's push produced).
    """
    from server.store.records import Actor
    from tests.support.api import a_warning, as_platform, as_user

    out = (
        await client.post(
            "/api/v1/platform/warnings",
            headers=await as_platform(client),
            json={"warnings": [a_warning("411602001001")]},
        )
    ).json()
    warning = int(out["results"][0]["warning_id"])
    o1 = await as_user(client, "o1")
    await push(
        client,
        o1,
        visit(
            warning,
            contact="phone",
            outcome="refused",
            hlc_text=hlc("phone-o1", 1_764_050_000_000),
            **(first or {}),
        ),
    )
    # Reopening for a second try is a supervisor's job; here o2 was assigned before o1's
    # push arrived, so o2's visit is the second visit on a closed warning.
    store.update_warning(
        warning,
        store.get_warning(warning).version,
        {"officer_id": city.id("o2")},
        "warning.reassign",
        Actor(user_id=city.id("sup1")),
    )
    o2 = await as_user(client, "o2")
    [verdict] = (
        await push(
            client,
            o2,
            visit(
                warning,
                node="phone-o2",
                contact="face_to_face",
                outcome="dissuaded",
                hlc_text=hlc("phone-o2", 1_764_060_000_000),
                **(second or {}),
            ),
        )
    )["results"]
    assert verdict["status"] == "conflict", verdict
    return warning, int(verdict["conflict_id"])


def push_context(officer: int, at: datetime, device_id: str | None = None) -> Any:
    """What the sync service hands the store for a push of station 411602-01's officer."""
    from server.clock import iso
    from server.store.sync_records import PushContext

    return PushContext(
        user_id=officer,
        device_pk=1,
        device_id=device_id or f"phone-{officer}",
        city_id="411600",
        county_id="411602",
        station_id="411602-01",
        received_at=iso(at),
        now_ms=int(at.timestamp() * 1000),
        clock_offset_ms=0,
        skew_flagged=False,
    )

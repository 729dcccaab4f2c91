"""Small verbs for the stories: log in as someone, send warnings as the platform."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

import httpx

from tests.support.city import PASSWORD, PLATFORM_SECRET

_numbers = itertools.count(1)


async def login(
    client: httpx.AsyncClient, who: str, device: str = "phone-0001", password: str = PASSWORD
) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/auth/login",
        json={
            "login": who,
            "password": password,
            "device_id": device,
            "device_name": f"{who}'s phone",
        },
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


async def as_user(
    client: httpx.AsyncClient, who: str, device: str = "phone-0001"
) -> dict[str, str]:
    return bearer(await login(client, who, device))


async def as_platform(client: httpx.AsyncClient) -> dict[str, str]:
    response = await client.post(
        "/api/v1/auth/token", json={"client_id": "platform", "client_secret": PLATFORM_SECRET}
    )
    assert response.status_code == 200, response.text
    return bearer(response.json())


def a_warning(
    grid_code: str = "411602001001",
    *,
    platform_id: str | None = None,
    issued_at: datetime | None = None,
    **extra: Any,
) -> dict[str, Any]:
    n = next(_numbers)
    issued = issued_at or datetime.fromisoformat("2026-11-25T08:00:00+08:00")
    body: dict[str, Any] = {
        "platform_id": platform_id or f"YJ-{n:08d}",
        "resident": {
            "name": "陈秀英",
            "phone": f"1380000{n:04d}",
            "address": "七一路12号院3单元",
            "id_number": f"41160219600101{n:04d}",
        },
        "grid_code": grid_code,
        "source": "fund_transfer",
        "fraud_type": "fake_loan",
        "risk_level": "high",
        "issued_at": issued.isoformat(),
        "deadline_at": (issued + timedelta(hours=2)).isoformat(),
    }
    body.update(extra)
    return body


def assert_problem(
    response: httpx.Response, status: int, code: str, field: str | None = None
) -> dict[str, Any]:
    """The response is an RFC 9457 problem with this status, stable code and field."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    assert body["status"] == status
    if field is not None:
        assert body["field"] == field, body
    return body

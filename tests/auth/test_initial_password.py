"""A password an administrator sets is an initial one: it opens nothing but the choice of
the person's own (issue 12), so no working password travels in a sheet or over a desk."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from server.auth.passwords import Passwords
from server.cli import main
from server.clock import ManualClock
from server.store.opening import open_store
from tests.support.api import as_user, assert_problem
from tests.support.city import PASSWORD, TinyCity, build_tiny_city

pytestmark = pytest.mark.anyio
LOGIN = "/api/v1/auth/login"
CHANGE = "/api/v1/auth/password"


async def log_in(client: httpx.AsyncClient, who: str, password: str) -> httpx.Response:
    return await client.post(
        LOGIN, json={"login": who, "password": password, "device_id": f"phone-of-{who}"}
    )


async def test_a_new_officer_chooses_a_password_before_anything_else(
    client: httpx.AsyncClient, city: TinyCity
) -> None:
    admin = await as_user(client, "admin", "desk-admin")
    created = await client.post(
        "/api/v1/users",
        headers=admin,
        json={"login": "o9", "name": "周警官", "role": "officer", "unit_id": "411602-01"},
    )
    assert created.status_code == 201, created.text
    assert created.json()["has_password"] is False  # none until one is issued
    issued = await client.post(
        f"/api/v1/users/{created.json()['id']}/initial-password", headers=admin
    )
    assert issued.status_code == 200, issued.text
    once = issued.json()["initial_password"]
    assert len(once) == 12

    # The one-time password logs nobody in: it is for choosing one's own.
    refused = await log_in(client, "o9", once)
    assert_problem(refused, 403, "password_change_required")
    assert "access_token" not in refused.json()
    console = await client.post("/api/v1/auth/session", json={"login": "o9", "password": once})
    assert console.status_code in (403,)
    changed = await client.post(
        CHANGE, json={"login": "o9", "password": once, "new_password": "Mine-and-only-mine"}
    )
    assert changed.status_code == 204, changed.text
    assert (await log_in(client, "o9", "Mine-and-only-mine")).status_code == 200
    assert_problem(await log_in(client, "o9", once), 401, "invalid_credentials")


async def test_a_password_set_by_the_administrator_is_initial_too(
    client: httpx.AsyncClient, city: TinyCity
) -> None:
    admin = await as_user(client, "admin", "desk-admin")
    response = await client.patch(
        f"/api/v1/users/{city.id('o2')}", headers=admin, json={"password": "Given-at-the-desk"}
    )
    assert response.status_code == 200, response.text
    assert_problem(await log_in(client, "o2", "Given-at-the-desk"), 403, "password_change_required")


async def test_choosing_a_password_is_checked_like_a_login(
    client: httpx.AsyncClient, city: TinyCity
) -> None:
    assert_problem(
        await client.post(
            CHANGE, json={"login": "o1", "password": "wrong", "new_password": "Something-new-1"}
        ),
        401,
        "invalid_credentials",
    )
    assert_problem(
        await client.post(
            CHANGE, json={"login": "o1", "password": PASSWORD, "new_password": PASSWORD}
        ),
        400,
        "validation_failed",
        field="new_password",
    )
    assert_problem(
        await client.post(
            CHANGE, json={"login": "o1", "password": PASSWORD, "new_password": "short"}
        ),
        400,
        "validation_failed",
    )
    # An officer may change their own, and the old one stops working.
    ok = await client.post(
        CHANGE, json={"login": "o1", "password": PASSWORD, "new_password": "Something-new-1"}
    )
    assert ok.status_code == 204
    assert_problem(await log_in(client, "o1", PASSWORD), 401, "invalid_credentials")
    assert (await log_in(client, "o1", "Something-new-1")).status_code == 200


def test_the_first_administrator_comes_from_the_command_line(
    tmp_path: Path, clock: ManualClock, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "city.db"
    store = open_store(str(db), clock)
    build_tiny_city(store, Passwords(time_cost=1, memory_kib=1024))
    store.close()

    code = main(
        [
            "users",
            "create-admin",
            "chief",
            "--name",
            "市局管理员",
            "--unit",
            "411600",
            "--db",
            str(db),
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    [password] = [line.split(": ", 1)[1] for line in printed.splitlines() if "one-time" in line]
    store = open_store(str(db), clock)
    try:
        chief = store.get_user_by_login("chief")
        assert chief is not None
        assert (chief.role, chief.unit_id, chief.must_change_password) == (
            "city_admin",
            "411600",
            True,
        )
        assert Passwords(time_cost=1, memory_kib=1024).verify(chief.password_hash, password)
    finally:
        store.close()
    # Not twice, and not in a unit that is not a city.
    assert (
        main(["users", "create-admin", "chief", "--name", "x", "--unit", "411600", "--db", str(db)])
        == 1
    )
    assert (
        main(
            ["users", "create-admin", "chief2", "--name", "x", "--unit", "411602", "--db", str(db)]
        )
        == 1
    )
    assert "city unit" in capsys.readouterr().err

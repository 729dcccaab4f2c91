"""Inputs that cannot break it (issue 12): a body nested a thousand deep, ids past any
integer the store holds, a body that is not JSON, a missing query parameter and a NUL in
text each get a problem document naming what is at fault, and change nothing.

Each was a 500, or was acted on, although docs/errors.md promised otherwise.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from litestar import Litestar

from server.bounds import ID_MAX
from server.store.interface import Store
from tests.support.api import a_warning, as_platform, as_user, assert_problem
from tests.support.city import TinyCity
from tests.support.sync import pull_all, push, set_notes, visit

pytestmark = pytest.mark.anyio

DEEP = b'{"a":' * 1000 + b"1" + b"}" * 1000
# Who may call an operation that takes a JSON body; anything else is the administrator's.
CALLER = {"ingestWarnings": "platform", "syncPush": "o1"}
PUBLIC = {"login", "refreshToken", "platformToken", "createSession", "refreshSession"}


def state(store: Store) -> tuple[int, int]:
    entries = store.list_audit(after_id=0, limit=1_000_000)
    return store.current_seq(), entries[-1].id if entries else 0


def operations(app: Litestar) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path, operation) of every operation in the app's OpenAPI document."""
    document = app.openapi_schema.to_schema()
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict) and "operationId" in operation
    ]


def json_body_operations(app: Litestar) -> list[tuple[str, str, str]]:
    """(method, path with its ids filled in, operationId) of each that takes JSON."""
    found = []
    for method, path, operation in operations(app):
        if "application/json" in operation.get("requestBody", {}).get("content", {}):
            filled = path
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path":
                    filled = filled.replace("{" + parameter["name"] + "}", "1")
            found.append((method, filled, operation["operationId"]))
    assert len(found) >= 15, found  # every JSON endpoint, not just a few
    return found


async def headers_for(client: httpx.AsyncClient, operation_id: str) -> dict[str, str]:
    if operation_id in PUBLIC:
        return {}
    caller = CALLER.get(operation_id, "admin")
    return await as_platform(client) if caller == "platform" else await as_user(client, caller)


async def test_a_body_nested_a_thousand_deep_is_refused_on_every_json_endpoint(
    client: httpx.AsyncClient, app: Litestar, store: Store
) -> None:
    before = state(store)
    for method, path, operation_id in json_body_operations(app):
        headers = {**await headers_for(client, operation_id), "content-type": "application/json"}
        response = await client.request(method, path, content=DEEP, headers=headers)
        body = assert_problem(response, 400, "malformed_body", "body")
        assert "nested deeper than" in body["detail"], operation_id
    assert state(store) == before


async def test_a_body_that_is_not_json_by_its_type_is_refused_with_415(
    client: httpx.AsyncClient, app: Litestar, store: Store
) -> None:
    # docs/errors.md promised 415; a text/plain body was read as JSON and acted on.
    before = state(store)
    for method, path, operation_id in json_body_operations(app):
        for content_type in ("text/plain", "application/x-www-form-urlencoded", None):
            headers = await headers_for(client, operation_id)
            if content_type is not None:
                headers["content-type"] = content_type
            response = await client.request(method, path, content=b"{}", headers=headers)
            assert_problem(response, 415, "unsupported_media_type", "Content-Type")
    assert state(store) == before


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json; charset=utf-8", "Application/JSON;charset=UTF-8"],
)
async def test_json_with_or_without_a_charset_is_json(
    client: httpx.AsyncClient, city: TinyCity, content_type: str
) -> None:
    response = await client.post(
        "/api/v1/platform/warnings",
        content=b'{"warnings": [%s]}' % httpx.Request("POST", "/", json=a_warning()).content,
        headers={**await as_platform(client), "content-type": content_type},
    )
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 1


async def test_a_missing_query_parameter_is_named(
    client: httpx.AsyncClient, city: TinyCity
) -> None:
    # It was "The request body could not be read", for a request without a body.
    response = await client.get(
        "/api/v1/reports/completion",
        params={"date_from": "2026-11-25"},
        headers=await as_user(client, "sup1"),
    )
    body = assert_problem(response, 400, "validation_failed", "date_to")
    assert body["errors"] == [
        {"field": "date_to", "reason": "query parameter 'date_to' is required"}
    ]


# -- ids -------------------------------------------------------------------------------

OUT_OF_RANGE = [ID_MAX + 1, -(2**63) - 1, 10**20]


def is_id(name: str) -> bool:
    return name == "id" or name.endswith("_id") or name.endswith("_pk") or name == "after"


def is_integer(schema: dict[str, Any]) -> bool:
    kinds = [schema.get("type"), *(s.get("type") for s in schema.get("oneOf", []))]
    return "integer" in kinds


def id_parameters(app: Litestar) -> list[tuple[str, str, str, str, list[dict[str, Any]]]]:
    """(method, path, where, name, all its parameters) of each id-like integer parameter."""
    found = []
    for method, path, operation in operations(app):
        parameters = operation.get("parameters", [])
        for parameter in parameters:
            where, name = parameter["in"], parameter["name"]
            wanted = where in ("path", "query") and is_id(name) and method != "HEAD"
            if wanted and is_integer(parameter["schema"]):
                found.append((method, path, where, name, parameters))
    return found


def request_for(
    path: str, where: str, name: str, parameters: list[dict[str, Any]], number: int
) -> tuple[str, dict[str, str]]:
    """The url with `number` in the parameter (other path ids 1), and the query."""
    for other in parameters:
        if other["in"] == "path":
            value = number if other["name"] == name else 1
            path = path.replace("{" + other["name"] + "}", str(value))
    return path, ({name: str(number)} if where == "query" else {})


async def test_every_id_in_the_document_refuses_numbers_past_the_store(
    client: httpx.AsyncClient, app: Litestar, store: Store, city: TinyCity
) -> None:
    """Walks every id-like integer of every path and query: 400 naming it (404 where the
    route reads it as not found), never a 500 (conflict ids overflowed SQLite's)."""
    roles = [await as_user(client, who) for who in ("admin", "sup1", "o1")]
    roles.append(await as_platform(client))
    before = state(store)
    walked = []
    for method, path, where, name, parameters in id_parameters(app):
        walked.append(f"{method} {path} {name}")
        for number in OUT_OF_RANGE:
            url, params = request_for(path, where, name, parameters, number)
            answers = [
                await client.request(method, url, params=params, headers=headers)
                for headers in roles
            ]
            assert all(r.status_code != 500 for r in answers), (method, url, params)
            # A role the route is not for is refused before its parameters are read.
            reached = [r for r in answers if r.status_code not in (401, 403, 405)]
            assert reached, f"no role reached {method} {path}"
            for response in reached:
                if response.status_code == 404:
                    assert_problem(response, 404, "not_found")
                    continue
                body = assert_problem(response, 400, "validation_failed")
                assert name in [e["field"] for e in body["errors"]], body
    # The conflicts' and rejected mutations' ids were the ones left unbounded.
    assert "GET /api/v1/conflicts/{conflict_id} conflict_id" in walked
    assert "POST /api/v1/conflicts/{conflict_id}/resolve conflict_id" in walked
    assert "GET /api/v1/rejected-mutations after_id" in walked
    assert state(store) == before


# -- NUL -------------------------------------------------------------------------------

NUL = "\u0000"


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        (
            "POST",
            "/api/v1/users",
            {
                "login": "o9",
                "name": f"周{NUL}警官",
                "role": "officer",
                "unit_id": "411602-01",
                "password": "Welcome-2026",
            },
            "name",
        ),
        ("PATCH", "/api/v1/users/{o1}", {"name": f"张{NUL}"}, "name"),
        (
            "POST",
            "/api/v1/publicity-tasks",
            {
                "title": f"反诈{NUL}宣传",
                "grid_code": "411602001001",
                "venue_kind": "square",
                "audience": "elderly",
                "window_start": "2026-12-01",
                "window_end": "2026-12-02",
                "officer_ids": ["{o1}"],
            },
            "title",
        ),
    ],
)
async def test_a_nul_in_text_that_would_be_stored_is_refused_by_name(
    client: httpx.AsyncClient,
    city: TinyCity,
    store: Store,
    method: str,
    path: str,
    body: dict[str, Any],
    field: str,
) -> None:
    o1 = city.id("o1")
    path = path.replace("{o1}", str(o1))
    if "officer_ids" in body:
        body = {**body, "officer_ids": [o1]}
    caller = "admin" if "users" in path else "sup1"
    before = state(store)
    response = await client.request(method, path, json=body, headers=await as_user(client, caller))
    problem = assert_problem(response, 400, "validation_failed", field)
    assert "NUL" in problem["detail"]
    assert state(store) == before


async def test_a_warning_with_a_nul_is_rejected_alone(
    client: httpx.AsyncClient, city: TinyCity, store: Store
) -> None:
    bad = a_warning()
    bad["resident"] = {**bad["resident"], "name": f"陈{NUL}秀英"}
    good = a_warning()
    response = await client.post(
        "/api/v1/platform/warnings",
        json={"warnings": [bad, good]},
        headers=await as_platform(client),
    )
    assert response.status_code == 200, response.text
    out = response.json()
    assert (out["created"], out["rejected"]) == (1, 1)
    assert out["results"][0]["problem"]["code"] == "validation_failed"
    assert out["results"][0]["problem"]["field"] == "resident.name"
    assert store.get_warning(out["results"][1]["warning_id"]) is not None


async def test_a_visit_note_with_a_nul_is_rejected_alone_and_the_rest_applies(
    client: httpx.AsyncClient, city: TinyCity, store: Store
) -> None:
    delivered = await client.post(
        "/api/v1/platform/warnings",
        json={"warnings": [a_warning()]},
        headers=await as_platform(client),
    )
    (result,) = delivered.json()["results"]
    task_id = result["warning_id"]
    phone = await as_user(client, "o1")
    out = await push(
        client,
        phone,
        set_notes(task_id, f"已{NUL}劝阻", node="phone-o1"),
        visit(task_id, note="上门劝阻"),
    )
    first, second = out["results"]
    assert first["status"] == "rejected"
    assert first["problem"]["code"] == "malformed_mutation"
    assert first["problem"]["field"] == "value"
    assert second["status"] == "applied", second
    changes, _, _ = await pull_all(client, phone)
    assert NUL not in json.dumps(changes, ensure_ascii=False)

"""Every error, whatever caused it, is a problem document with a stable code."""

from __future__ import annotations

import pytest
from litestar import Litestar

from server.errors import ERROR_TABLE, PROBLEM_TYPE_BASE, ErrorCode
from server.middleware import PUBLIC_PATHS
from tests.support.api import a_warning, as_platform, as_user

pytestmark = pytest.mark.anyio


def check_shape(response) -> None:
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    code = ErrorCode(body["code"])
    assert body["status"] == response.status_code == ERROR_TABLE[code][0]
    assert body["title"] == ERROR_TABLE[code][1]
    assert body["type"] == PROBLEM_TYPE_BASE + code.value
    assert body["request_id"] == response.headers["x-request-id"]
    assert body["instance"].startswith("/")


async def test_a_sweep_of_bad_requests_all_get_problem_documents(client, city) -> None:
    o1 = await as_user(client, "o1")
    platform = await as_platform(client)
    responses = [
        await client.get("/no/such/path"),
        await client.delete("/api/v1/auth/login"),
        await client.post(
            "/api/v1/auth/login", content=b"{", headers={"content-type": "application/json"}
        ),
        await client.post("/api/v1/auth/login", json={"login": 5}),
        await client.post("/api/v1/auth/login", json=[1, 2]),
        await client.post("/api/v1/auth/login", content=b"x" * (5 * 1024 * 1024)),
        await client.post("/api/v1/auth/refresh", json={"refresh_token": "nope"}),
        await client.get("/api/v1/warnings/"),
        await client.get("/api/v1/warnings/", headers={"Authorization": "Basic abc"}),
        await client.get("/api/v1/warnings/abc", headers=o1),
        await client.get("/api/v1/warnings/123456789", headers=o1),
        await client.get("/api/v1/warnings/", params={"limit": "-1"}, headers=o1),
        await client.get("/api/v1/warnings/", params={"overdue": "maybe"}, headers=o1),
        await client.post("/api/v1/warnings/1/reassign", json={}, headers=o1),
        await client.post(
            "/api/v1/platform/warnings", json={"warnings": [a_warning()] * 2}, headers=o1
        ),
        await client.post("/api/v1/platform/warnings", content=b"\x00\x01", headers=platform),
        await client.post(
            "/api/v1/platform/warnings", json={"warnings": [{"x": 1}] * 1001}, headers=platform
        ),
        await client.get("/api/v1/devices/", params={"user_id": "x"}, headers=o1),
    ]
    codes = set()
    for response in responses:
        assert 400 <= response.status_code < 500, (response.request.url, response.text)
        check_shape(response)
        codes.add(response.json()["code"])
    assert len(codes) >= 8


async def test_every_api_route_refuses_a_caller_without_a_token(
    app: Litestar, client, city
) -> None:
    import re

    public = [re.compile(p) for p in PUBLIC_PATHS]
    checked = 0
    for route in app.routes:
        path = route.path
        if any(p.search(path) for p in public) or not path.startswith("/api/"):
            continue
        concrete = re.sub(r"\{[^}]+\}", "1", path)
        # A handler may opt out itself (logging in to a browser session, beside its logout).
        public_methods = {
            m
            for handler in getattr(route, "route_handlers", [])
            if handler.opt.get("exclude_from_auth")
            for m in handler.http_methods
        }
        for method in sorted(
            getattr(route, "methods", set()) - {"OPTIONS", "HEAD"} - public_methods
        ):
            response = await client.request(method, concrete)
            assert response.status_code == 401, f"{method} {path}: {response.status_code}"
            check_shape(response)
            checked += 1
    assert checked >= 10


async def test_options_needs_a_token_like_every_other_method(client, city) -> None:
    # Litestar lets OPTIONS past authentication by default; the role guards then found no
    # caller and answered 500.
    response = await client.options("/api/v1/devices/")
    assert response.status_code == 401
    check_shape(response)
    o1 = await as_user(client, "o1")
    allowed = await client.options("/api/v1/warnings/", headers=o1)
    assert allowed.status_code == 204
    assert "GET" in allowed.headers["allow"]
    refused = await client.options("/api/v1/users/", headers=await as_platform(client))
    assert refused.status_code == 403
    check_shape(refused)

"""The committed OpenAPI document is the one the code generates, and it is complete."""

from __future__ import annotations

import json

from litestar import Litestar

from server.openapi import COMMITTED, render

METHODS = ("get", "put", "post", "delete", "patch")


def test_the_committed_document_matches_the_code(app: Litestar) -> None:
    assert COMMITTED.read_bytes() == render(app), (
        "openapi/openapi.json is stale: run `beatsync openapi` and commit it"
    )


def test_every_operation_has_an_explicit_id_tags_and_problem_responses(app: Litestar) -> None:
    document = json.loads(render(app))
    seen: set[str] = set()
    for path, item in document["paths"].items():
        for method in METHODS:
            if method not in item:
                continue
            operation = item[method]
            op_id = operation["operationId"]
            # Litestar's fallback ids look like 'ApiV1WarningsListWarnings'; ours are
            # chosen names in lower camel case.
            assert op_id[0].islower(), f"{method.upper()} {path} has no explicit operation id"
            assert op_id not in seen
            seen.add(op_id)
            assert operation.get("tags"), f"{op_id} has no tag"
            problem = operation["responses"]["4XX"]["content"]["application/problem+json"]
            assert problem["schema"] == {"$ref": "#/components/schemas/Problem"}


def test_the_app_serves_the_same_document(app: Litestar) -> None:
    from litestar.testing import TestClient

    with TestClient(app) as client:
        served = client.get("/schema/openapi.json").json()
    assert served == json.loads(render(app))


def test_public_operations_need_no_token_and_the_rest_a_bearer_one_or_the_cookie(
    app: Litestar,
) -> None:
    document = json.loads(render(app))
    assert document["security"] == [{"bearer": []}, {"session": []}]
    session = document["components"]["securitySchemes"]["session"]
    assert (session["type"], session["in"], session["name"]) == (
        "apiKey",
        "cookie",
        "beatsync_access",
    )
    public = {"login", "refreshToken", "platformToken", "health", "createSession", "refreshSession"}
    for item in document["paths"].values():
        for method in METHODS:
            if method in item:
                operation = item[method]
                expected = [] if operation["operationId"] in public else None
                assert operation.get("security") == expected, operation["operationId"]


def test_request_bodies_are_described_as_strictly_as_they_are_decoded(app: Litestar) -> None:
    schemas = json.loads(render(app))["components"]["schemas"]
    for name in ("LoginIn", "ReassignIn", "PublicityTaskIn", "PublicityTaskPatch", "UserPatch"):
        assert schemas[name]["additionalProperties"] is False, name
    officer_ids = schemas["PublicityTaskIn"]["properties"]["officer_ids"]["items"]
    assert officer_ids == {"type": "integer", "minimum": 1, "maximum": 2**53 - 1}
    # The platform may send fields a newer version of its format adds.
    assert "additionalProperties" not in schemas["WarningIn"]

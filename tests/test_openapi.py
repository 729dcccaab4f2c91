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

"""The committed OpenAPI document is the one the code generates, and it is complete."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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
    public = {
        "login",
        "refreshToken",
        "platformToken",
        "health",
        "ready",
        "metrics",  # it checks its own caller: BEATSYNC_METRICS_TOKEN, else loopback only
        "createSession",
        "refreshSession",
        "changePassword",  # with the password it changes: no session yet at first login
    }
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


def test_the_committed_document_is_valid_openapi() -> None:
    """Issue 12: response headers without a schema made 21 errors in validators."""
    from openapi_spec_validator import OpenAPIV31SpecValidator

    document = json.loads(COMMITTED.read_text())
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}"
        for e in OpenAPIV31SpecValidator(document).iter_errors()
    ]
    assert errors == []


# Binary bodies and answers (tus chunks, photos, the bulletin's files) are bytes to a
# generated client: told so, as the generator's documentation says to.
CLIENT_CONFIG = """\
post_hooks: []
content_type_overrides:
  application/offset+octet-stream: application/octet-stream
  text/csv: application/octet-stream
  application/vnd.openxmlformats-officedocument.spreadsheetml.sheet: application/octet-stream
  image/jpeg: application/octet-stream
  "image/heic, image/heif, image/jpeg, image/png, image/webp": application/octet-stream
"""


def test_a_generated_python_client_has_every_model_and_no_warning(tmp_path: Path) -> None:
    """Issue 12: two schemas titled DeviceOut made openapi-python-client drop a model."""
    config = tmp_path / "config.yaml"
    config.write_text(CLIENT_CONFIG)
    out = tmp_path / "client"
    done = subprocess.run(
        [
            str(Path(sys.executable).with_name("openapi-python-client")),
            "generate",
            "--path",
            str(COMMITTED),
            "--output-path",
            str(out),
            "--meta",
            "none",
            "--config",
            str(config),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    said = done.stdout + done.stderr
    assert done.returncode == 0, said
    assert "warning" not in said.lower(), said
    models = (out / "models" / "__init__.py").read_text()
    schemas = json.loads(COMMITTED.read_text())["components"]["schemas"]
    dropped = [name for name in schemas if f'"{name}",' not in models]
    assert dropped == []

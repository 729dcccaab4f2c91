"""The OpenAPI document: Litestar generates it from the msgspec types; this adds the
problem+json error responses it cannot know about, and writes the committed copy."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import msgspec
from litestar import Litestar
from litestar.openapi.spec import (
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Reference,
    Schema,
)

from server.errors import Problem

COMMITTED = Path(__file__).resolve().parent.parent / "openapi" / "openapi.json"
_REF = "#/components/schemas/"


def _snake(key: str) -> str:
    return re.sub(r"([A-Z])", r"_\1", key).lower()


def _to_schema(node: Any) -> Any:
    """msgspec's JSON Schema (a dict) -> Litestar's Schema objects."""
    if isinstance(node, list):
        return [_to_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return Reference(ref=node["$ref"].replace("#/$defs/", _REF))
    fields: dict[str, Any] = {}
    for key, value in node.items():
        if key == "type":
            fields["type"] = (
                [OpenAPIType(v) for v in value] if isinstance(value, list) else OpenAPIType(value)
            )
        elif key == "properties":
            fields["properties"] = {k: _to_schema(v) for k, v in value.items()}
        elif key in ("items", "anyOf", "oneOf", "allOf", "additionalProperties"):
            fields[_snake(key)] = _to_schema(value)
        else:
            fields[_snake(key)] = value
    return Schema(**fields)


def add_problem_responses(app: Litestar) -> None:
    """Every operation may answer any 4XX/5XX with a problem document; say so."""
    document = app.openapi_schema
    generated = msgspec.json.schema(Problem)
    components = document.components
    schemas = dict(components.schemas or {})
    for name, definition in generated.get("$defs", {}).items():
        schemas[name] = _to_schema(definition)
    components.schemas = schemas
    problem = OpenAPIResponse(
        description="A problem document (RFC 9457) with a stable `code`",
        content={
            "application/problem+json": OpenAPIMediaType(schema=Reference(ref=_REF + "Problem"))
        },
    )
    for path_item in (document.paths or {}).values():
        for method in ("get", "put", "post", "delete", "patch", "head", "options"):
            operation = getattr(path_item, method, None)
            if operation is None:
                continue
            responses = {
                k: v for k, v in (operation.responses or {}).items() if not k.startswith(("4", "5"))
            }
            responses["4XX"] = problem
            responses["5XX"] = problem
            operation.responses = responses


def render(app: Litestar) -> bytes:
    """The document as committed: stable key order, two-space indent, trailing newline."""
    schema = app.openapi_schema.to_schema()
    return msgspec.json.format(msgspec.json.encode(schema, order="sorted"), indent=2) + b"\n"

"""The OpenAPI document: Litestar generates it from the msgspec types; this adds what it
cannot know about (the problem+json error responses, that the public paths need no
token, what request bodies refuse), and writes the committed copy."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
from litestar import Litestar
from litestar.openapi.spec import (
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Reference,
    Schema,
    SecurityScheme,
)
from litestar.routes import HTTPRoute

from server.auth.cookies import ACCESS_COOKIE
from server.errors import Problem
from server.middleware import PUBLIC_PATHS

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


def _strict_structs() -> list[type[msgspec.Struct]]:
    """Every loaded Struct that refuses unknown fields: the request bodies, by convention."""
    found: list[type[msgspec.Struct]] = []
    pending = list(msgspec.Struct.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.__struct_config__.forbid_unknown_fields:
            found.append(cls)
    return found


def _describe_bodies_exactly(schemas: dict[str, Any]) -> None:
    """Replace Litestar's schema of each strict request body with msgspec's own.

    Litestar's drops two rules the decoder enforces: that unknown fields are refused
    (`additionalProperties: false`) and constraints on list items (officer ids' range),
    so a client, or the fuzz test, took a body the document allows for a 400.
    """
    strict = [cls for cls in _strict_structs() if cls.__name__ in schemas]
    _, definitions = msgspec.json.schema_components(strict, ref_template=_REF + "{name}")
    for cls in strict:
        if cls.__name__ not in definitions:  # pragma: no cover - two inputs share a name
            continue
        exact = _to_schema(definitions[cls.__name__])
        exact.description = schemas[cls.__name__].description
        exact.required = exact.required or None
        schemas[cls.__name__] = exact
    for name, definition in definitions.items():
        schemas.setdefault(name, _to_schema(definition))


def _public_operations(app: Litestar) -> set[tuple[str, str]]:
    """(path, method) of the handlers that opt out of authentication themselves: one
    path may hold a public method beside others that need a caller (the console's
    session: created by anyone, ended by its owner)."""
    found: set[tuple[str, str]] = set()
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            for handler in route.route_handlers:
                if handler.opt.get("exclude_from_auth"):
                    found |= {(route.path, m.lower()) for m in handler.http_methods}
    return found


def _accept_the_session_cookie(app: Litestar) -> None:
    """Every authenticated operation takes the console's session cookie as well as a
    bearer token; the document says so once, globally."""
    document = app.openapi_schema
    components = document.components
    schemes = dict(components.security_schemes or {})
    schemes["session"] = SecurityScheme(
        type="apiKey",
        name=ACCESS_COOKIE,
        security_scheme_in="cookie",
        description="The console's browser session (POST /api/v1/auth/session). A POST,"
        " PUT, PATCH or DELETE with it must send the beatsync_csrf cookie's value in"
        " X-CSRF-Token.",
    )
    components.security_schemes = schemes
    security = list(document.security or [])
    if {"session": []} not in security:
        security.append({"session": []})
    document.security = security


def add_problem_responses(app: Litestar) -> None:
    """Every operation may answer any 4XX/5XX with a problem document; say so.

    Also marks the public operations as needing no token (the document's global
    `security` would otherwise claim a bearer token for login itself), and describes
    request bodies as strictly as they are decoded.
    """
    _accept_the_session_cookie(app)
    _describe_headers_and_cursors(app)
    document = app.openapi_schema
    public = [re.compile(p) for p in PUBLIC_PATHS]
    public_operations = _public_operations(app)
    generated = msgspec.json.schema(Problem)
    components = document.components
    schemas = dict(components.schemas or {})
    _describe_bodies_exactly(schemas)
    for name, definition in generated.get("$defs", {}).items():
        schemas[name] = _to_schema(definition)
    components.schemas = schemas
    problem = OpenAPIResponse(
        description="A problem document (RFC 9457) with a stable `code`",
        content={
            "application/problem+json": OpenAPIMediaType(schema=Reference(ref=_REF + "Problem"))
        },
    )
    for path, path_item in (document.paths or {}).items():
        for method in ("get", "put", "post", "delete", "patch", "head", "options"):
            operation = getattr(path_item, method, None)
            if operation is None:
                continue
            if any(p.search(path) for p in public) or (path, method) in public_operations:
                # Litestar drops a handler's `security=[]` as if unset; an explicit empty
                # list is how OpenAPI says "no authentication".
                operation.security = []
            responses = {
                k: v for k, v in (operation.responses or {}).items() if not k.startswith(("4", "5"))
            }
            if "204" in responses and isinstance(responses["204"], OpenAPIResponse):
                # No body, whatever the handler's return type (a Response, for cookies).
                responses["204"].content = None
            responses["4XX"] = problem
            responses["5XX"] = problem
            operation.responses = responses


# Response headers that carry a number; every other documented header is a string.
_INTEGER_HEADERS = frozenset({"Upload-Offset", "Upload-Length", "Tus-Max-Size"})
# Sent on every tus answer. Every tus request should send Tus-Resumable too, but one
# without it is answered 412 with Tus-Version, as tus says, so the document leaves the
# request header optional rather than promise a 400.
_REQUIRED_HEADERS = frozenset({"Tus-Resumable", "Upload-Offset"})
_CURSOR = (
    "An opaque cursor, as this server gave it out: pass it back unchanged; never build"
    " or parse one."
)


def _operations(app: Litestar) -> Iterator[Operation]:
    for path_item in (app.openapi_schema.paths or {}).values():
        for method in ("get", "put", "post", "delete", "patch", "head", "options"):
            operation = getattr(path_item, method, None)
            if operation is not None:
                yield operation


def _describe_parameters(operation: Operation) -> None:
    for parameter in operation.parameters or []:
        if isinstance(parameter, Reference):
            continue
        if parameter.name == "cursor" and not parameter.description:
            parameter.description = _CURSOR


def _describe_response_headers(operation: Operation) -> None:
    for response in (operation.responses or {}).values():
        if not isinstance(response, OpenAPIResponse):
            continue
        for name, header in (response.headers or {}).items():
            if isinstance(header, Reference):
                continue
            if header.schema is None:
                kind = OpenAPIType.INTEGER if name in _INTEGER_HEADERS else OpenAPIType.STRING
                header.schema = Schema(type=kind)
            if name in _REQUIRED_HEADERS:
                header.required = True


def _describe_headers_and_cursors(app: Litestar) -> None:
    """Litestar writes a documentation-only response header without a schema, which
    OpenAPI requires; and nothing says a cursor is opaque. Both are said here, so that
    validators and client generators take the document as it is."""
    for operation in _operations(app):
        _describe_parameters(operation)
        _describe_response_headers(operation)
    for schema in (app.openapi_schema.components.schemas or {}).values():
        if isinstance(schema, Schema):
            cursor = (schema.properties or {}).get("next_cursor")
            if isinstance(cursor, Schema) and not cursor.description:
                cursor.description = _CURSOR + " None: this was the last page."


def render(app: Litestar) -> bytes:
    """The document as committed: stable key order, two-space indent, trailing newline."""
    schema = app.openapi_schema.to_schema()
    return msgspec.json.format(msgspec.json.encode(schema, order="sorted"), indent=2) + b"\n"

"""JSON request bodies are held to their types strictly, as the OpenAPI document says.

Litestar converts a handler's `data` leniently (msgspec's strict=False, which query and
path parameters need since they arrive as text): `"officer_id": "7"` became 7 and
`"active": 0` became false, so a body the document calls invalid was acted on. This
hook decodes the body strictly before Litestar does; a fault raises msgspec's error,
which server/problems.py answers with 400 `validation_failed` naming the field.

It also holds every JSON body, the batches that decode their items themselves included,
to what no decoder below checks: a JSON media type (Litestar read a text/plain body as
JSON), a nesting depth (msgspec recursed until Python's limit and answered 500), and no
NUL character in a string (SQLite and the exports carried it on).
"""

from __future__ import annotations

import operator
import re
from functools import cache
from itertools import accumulate
from typing import Any

import msgspec
from litestar import Request
from litestar.enums import RequestEncodingType
from litestar.handlers import HTTPRouteHandler

from server.errors import ErrorCode, InputError

# Deeper than any body the API defines (a warning's resident is three levels down);
# checked before decoding, so the answer does not depend on how deep the stack is.
MAX_JSON_DEPTH = 32
NUL = "\x00"

# application/json, or any structured syntax suffix +json; parameters (charset) aside.
_JSON_MEDIA_TYPE = re.compile(r"^application/(?:[\w.!#$&^-]+\+)?json$")
# Escapes first (an escaped quote ends no string), then strings, an unterminated one
# running to the end: both patterns scan once, whatever the body holds.
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_NOT_BRACKETS_OR_QUOTES = bytes(b for b in range(256) if b not in b'[]{}"')
_STEPS = bytes.maketrans(b"[{]}", b"\x02\x02\x00\x00")


@cache
def _decoder(annotation: Any) -> msgspec.json.Decoder[Any]:
    return msgspec.json.Decoder(annotation)


def _takes_json(field: Any) -> bool:
    return getattr(field.kwarg_definition, "media_type", None) == RequestEncodingType.JSON


def _json_body_of(handler: HTTPRouteHandler) -> tuple[bool, Any] | None:
    """(strict, annotation) of the JSON body a route takes: its own `data`, decoded strictly
    here, or one a dependency documents for a handler that decodes it item by item (a
    batch, which refuses a bad item alone)."""
    field = handler.parsed_fn_signature.parameters.get("data")
    if field is not None:
        return (True, field.annotation) if _takes_json(field) else None
    for provide in handler.resolve_dependencies().values():
        signature = getattr(provide, "parsed_fn_signature", None)
        field = signature.parameters.get("data") if signature is not None else None
        if field is not None:
            return (False, field.annotation) if _takes_json(field) else None
    return None


def is_json_media_type(content_type: str | None) -> bool:
    """application/json and +json types, with or without parameters such as charset."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    return bool(_JSON_MEDIA_TYPE.match(media_type))


def too_deep(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether brackets outside strings ever stand more than `limit` open.

    Past the strings, each bracket becomes a step (an opener 2, a closer 0), so the depth
    after n brackets is their running sum less n: C-speed iterators over the brackets
    alone, a few hundred milliseconds for a body of nothing but 4 MiB of them.

    Every push passes here, so the strings go cheaply: escaped backslashes, then escaped
    quotes, are cut out (left to right, as a JSON reader pairs them; any other escape
    leaves a backslash that nothing reads), then all but brackets and quotes, and only
    then the strings, now mere quotes around brackets, by splitting at the quotes."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    unescaped = body.replace(b"\\\\", b"").replace(b'\\"', b"") if b"\\" in body else body
    residue = unescaped.translate(None, _NOT_BRACKETS_OR_QUOTES)
    # Quotes now alternate: what lies between an opening and a closing one is a string.
    brackets = b"".join(residue.split(b'"')[::2]).translate(None, _NOT_BRACKETS)
    if brackets.count(b"[") + brackets.count(b"{") <= limit:
        return False
    steps = brackets.translate(_STEPS)
    depths = map(operator.sub, accumulate(steps), range(1, len(steps) + 1))
    return bool(max(depths) > limit)


def nul_path(value: Any, path: str = "") -> str | None:
    """Where (msgspec's path style: `warnings[3].resident.name`) a decoded JSON value holds
    a string, or a key, with a NUL character; None if none does."""
    if isinstance(value, str):
        return (path or "body") if NUL in value else None
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = nul_path(item, f"{path}[{index}]")
            if found is not None:
                return found
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if NUL in key:
                return where.replace(NUL, "\\u0000")
            found = nul_path(item, where)
            if found is not None:
                return found
    return None


NUL_REASON = "a NUL character (\\u0000) is not allowed in text"


def nul_field(body: bytes | msgspec.Raw) -> str | None:
    """Where a string of this JSON holds a NUL character, or None.

    JSON can only carry it escaped, so a body without that escape is passed unread."""
    if b"\\u0000" not in bytes(body):
        return None
    return nul_path(msgspec.json.decode(body))


def refuse_nul(body: bytes) -> None:
    """400 naming the field when a string of this JSON holds a NUL character."""
    field = nul_field(body)
    if field is not None:
        raise InputError(NUL_REASON, field=field)


def check_json_body(body: bytes) -> None:
    """What every JSON body must be before any decoder reads it: nested no deeper than
    MAX_JSON_DEPTH (malformed_body, the body as a whole)."""
    if too_deep(body):
        raise InputError(
            f"JSON is nested deeper than {MAX_JSON_DEPTH} levels",
            code=ErrorCode.MALFORMED_BODY,
            field="body",
        )


async def decode_json_body_strictly(request: Request[Any, Any, Any]) -> None:
    """A before_request hook for every route: those without a JSON body pass through."""
    taken = _json_body_of(request.route_handler)
    if taken is None:
        return
    body = await request.body()
    if not body:  # an empty one is Litestar's to answer, as before (missing, or an optional body)
        return
    content_type = request.headers.get("content-type")
    if not is_json_media_type(content_type):
        raise InputError(
            f"send the body as application/json, not {content_type or 'without a type'}",
            code=ErrorCode.UNSUPPORTED_MEDIA_TYPE,
            field="Content-Type",
        )
    check_json_body(body)
    strict, annotation = taken
    if strict:
        _decoder(annotation).decode(body)
        refuse_nul(body)

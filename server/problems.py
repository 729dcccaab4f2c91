"""Renders every exception as an RFC 9457 problem+json response; the only such place."""

from __future__ import annotations

import re
from typing import Any

import msgspec
import structlog
from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    PermissionDeniedException,
    ValidationException,
)

from server.errors import BeatsyncError, ErrorCode, FieldError, Problem, problem
from server.logs import get_logger
from server.store.errors import RETRY_AFTER_S, is_unavailable

log = get_logger("beatsync.http")
PROBLEM_MEDIA_TYPE = "application/problem+json"

_STATUS_CODES = {
    400: ErrorCode.MALFORMED_BODY,
    401: ErrorCode.NOT_AUTHENTICATED,
    403: ErrorCode.FORBIDDEN,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
    415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
}
# msgspec says where a value failed as "... - at `$.warnings[3].risk_level`".
_MSGSPEC_PATH = re.compile(r"^(?P<reason>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)


# "Object missing required field `x`" and "... unknown field `x`" name the field in the text.
_NAMED_FIELD = re.compile(r"(?:missing required|contains unknown) field `(?P<name>[^`]+)`")
# Litestar names a missing parameter only in its message, with no `extra` to read.
_MISSING_PARAMETER = re.compile(r"^Missing required (?P<kind>\w+) parameter '(?P<name>[^']+)'")
# Query parameters whose Python name differs from their wire name (Litestar reports the former).
QUERY_ALIASES = {"states": "state"}


def field_from_msgspec(message: str) -> tuple[str, str]:
    """('warnings[3].risk_level', 'Invalid enum value ...') from a msgspec error message."""
    match = _MSGSPEC_PATH.match(message)
    if match is None:  # pragma: no cover - the pattern matches any string
        return "", message
    path = (match.group("path") or "").lstrip(".")
    reason = match.group("reason").strip()
    named = _NAMED_FIELD.search(reason)
    if named:
        path = f"{path}.{named.group('name')}" if path else named.group("name")
    return path, reason


def _from_validation(exc: ValidationException) -> Problem:
    errors: list[FieldError] = []
    extra = exc.extra if isinstance(exc.extra, list) else []
    for item in extra:
        if not isinstance(item, dict):
            continue
        message = str(item.get("message", ""))
        path, reason = field_from_msgspec(message)
        key = str(item.get("key") or "")
        source = str(item.get("source") or "")
        name = path or ("" if key == "data" else key)
        if source and source != "body" and key:
            name = QUERY_ALIASES.get(key, key)
        errors.append(FieldError(field=name or "body", reason=reason or message))
    missing = _MISSING_PARAMETER.match(str(exc.detail)) if not errors else None
    if missing is not None:
        name, kind = missing.group("name"), missing.group("kind")
        fault = FieldError(field=name, reason=f"{kind} parameter {name!r} is required")
        detail = f"{name}: {fault.reason}"
        return problem(ErrorCode.VALIDATION_FAILED, detail, field=name, errors=[fault])
    if not errors:
        # Litestar gives no detail when the body is not JSON at all.
        return problem(ErrorCode.MALFORMED_BODY, str(exc.detail))
    detail = "; ".join(f"{e.field}: {e.reason}" for e in errors)
    return problem(ErrorCode.VALIDATION_FAILED, detail, field=errors[0].field, errors=errors)


def to_problem(exc: Exception) -> tuple[Problem, dict[str, str]]:
    if isinstance(exc, BeatsyncError):
        return exc.to_problem(), exc.headers
    if isinstance(exc, ValidationException):
        return _from_validation(exc), {}
    if isinstance(exc, msgspec.ValidationError):
        # Raised by the strict decoding of request bodies (server/bodies.py); answered like
        # Litestar's own validation errors, where a fault of the whole body is "body".
        path, reason = field_from_msgspec(str(exc))
        fault = FieldError(field=path or "body", reason=reason)
        return problem(ErrorCode.VALIDATION_FAILED, reason, field=fault.field, errors=[fault]), {}
    if isinstance(exc, msgspec.DecodeError):
        return problem(ErrorCode.MALFORMED_BODY, str(exc)), {}
    if isinstance(exc, NotAuthorizedException):
        return problem(ErrorCode.NOT_AUTHENTICATED, str(exc.detail)), {}
    if isinstance(exc, PermissionDeniedException):
        return problem(ErrorCode.FORBIDDEN, str(exc.detail)), {}
    if isinstance(exc, HTTPException) and exc.status_code < 500:
        code = _STATUS_CODES.get(exc.status_code, ErrorCode.MALFORMED_BODY)
        headers = dict(exc.headers or {})
        return problem(code, str(exc.detail)), headers
    if is_unavailable(exc):
        # Locked past the busy timeout, restarting, unreachable: the request did nothing
        # (a transaction is all or nothing), so the phone's retry is safe, and expected.
        log.warning("store_unavailable", error_type=type(exc).__name__, detail=str(exc))
        return problem(ErrorCode.STORE_UNAVAILABLE), {"Retry-After": str(RETRY_AFTER_S)}
    log.exception("unhandled_error", error_type=type(exc).__name__)
    return problem(ErrorCode.INTERNAL_ERROR), {}


def problem_response(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    body, headers = to_problem(exc)
    request_id = structlog.contextvars.get_contextvars().get("request_id")
    body = msgspec.structs.replace(body, instance=request.url.path, request_id=request_id)
    if body.status == 401:
        headers.setdefault("WWW-Authenticate", 'Bearer realm="beatsync"')
    return Response(
        content=msgspec.json.encode(body),
        status_code=body.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )

"""Browser sessions for the supervisors' console: the access token in an HttpOnly cookie
no script can read, the refresh token in another sent only to the session's own paths,
and a CSRF token (double submit) that scripts of the console's own origin read and echo.

The CSRF token is derived from the session id with the server's secret, so a cookie set
by anyone else (a sibling subdomain, say) cannot match a session it does not know, and
it stays the same across refreshes, which keep the session id.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any, Literal

from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie

from server.auth.principal import Principal
from server.auth.schemas import TokenOut
from server.errors import ErrorCode, PermissionDenied
from server.settings import Settings

ACCESS_COOKIE = "beatsync_access"
REFRESH_COOKIE = "beatsync_refresh"
CSRF_COOKIE = "beatsync_csrf"
CSRF_HEADER = "X-CSRF-Token"
SESSION_PATH = "/api/v1/auth/session"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SAME_SITE: Literal["strict"] = "strict"


def csrf_token(secret: str, session_id: str) -> str:
    mac = hmac.new(secret.encode(), b"csrf:" + session_id.encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).decode().rstrip("=")


def secure(connection: ASGIConnection[Any, Any, Any, Any], settings: Settings) -> bool:
    """Secure cookies over HTTPS, and always in production, where a TLS-terminating
    proxy speaks plain HTTP to the server."""
    return connection.url.scheme == "https" or settings.env == "production"


def session_cookies(
    tokens: TokenOut, csrf: str, settings: Settings, *, https: bool
) -> list[Cookie]:
    refresh_age = settings.refresh_token_ttl_seconds
    common: dict[str, Any] = {"secure": https, "samesite": SAME_SITE}
    return [
        Cookie(
            key=ACCESS_COOKIE,
            value=tokens.access_token,
            path="/",
            httponly=True,
            max_age=tokens.expires_in,
            **common,
        ),
        Cookie(
            key=REFRESH_COOKIE,
            value=tokens.refresh_token or "",
            path=SESSION_PATH,
            httponly=True,
            max_age=refresh_age,
            **common,
        ),
        # Readable by the console's scripts, which echo it in X-CSRF-Token.
        Cookie(
            key=CSRF_COOKIE, value=csrf, path="/", httponly=False, max_age=refresh_age, **common
        ),
    ]


def cleared_cookies(*, https: bool) -> list[Cookie]:
    common: dict[str, Any] = {"secure": https, "samesite": SAME_SITE, "max_age": 0, "value": ""}
    return [
        Cookie(key=ACCESS_COOKIE, path="/", httponly=True, **common),
        Cookie(key=REFRESH_COOKIE, path=SESSION_PATH, httponly=True, **common),
        Cookie(key=CSRF_COOKIE, path="/", httponly=False, **common),
    ]


def check_double_submit(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The header must equal the cookie: a page of another site can read neither.
    Returns the token. Raises PermissionDenied(CSRF_FAILED)."""
    header = connection.headers.get(CSRF_HEADER.lower(), "")
    cookie = connection.cookies.get(CSRF_COOKIE, "")
    if not header or not hmac.compare_digest(header.encode(), cookie.encode()):
        raise PermissionDenied(
            f"send the {CSRF_COOKIE} cookie's value in {CSRF_HEADER}",
            code=ErrorCode.CSRF_FAILED,
        )
    return header


def check_csrf(
    connection: ASGIConnection[Any, Any, Any, Any], secret: str, session_id: str
) -> None:
    """Double submit, and the token must be this session's own."""
    token = check_double_submit(connection)
    if not hmac.compare_digest(token.encode(), csrf_token(secret, session_id).encode()):
        raise PermissionDenied(
            f"{CSRF_HEADER} is not this session's; log in again", code=ErrorCode.CSRF_FAILED
        )


def check_principal_csrf(
    connection: ASGIConnection[Any, Any, Any, Any], secret: str, principal: Principal
) -> None:
    if connection.scope.get("method", "GET") in UNSAFE_METHODS:
        check_csrf(connection, secret, principal.session_id)

"""Request context (id, timing, access log) and authentication: a bearer token, or the
console's session cookie with its CSRF check."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import structlog
from litestar.connection import ASGIConnection
from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from server.auth import cookies, handin
from server.auth.service import AuthService
from server.errors import AuthError, ErrorCode
from server.logs import get_logger
from server.metrics import UNMATCHED, Metrics

log = get_logger("beatsync.http")
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")

# Paths anyone may call: health, the login family, the API description, and the web
# app's static files (it logs in with the API once loaded; nothing in it is a secret).
# /metrics checks its own caller (BEATSYNC_METRICS_TOKEN or loopback, server/health.py).
PUBLIC_PATHS = [
    r"^/healthz$",
    r"^/readyz$",
    r"^/metrics$",
    r"^/api/v1/auth/(login|refresh|token|password)$",
    r"^/schema",
    r"^/$",
    r"^/(app|console)(/|$)",
]


class RequestContextMiddleware:
    """Give every request an id, bind it to every log line, log one access line, and
    count it in the metrics by its route template (event streams: while open)."""

    def __init__(self, app: ASGIApp, metrics: Metrics | None = None) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500
        stream_gauge: Any = None

        async def send_with_id(message: Message) -> None:
            nonlocal status, stream_gauge
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableScopeHeaders.from_message(message)
                headers["X-Request-ID"] = request_id
                if self.metrics is not None and (headers.get("content-type") or "").startswith(
                    "text/event-stream"
                ):
                    route = scope.get("path_template") or UNMATCHED
                    stream_gauge = self.metrics.streams.labels(route)
                    stream_gauge.inc()
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            if self.metrics is not None:
                if stream_gauge is not None:
                    stream_gauge.dec()
                self.metrics.observe_request(
                    scope.get("method") or "",
                    scope.get("path_template") or UNMATCHED,
                    status,
                    # A stream's length is how long a phone stayed, not how fast we were.
                    -1.0 if stream_gauge is not None else elapsed,
                )
            # The path carries ids only; the query string is not logged, it may carry
            # filters typed by a person.
            log.info(
                "request",
                method=scope.get("method"),
                path=scope.get("path"),
                status=status,
                ms=round(elapsed * 1000, 2),
            )


class BearerAuthMiddleware(AbstractAuthenticationMiddleware):
    """Every non-public request carries a valid access token from a live device."""

    def __init__(self, app: ASGIApp, **options: Any) -> None:
        # Litestar lets OPTIONS through unauthenticated by default, for CORS preflights
        # this API does not serve; the role guards then found no caller and answered 500.
        options.setdefault("exclude_http_methods", ())
        super().__init__(app, **options)

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        service: AuthService = connection.app.state.auth_service
        header = connection.headers.get("authorization")
        session = connection.cookies.get(cookies.ACCESS_COOKIE) if header is None else None
        if session:
            principal = service.authenticate(session)
            # A browser sends cookies with whatever a page makes it send; a header it
            # sends only for the console's own scripts.
            cookies.check_principal_csrf(connection, service.settings.jwt_secret, principal)
            token = session
        else:
            scheme, _, token = (header or "").partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise AuthError(
                    "send 'Authorization: Bearer <access token>' (or the session cookie)",
                    code=ErrorCode.NOT_AUTHENTICATED,
                )
            token = token.strip()
            if (
                connection.scope.get("method") == "POST"
                and connection.scope["path"] == handin.HANDIN_PATH
                and handin.is_handin_token(token)
            ):
                # A cut-off phone handing in its outbox: this request, and no other.
                principal = service.authenticate_handin(token)
            else:
                principal = service.authenticate(token)
        structlog.contextvars.bind_contextvars(
            user_id=principal.user_id, device_id=principal.device_id
        )
        return AuthenticationResult(user=principal, auth=token)

"""What every server-sent event stream of the API shares: the response, and the check
that ends a stream once its token, session or device stops being valid."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

from litestar import Request
from litestar.response import Stream

from server.auth.service import AuthService
from server.errors import AuthError


def still_allowed(request: Request[Any, Any, Any]) -> Callable[[], bool]:
    """A check the stream runs at each heartbeat: is this request's token still good?"""
    auth: AuthService = request.app.state.auth_service
    token = str(request.auth)

    def check() -> bool:
        try:
            auth.authenticate(token)
        except AuthError:
            return False
        return True

    return check


def event_stream_response(body: AsyncIterator[str | bytes]) -> Stream:
    return Stream(
        body,
        media_type="text/event-stream",
        # nginx and kin buffer responses by default, which would hold events back.
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )

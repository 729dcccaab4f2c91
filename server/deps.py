"""Dependencies by name: what a handler may ask for. Tests swap them through create_app."""

from __future__ import annotations

from typing import Any

from litestar import Request

from server.auth.principal import Principal


def provide_principal(request: Request[Any, Any, Any]) -> Principal:
    user = request.user
    if not isinstance(user, Principal):  # pragma: no cover - the middleware guarantees it
        raise TypeError("no authenticated principal on this request")
    return user


def client_ip(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else "unknown"

"""Dependencies by name: what a handler may ask for. Tests swap them through create_app."""

from __future__ import annotations

from typing import Any

from litestar import Request

from server.auth.principal import Principal
from server.proxies import client_address
from server.settings import Settings


def provide_principal(request: Request[Any, Any, Any]) -> Principal:
    user = request.user
    if not isinstance(user, Principal):  # pragma: no cover - the middleware guarantees it
        raise TypeError("no authenticated principal on this request")
    return user


def client_ip(request: Request[Any, Any, Any], settings: Settings) -> str:
    """The client's address: the peer, or what a trusted proxy says (server/proxies.py)."""
    forwarded = {
        name: ",".join(request.headers.getall(name, []))
        for name in ("forwarded", "x-forwarded-for")
    }
    return client_address(
        request.client.host if request.client else None,
        forwarded,
        settings.trusted_proxy_networks(),
    )

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency

from server.auth.principal import Principal
from server.store.interface import Store


class Health(msgspec.Struct, kw_only=True):
    status: str
    seq: int


class HealthController(Controller):
    path = "/healthz"
    tags = ["health"]

    @get("/", operation_id="health", sync_to_thread=True, security=[])
    def health(self, store: NamedDependency[Store]) -> Health:
        """Liveness and a store round trip; no authentication."""
        return Health(status="ok", seq=store.current_seq())


class Pong(msgspec.Struct, kw_only=True):
    user_id: int
    device_id: str


class PingController(Controller):
    path = "/api/v1/ping"
    tags = ["health"]

    @get("/", operation_id="ping", sync_to_thread=False)
    def ping(self, principal: NamedDependency[Principal]) -> Pong:
        """Does nothing but check the token: an app's connectivity test, and the HTTP
        ceiling the sync benchmark measures beside the real endpoints."""
        return Pong(user_id=principal.user_id, device_id=principal.device_id)

    @post("/", operation_id="pingWithBody", status_code=200)
    async def ping_with_body(
        self, request: Request[Any, Any, Any], principal: NamedDependency[Principal]
    ) -> Pong:
        """Reads a body of any size the server accepts and discards it."""
        await request.body()
        return Pong(user_id=principal.user_id, device_id=principal.device_id)

from __future__ import annotations

import msgspec
from litestar import Controller, get
from litestar.di import NamedDependency

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

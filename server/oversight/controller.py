"""HTTP face of oversight."""

from __future__ import annotations

from litestar import Controller, get
from litestar.di import NamedDependency, Provide

from server.auth.principal import Principal
from server.guards import supervisors_only
from server.oversight.schemas import OversightPage
from server.oversight.service import OversightService
from server.settings import Settings
from server.store.interface import Store


def provide_oversight(
    store: NamedDependency[Store], settings: NamedDependency[Settings]
) -> OversightService:
    return OversightService(store, settings)


class OversightController(Controller):
    path = "/api/v1/oversight"
    tags = ["oversight"]
    guards = [supervisors_only]
    dependencies = {"oversight": Provide(provide_oversight, sync_to_thread=False)}

    @get("/officers", operation_id="officerOversight", sync_to_thread=True)
    def officers(
        self,
        principal: NamedDependency[Principal],
        oversight: NamedDependency[OversightService],
    ) -> OversightPage:
        """Each officer in the caller's jurisdiction: devices, last seen and last push,
        open and overdue warnings, sync errors, photos not yet uploaded."""
        return oversight.officers(principal)

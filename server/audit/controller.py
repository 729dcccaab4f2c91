from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.di import NamedDependency, Provide
from litestar.params import FromQuery, QueryParameter

from server.audit.schemas import AuditPage
from server.audit.service import AuditService
from server.auth.principal import Principal
from server.bounds import ID_MAX
from server.guards import supervisors_only
from server.store.interface import Store


def provide_audit_service(store: NamedDependency[Store]) -> AuditService:
    return AuditService(store)


class AuditController(Controller):
    path = "/api/v1/audit"
    tags = ["audit"]
    guards = [supervisors_only]
    dependencies = {"audit": Provide(provide_audit_service, sync_to_thread=False)}

    @get("/", operation_id="listAuditEntries", sync_to_thread=True)
    def list_entries(
        self,
        principal: NamedDependency[Principal],
        audit: NamedDependency[AuditService],
        entity: FromQuery[str | None] = None,
        entity_id: FromQuery[str | None] = None,
        after_id: Annotated[int, QueryParameter(ge=0, le=ID_MAX)] = 0,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
    ) -> AuditPage:
        """Changes of state in the caller's jurisdiction, oldest first (page by after_id)."""
        return audit.list(
            principal, entity=entity, entity_id=entity_id, after_id=after_id, limit=limit
        )

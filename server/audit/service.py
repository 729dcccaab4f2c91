"""Reading the audit log within a jurisdiction."""

from __future__ import annotations

from server.audit.schemas import AuditEntryOut, AuditPage
from server.auth.principal import Principal
from server.store.interface import Store


class AuditService:
    def __init__(self, store: Store) -> None:
        self.store = store

    def list(
        self,
        principal: Principal,
        *,
        entity: str | None,
        entity_id: str | None,
        after_id: int,
        limit: int,
    ) -> AuditPage:
        scope = principal.jurisdiction
        entries = self.store.list_audit(
            column=scope.column,
            value=scope.value,
            entity=entity,
            entity_id=entity_id,
            after_id=after_id,
            limit=limit,
        )
        items = [
            AuditEntryOut(
                id=e.id,
                at=e.at,
                actor_user_id=e.actor_user_id,
                actor_device_id=e.actor_device_id,
                action=e.action,
                entity=e.entity,
                entity_id=e.entity_id,
                before=e.before,
                after=e.after,
                hash=e.hash,
            )
            for e in entries
        ]
        return AuditPage(items=items, next_after_id=items[-1].id if len(items) == limit else None)

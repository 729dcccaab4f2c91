from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromQuery, JSONBody, QueryParameter

from server.auth.principal import Principal
from server.bounds import ID_MAX, PathId
from server.conflicts.schemas import ConflictOut, ConflictPage, RejectedPage, ResolveIn
from server.conflicts.service import ConflictService
from server.guards import supervisors_only
from server.store.interface import Store

Limit = Annotated[int, QueryParameter(ge=1, le=500)]
AfterId = Annotated[int, QueryParameter(ge=0, le=ID_MAX)]


def provide_conflict_service(store: NamedDependency[Store]) -> ConflictService:
    return ConflictService(store)


class ConflictController(Controller):
    path = "/api/v1"
    tags = ["conflicts"]
    guards = [supervisors_only]
    dependencies = {"conflicts": Provide(provide_conflict_service, sync_to_thread=False)}

    @get("/conflicts", operation_id="listConflicts", sync_to_thread=True)
    def list_conflicts(
        self,
        principal: NamedDependency[Principal],
        conflicts: NamedDependency[ConflictService],
        status: FromQuery[str | None] = None,
        after_id: AfterId = 0,
        limit: Limit = 100,
    ) -> ConflictPage:
        """Sync conflicts in the caller's jurisdiction with both sides and the rule."""
        return conflicts.list(principal, status, after_id, limit)

    @get("/conflicts/{conflict_id:int}", operation_id="getConflict", sync_to_thread=True)
    def get_conflict(
        self,
        principal: NamedDependency[Principal],
        conflicts: NamedDependency[ConflictService],
        conflict_id: PathId,
    ) -> ConflictOut:
        return conflicts.get(principal, conflict_id)

    @post(
        "/conflicts/{conflict_id:int}/resolve",
        operation_id="resolveConflict",
        status_code=200,
        sync_to_thread=True,
    )
    def resolve(
        self,
        principal: NamedDependency[Principal],
        conflicts: NamedDependency[ConflictService],
        conflict_id: PathId,
        data: JSONBody[ResolveIn],
    ) -> ConflictOut:
        """Uphold the rule's result, or prefer the side it overrode (reaches the phones)."""
        return conflicts.resolve(principal, conflict_id, data)

    @get("/rejected-mutations", operation_id="listRejectedMutations", sync_to_thread=True)
    def rejected(
        self,
        principal: NamedDependency[Principal],
        conflicts: NamedDependency[ConflictService],
        after_id: AfterId = 0,
        limit: Limit = 100,
    ) -> RejectedPage:
        """What phones sent that could not be applied, kept for review."""
        return conflicts.rejected(principal, after_id, limit)

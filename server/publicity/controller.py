"""HTTP face of publicity tasks: supervisors plan and change them, everyone reads theirs."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from litestar import Controller, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromQuery, JSONBody, QueryParameter

from server.auth.principal import Principal
from server.bounds import PathId
from server.guards import staff_only, supervisors_only
from server.publicity.schemas import (
    PublicityPage,
    PublicitySessionsOut,
    PublicityTaskIn,
    PublicityTaskOut,
    PublicityTaskPatch,
)
from server.publicity.service import PublicityService
from server.store.interface import Store
from server.store.records import PublicityStatus


def provide_publicity_service(store: NamedDependency[Store]) -> PublicityService:
    return PublicityService(store)


Limit = Annotated[int, QueryParameter(ge=1, le=500)]


class PublicityTaskController(Controller):
    path = "/api/v1/publicity-tasks"
    tags = ["publicity"]
    guards = [staff_only]
    dependencies = {"publicity": Provide(provide_publicity_service, sync_to_thread=False)}

    @post(
        "/",
        operation_id="createPublicityTask",
        status_code=201,
        guards=[supervisors_only],
        sync_to_thread=True,
    )
    def create(
        self,
        principal: NamedDependency[Principal],
        publicity: NamedDependency[PublicityService],
        data: JSONBody[PublicityTaskIn],
    ) -> PublicityTaskOut:
        """Plan a task at a grid of the caller's jurisdiction for officers of its station."""
        return publicity.create(principal, data)

    @get("/", operation_id="listPublicityTasks", sync_to_thread=True)
    def list_tasks(
        self,
        principal: NamedDependency[Principal],
        publicity: NamedDependency[PublicityService],
        status: FromQuery[list[PublicityStatus] | None] = None,
        active_on: FromQuery[date | None] = None,
        limit: Limit = 100,
        cursor: FromQuery[str | None] = None,
    ) -> PublicityPage:
        """Tasks in the caller's jurisdiction (an officer: those they are assigned), by id.

        `active_on` keeps the tasks whose window includes that day.
        """
        return publicity.list_tasks(principal, status or (), active_on, limit, cursor)

    @get("/{task_id:int}", operation_id="getPublicityTask", sync_to_thread=True)
    def get_task(
        self,
        principal: NamedDependency[Principal],
        publicity: NamedDependency[PublicityService],
        task_id: PathId,
    ) -> PublicityTaskOut:
        return publicity.get(principal, task_id)

    @get("/{task_id:int}/sessions", operation_id="listPublicitySessions", sync_to_thread=True)
    def sessions(
        self,
        principal: NamedDependency[Principal],
        publicity: NamedDependency[PublicityService],
        task_id: PathId,
    ) -> PublicitySessionsOut:
        """What was held: the task's visit log (held at, attendance, materials, photos,
        review), oldest first, and the totals of the entries not superseded."""
        return publicity.sessions(principal, task_id)

    @patch(
        "/{task_id:int}",
        operation_id="updatePublicityTask",
        guards=[supervisors_only],
        sync_to_thread=True,
    )
    def update(
        self,
        principal: NamedDependency[Principal],
        publicity: NamedDependency[PublicityService],
        task_id: PathId,
        data: JSONBody[PublicityTaskPatch],
    ) -> PublicityTaskOut:
        """Change fields, officers or status; done and cancelled tasks no longer change."""
        return publicity.update(principal, task_id, data)

"""HTTP face of warnings: the platform's ingest, and people's lists and actions."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import anyio
from litestar import Controller, Request, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromQuery, JSONBody, QueryParameter

from server.auth.principal import Principal
from server.bounds import PathId, QueryId
from server.guards import platform_only, staff_only, supervisors_only
from server.settings import Settings
from server.store.interface import Store
from server.store.queries import WarningQuery
from server.store.records import Queue, WarningState
from server.warnings.schemas import (
    CancelIn,
    IngestOut,
    ReassignIn,
    WarningBatchIn,
    WarningOut,
    WarningPage,
    WarningPatch,
)
from server.warnings.service import WarningService
from server.warnings.vocab import FraudType, RiskLevel


def provide_warning_service(
    store: NamedDependency[Store], settings: NamedDependency[Settings]
) -> WarningService:
    return WarningService(
        store, settings.deadline_minutes(), utc_offset_minutes=settings.report_utc_offset_minutes
    )


def _document_batch_body(data: JSONBody[WarningBatchIn]) -> None:  # pragma: no cover - never called
    """Describes the ingest body in the OpenAPI document.

    The ingest handler decodes the body itself, item by item, so that one bad warning is
    refused alone; this unused dependency is how its body type still gets documented.
    """


class PlatformWarningController(Controller):
    path = "/api/v1/platform/warnings"
    tags = ["platform"]
    guards = [platform_only]
    dependencies = {
        "warnings": Provide(provide_warning_service, sync_to_thread=False),
        "batch_body": Provide(_document_batch_body, sync_to_thread=False),
    }

    @post("/", operation_id="ingestWarnings", status_code=200)
    async def ingest(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        warnings: NamedDependency[WarningService],
    ) -> IngestOut:
        """Deliver up to 1,000 warnings; each is routed now and gets its own verdict.

        Resending a warning (same platform_id) returns the same result and creates nothing.
        """
        body = await request.body()
        return await anyio.to_thread.run_sync(warnings.ingest, principal, body)


Limit = Annotated[int, QueryParameter(ge=1, le=500)]


class WarningController(Controller):
    path = "/api/v1/warnings"
    tags = ["warnings"]
    guards = [staff_only]
    dependencies = {"warnings": Provide(provide_warning_service, sync_to_thread=False)}

    @get("/", operation_id="listWarnings", sync_to_thread=True)
    def list_warnings(
        self,
        principal: NamedDependency[Principal],
        warnings: NamedDependency[WarningService],
        states: Annotated[list[WarningState] | None, QueryParameter(name="state")] = None,
        station_id: FromQuery[str | None] = None,
        county_id: FromQuery[str | None] = None,
        officer_id: QueryId = None,
        queue: FromQuery[Queue | None] = None,
        risk_level: FromQuery[RiskLevel | None] = None,
        fraud_type: FromQuery[FraudType | None] = None,
        overdue: FromQuery[bool | None] = None,
        past_deadline: FromQuery[bool | None] = None,
        received_from: FromQuery[date | None] = None,
        received_to: FromQuery[date | None] = None,
        limit: Limit = 100,
        cursor: FromQuery[str | None] = None,
    ) -> WarningPage:
        """Warnings in the caller's jurisdiction (an officer: their own), soonest deadline first.

        `overdue`: open, never contacted, past its risk level's minutes to first contact
        since it arrived (as reports and escalation count it); `past_deadline`: open and
        past the platform's deadline_at. `received_from`/`received_to`: arrived on those
        local days (inclusive), the days the reports count a warning in."""
        query = WarningQuery(
            states=tuple(s.value for s in states or ()),
            station_id=station_id,
            county_id=county_id,
            officer_id=officer_id,
            queue=queue.value if queue else None,
            risk_level=risk_level.value if risk_level else None,
            fraud_type=fraud_type.value if fraud_type else None,
            limit=limit,
        )
        return warnings.list(
            principal, query, cursor, overdue, past_deadline, (received_from, received_to)
        )

    @get("/{warning_id:int}", operation_id="getWarning", sync_to_thread=True)
    def get_warning(
        self,
        principal: NamedDependency[Principal],
        warnings: NamedDependency[WarningService],
        warning_id: PathId,
    ) -> WarningOut:
        return warnings.get(principal, warning_id)

    @post(
        "/{warning_id:int}/reassign",
        operation_id="reassignWarning",
        status_code=200,
        guards=[supervisors_only],
        sync_to_thread=True,
    )
    def reassign(
        self,
        principal: NamedDependency[Principal],
        warnings: NamedDependency[WarningService],
        warning_id: PathId,
        data: JSONBody[ReassignIn],
    ) -> WarningOut:
        """Give the warning to another officer of the caller's jurisdiction."""
        return warnings.reassign(principal, warning_id, data)

    @post(
        "/{warning_id:int}/cancel",
        operation_id="cancelWarning",
        status_code=200,
        guards=[supervisors_only],
        sync_to_thread=True,
    )
    def cancel(
        self,
        principal: NamedDependency[Principal],
        warnings: NamedDependency[WarningService],
        warning_id: PathId,
        data: JSONBody[CancelIn],
    ) -> WarningOut:
        return warnings.cancel(principal, warning_id, data)

    @patch(
        "/{warning_id:int}",
        operation_id="updateWarningDeadline",
        guards=[supervisors_only],
        sync_to_thread=True,
    )
    def change_deadline(
        self,
        principal: NamedDependency[Principal],
        warnings: NamedDependency[WarningService],
        warning_id: PathId,
        data: JSONBody[WarningPatch],
    ) -> WarningOut:
        return warnings.patch(principal, warning_id, data)

"""HTTP face of escalation: the steps in a jurisdiction, a stream of new ones, a pass now."""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import FromQuery, HeaderParameter, QueryParameter
from litestar.response import Stream

from server.auth.principal import Principal
from server.bounds import ID_MAX, QueryId
from server.escalation import service as escalation
from server.escalation.notifier import UnitNotifier
from server.escalation.schemas import EscalationLevel, EscalationPage, RunOut
from server.escalation.service import EscalationService, escalation_stream
from server.guards import admin_only, supervisors_only
from server.settings import Settings
from server.store.interface import Store
from server.streams import event_stream_response, still_allowed

Limit = Annotated[int, QueryParameter(ge=1, le=500)]
AfterId = Annotated[int, QueryParameter(ge=0, le=ID_MAX)]


def provide_escalation_service(
    store: NamedDependency[Store], settings: NamedDependency[Settings]
) -> EscalationService:
    return EscalationService(store, settings)


def provide_unit_notifier(state: State) -> UnitNotifier:
    notifier: UnitNotifier = state.unit_notifier
    return notifier


class EscalationController(Controller):
    path = "/api/v1/escalations"
    tags = ["escalation"]
    guards = [supervisors_only]
    dependencies = {
        "escalations": Provide(provide_escalation_service, sync_to_thread=False),
        "unit_notifier": Provide(provide_unit_notifier, sync_to_thread=False),
    }

    @get("/", operation_id="listEscalations", sync_to_thread=True)
    def list_escalations(
        self,
        principal: NamedDependency[Principal],
        escalations: NamedDependency[EscalationService],
        level: FromQuery[EscalationLevel | None] = None,
        warning_id: QueryId = None,
        after_id: AfterId = 0,
        limit: Limit = 100,
    ) -> EscalationPage:
        """Escalation steps of warnings in the caller's jurisdiction, oldest first."""
        return escalations.list(
            principal, level.value if level else None, warning_id, after_id, limit
        )

    @post("/run", operation_id="runEscalation", status_code=200, guards=[admin_only])
    async def run(
        self,
        store: NamedDependency[Store],
        settings: NamedDependency[Settings],
        unit_notifier: NamedDependency[UnitNotifier],
    ) -> RunOut:
        """Run an escalation pass now (the server also runs one every
        BEATSYNC_ESCALATION_INTERVAL seconds); returns how many steps it recorded."""
        count = await anyio.to_thread.run_sync(escalation.run_once, store, settings, unit_notifier)
        return RunOut(escalated=count)

    @get("/events", operation_id="escalationEvents", media_type="text/event-stream")
    async def events(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        escalations: NamedDependency[EscalationService],
        unit_notifier: NamedDependency[UnitNotifier],
        last_event_id: Annotated[
            int | None, HeaderParameter(name="Last-Event-ID", ge=0, le=ID_MAX, required=False)
        ] = None,
        heartbeat: Annotated[int, QueryParameter(ge=1, le=60)] = 15,
    ) -> Stream:
        """Server-sent events: `escalation` (id = the step's id, data = the step) each time
        a warning is escalated to the caller's level in their unit; `: ping` every
        `heartbeat` seconds. With `Last-Event-ID` the steps missed come first."""
        return event_stream_response(
            escalation_stream(
                escalations,
                unit_notifier,
                principal,
                since=last_event_id,
                still_allowed=still_allowed(request),
                heartbeat=heartbeat,
            )
        )

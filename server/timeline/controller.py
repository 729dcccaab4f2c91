"""HTTP face of a warning's timeline."""

from __future__ import annotations

from litestar import Controller, get
from litestar.di import NamedDependency, Provide

from server.auth.principal import Principal
from server.bounds import PathId
from server.guards import staff_only
from server.settings import Settings
from server.store.interface import Store
from server.timeline.schemas import Timeline
from server.timeline.service import TimelineService


def provide_timeline_service(
    store: NamedDependency[Store], settings: NamedDependency[Settings]
) -> TimelineService:
    return TimelineService(store, settings)


class TimelineController(Controller):
    path = "/api/v1/warnings"
    tags = ["warnings"]
    guards = [staff_only]
    dependencies = {"timelines": Provide(provide_timeline_service, sync_to_thread=False)}

    @get("/{warning_id:int}/timeline", operation_id="warningTimeline", sync_to_thread=True)
    def timeline(
        self,
        principal: NamedDependency[Principal],
        timelines: NamedDependency[TimelineService],
        warning_id: PathId,
    ) -> Timeline:
        """Everything that happened to a warning, oldest first, each event with `at`, its
        actor and a `kind`: issued, routed, dispatched, reassigned, returned_to_queue,
        cancelled, deadline_changed, visit, review, conflict, conflict_resolved,
        escalated, outcome_sent (with the webhook's delivery when webhooks are on), and
        changed for any other audited change. An officer reads their own warnings'; a
        supervisor those in their jurisdiction; any other answers 404 like a missing one."""
        return timelines.timeline(principal, warning_id)

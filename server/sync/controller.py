"""HTTP face of sync: a device pulls its scope and pushes what it recorded offline."""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import FromQuery, HeaderParameter, JSONBody, QueryParameter
from litestar.response import Stream

from server.auth.principal import Principal
from server.bounds import ID_MAX
from server.guards import allow
from server.metrics import Metrics
from server.store.interface import Store
from server.store.records import Role
from server.streams import event_stream_response, still_allowed
from server.sync.events import ScopeNotifier, event_stream
from server.sync.service import SyncService
from sync.protocol import MAX_PULL_LIMIT, PullResponse, PushRequest, PushResponse, WaitResponse

MAX_WAIT_SECONDS = 60


def _document_push_body(data: JSONBody[PushRequest]) -> None:  # pragma: no cover
    """Documents the push body in OpenAPI; the handler decodes it mutation by mutation."""


def provide_sync_service(store: NamedDependency[Store]) -> SyncService:
    return SyncService(store)


def provide_notifier(state: State) -> ScopeNotifier:
    notifier: ScopeNotifier = state.notifier
    return notifier


class SyncController(Controller):
    path = "/api/v1/sync"
    tags = ["sync"]
    guards = [allow(Role.OFFICER)]
    dependencies = {
        "sync": Provide(provide_sync_service, sync_to_thread=False),
        "notifier": Provide(provide_notifier, sync_to_thread=False),
    }

    @get("/pull", operation_id="syncPull", sync_to_thread=True)
    def pull(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        sync: NamedDependency[SyncService],
        cursor: FromQuery[str | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_PULL_LIMIT)] = 200,
    ) -> PullResponse:
        """What changed in this officer's scope since `cursor` (none: everything, most
        urgent first). Pass back the returned cursor; repeat while has_more."""
        page = sync.pull(principal, cursor, limit)
        metrics: Metrics = request.app.state.metrics
        metrics.pulled(len(page.changes))
        return page

    @post(
        "/push",
        operation_id="syncPush",
        status_code=200,
        dependencies={"push_body": Provide(_document_push_body, sync_to_thread=False)},
    )
    async def push(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        sync: NamedDependency[SyncService],
    ) -> PushResponse:
        """Apply recorded mutations in order; one verdict each. Safe to resend.

        The body is a PushRequest. A malformed mutation is rejected alone, so one bad
        record never blocks the ones queued behind it on the phone.
        """
        body = await request.body()
        response = await anyio.to_thread.run_sync(sync.push_raw, principal, body)
        metrics: Metrics = request.app.state.metrics
        metrics.pushed(response.results)
        return response

    @get(
        "/events",
        operation_id="syncEvents",
        media_type="text/event-stream",
    )
    async def events(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        store: NamedDependency[Store],
        notifier: NamedDependency[ScopeNotifier],
        last_event_id: Annotated[
            int | None, HeaderParameter(name="Last-Event-ID", ge=0, le=ID_MAX, required=False)
        ] = None,
        after: Annotated[int | None, QueryParameter(ge=0, le=ID_MAX)] = None,
        heartbeat: Annotated[int, QueryParameter(ge=1, le=MAX_WAIT_SECONDS)] = 15,
    ) -> Stream:
        """Server-sent events: `scope_changed` (id = data.seq: a seq at or past the change)
        whenever this officer's work changes; then pull. Resumable: with `Last-Event-ID` (or
        `after`) older than the newest change, the first event comes at once. A `: ping`
        comment every `heartbeat` seconds; the stream ends when the device, session or
        token stops being valid, and reconnecting then gets the reason as a problem."""
        body = event_stream(
            notifier,
            principal.user_id,
            since=last_event_id if last_event_id is not None else after,
            latest_change=store.latest_change,
            still_allowed=still_allowed(request),
            heartbeat=heartbeat,
        )
        return event_stream_response(body)

    @get("/wait", operation_id="syncWait")
    async def wait(
        self,
        principal: NamedDependency[Principal],
        store: NamedDependency[Store],
        notifier: NamedDependency[ScopeNotifier],
        after: Annotated[int, QueryParameter(ge=0, le=ID_MAX)] = 0,
        timeout: Annotated[int, QueryParameter(ge=1, le=MAX_WAIT_SECONDS)] = 25,
    ) -> WaitResponse:
        """Long-poll fallback for networks that break streams: answers at once with
        changed=true if this officer's work changed after `after` (a seq), else when it
        next changes or after `timeout` seconds with changed=false. Pass `seq` back."""
        # A phone that hangs up mid-poll keeps its subscription until the timeout: a
        # minute at most, cheaper than watching every poll for a disconnect.
        with notifier.subscribe(principal.user_id) as subscription:
            subscription.advance(store.latest_change(principal.user_id))
            seq = await subscription.changed_after(after, timeout)
        if seq > after:
            return WaitResponse(seq=seq, changed=True)
        return WaitResponse(seq=after, changed=False)

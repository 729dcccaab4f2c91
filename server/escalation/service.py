"""Deadlines and escalation: a warning not contacted (or not closed) in time goes up.

Times per risk level come from BEATSYNC_CONTACT_MINUTES and BEATSYNC_OUTCOME_MINUTES,
counted from the warning's arrival. When one passes, the warning is escalated to its
station's supervisor; BEATSYNC_ESCALATION_STEP_MINUTES later to the county; as many again
to the city. Each step is recorded once with its time (and audited), and pushed at once to
the open streams of the supervisors it goes to. A late visit still counts: it stops
further contact steps, and the report shows it as late.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from functools import partial

import anyio

from server.auth.principal import Principal
from server.escalation.notifier import LEVEL_COLUMN, Key, UnitNotifier
from server.escalation.schemas import EscalationOut, EscalationPage
from server.leases import JobLease
from server.logs import get_logger
from server.settings import Settings
from server.store.interface import Store
from server.store.records import Role
from server.store.supervision_records import EscalationRecord
from server.sync.events import RETRY_MS

log = get_logger("beatsync.escalation")
LIST_LIMIT = 100
ROLE_LEVEL = {
    Role.STATION_SUPERVISOR: "station",
    Role.COUNTY_SUPERVISOR: "county",
    Role.CITY_ADMIN: "city",
}


def escalation_out(step: EscalationRecord) -> EscalationOut:
    return EscalationOut(
        id=step.id,
        warning_id=step.warning_id,
        kind=step.kind,
        level=step.level,
        due_at=step.due_at,
        at=step.at,
        county_id=step.county_id,
        station_id=step.station_id,
    )


def run_once(store: Store, settings: Settings, notifier: UnitNotifier | None) -> int:
    """One escalation pass: record the steps due now and tell their supervisors."""
    steps = store.escalate(settings.deadline_minutes(), settings.escalation_step_minutes)
    if steps:
        log.info("escalated", steps=len(steps))
        if notifier is not None:
            notifier.publish(steps)
    return len(steps)


async def run_forever(
    store: Store, settings: Settings, notifier: UnitNotifier, lease: JobLease
) -> None:
    """A pass every interval, while this process holds the job's lease."""
    one_pass = partial(run_once, store, settings, notifier)
    while True:
        try:
            await anyio.to_thread.run_sync(lease.run_pass, one_pass)
        except Exception:
            log.exception("escalation_failed")
        await asyncio.sleep(settings.escalation_interval_seconds)


class EscalationService:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    def list(
        self,
        principal: Principal,
        level: str | None,
        warning_id: int | None,
        after_id: int,
        limit: int,
    ) -> EscalationPage:
        scope = principal.jurisdiction
        rows = self.store.list_escalations(
            scope.column,
            str(scope.value),
            level=level,
            warning_id=warning_id,
            after_id=after_id,
            limit=limit,
        )
        items = [escalation_out(r) for r in rows]
        return EscalationPage(
            items=items, next_after_id=items[-1].id if len(items) == limit else None
        )

    @staticmethod
    def stream_key(principal: Principal) -> Key:
        level = ROLE_LEVEL[principal.role]
        return level, str(getattr(principal, LEVEL_COLUMN[level]))


def _event(out: EscalationOut) -> bytes:
    from msgspec import json

    return b"id: %d\nevent: escalation\ndata: %s\n\n" % (out.id, json.encode(out))


async def escalation_stream(
    service: EscalationService,
    notifier: UnitNotifier,
    principal: Principal,
    *,
    since: int | None,
    still_allowed: Callable[[], bool],
    heartbeat: float,
) -> AsyncIterator[bytes]:
    """Steps that reached the caller's level in their unit, as they happen."""
    level, unit = service.stream_key(principal)
    column = LEVEL_COLUMN[level]

    def newer(after: int) -> list[EscalationRecord]:
        return service.store.list_escalations(
            column, unit, level=level, after_id=after, limit=LIST_LIMIT
        )

    with notifier.subscribe((level, unit)) as subscription:
        if since is None:
            latest = await anyio.to_thread.run_sync(
                lambda: service.store.list_escalations(column, unit, level=level, limit=10**9)
            )
            since = max((r.id for r in latest), default=0)
        sent = since
        yield b"retry: %d\n\n" % RETRY_MS
        loop = asyncio.get_running_loop()
        next_beat = loop.time() + heartbeat
        pending = True  # read once at the start: a resumed stream replays what it missed
        while True:
            if not pending:
                await subscription.changed_after(sent, next_beat - loop.time())
            pending = False
            rows = await anyio.to_thread.run_sync(newer, sent)
            for row in rows:
                sent = row.id
                yield _event(escalation_out(row))
            pending = len(rows) == LIST_LIMIT or subscription.seq > sent
            if loop.time() >= next_beat:
                if not still_allowed():
                    return
                next_beat = loop.time() + heartbeat
                yield b": ping\n\n"

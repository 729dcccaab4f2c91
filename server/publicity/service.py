"""Publicity tasks: plan one for officers of a grid's station, list, read, change."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta, timezone
from enum import StrEnum
from typing import Any

from msgspec import UNSET

from server.auth.principal import Principal
from server.bounds import ID_MAX
from server.errors import ConflictError, ErrorCode, InputError, NotFound
from server.logs import get_logger
from server.publicity.lifecycle import OPEN_STATUSES, check_editable, next_status
from server.publicity.schemas import (
    MaterialOut,
    PublicityPage,
    PublicitySessionOut,
    PublicitySessionsOut,
    PublicityTaskIn,
    PublicityTaskOut,
    PublicityTaskPatch,
)
from server.publicity.vocab import Audience, VenueKind
from server.store.interface import Store
from server.store.records import Actor, PublicityStatus, PublicityTask, Role

log = get_logger("beatsync.publicity")

# A window is a span of calendar days as officers in the city live them, not UTC days.
# China keeps one offset all year (no daylight saving), so a fixed offset is exact.
CITY_TIMEZONE = timezone(timedelta(hours=8), "Asia/Shanghai")


def city_today(now: datetime) -> date:
    return now.astimezone(CITY_TIMEZONE).date()


def is_overdue(task: PublicityTask, today: date) -> bool:
    return task.status in OPEN_STATUSES and task.window_end < today


def decode_cursor(cursor: str | None) -> int:
    if cursor is None:
        return 0
    # The length test comes first: int() refuses very long digit strings with ValueError.
    if not (cursor.isascii() and cursor.isdigit() and len(cursor) <= 19) or int(cursor) > ID_MAX:
        raise InputError("cursor is not one this server gave out", field="cursor")
    return int(cursor)


def _check_window(start: date, end: date, field: str) -> None:
    if end < start:
        raise InputError(
            f"window_end ({end}) is before window_start ({start})",
            field=field,
        )


class PublicityService:
    def __init__(self, store: Store) -> None:
        self.store = store

    # -- reading -------------------------------------------------------------------------

    def list_tasks(
        self,
        principal: Principal,
        statuses: Sequence[PublicityStatus],
        active_on: date | None,
        limit: int,
        cursor: str | None,
    ) -> PublicityPage:
        """Tasks in the caller's jurisdiction (an officer: those they are assigned), by id."""
        rows = self.store.list_publicity_tasks(
            principal.jurisdiction,
            statuses=tuple(s.value for s in statuses),
            after_id=decode_cursor(cursor),
            limit=limit,
            active_on=active_on,
        )
        next_cursor = str(rows[-1].id) if len(rows) == limit else None
        today = self._today()
        return PublicityPage(items=[to_out(r, today) for r in rows], next_cursor=next_cursor)

    def get(self, principal: Principal, task_id: int) -> PublicityTaskOut:
        return to_out(self._visible(principal, task_id), self._today())

    def sessions(self, principal: Principal, task_id: int) -> PublicitySessionsOut:
        self._visible(principal, task_id)
        records = self.store.publicity_sessions(task_id)
        replaced = {r.supersedes for r in records if r.supersedes}
        out = [
            PublicitySessionOut(
                entry_id=r.entry_id,
                officer_id=r.officer_id,
                supersedes=r.supersedes,
                superseded=r.entry_id in replaced,
                recorded_at=r.recorded_at,
                received_at=r.received_at,
                held_at=r.held_at,
                attendance=r.attendance,
                materials=[MaterialOut(kind=m.kind, count=m.count) for m in r.materials],
                notes=r.notes,
                photos=r.photos,
                flags=r.flags,
                completed=r.completed,
                review=r.review_decision,
                review_note=r.review_note,
            )
            for r in records
        ]
        current = [s for s in out if not s.superseded]
        return PublicitySessionsOut(
            task_id=task_id,
            sessions=out,
            attendance=sum(s.attendance or 0 for s in current),
            materials=sum(m.count for s in current for m in s.materials),
        )

    def _visible(self, principal: Principal, task_id: int) -> PublicityTask:
        task = self.store.get_publicity_task(task_id)
        what = f"publicity task {task_id}"
        # A task has no single officer column to scope by; an officer sees it when named.
        if principal.role == Role.OFFICER:
            if task is None or principal.user_id not in task.officer_ids:
                raise NotFound(f"{what} not found")
            return task
        principal.check_covers(task, what)
        assert task is not None  # noqa: S101 - check_covers raised otherwise
        return task

    def _today(self) -> date:
        return city_today(self.store.clock.now())

    # -- planning ------------------------------------------------------------------------

    def create(self, principal: Principal, data: PublicityTaskIn) -> PublicityTaskOut:
        _check_window(data.window_start, data.window_end, "window_end")
        grid = self.store.get_grid(data.grid_code)
        if grid is None or not principal.covers_unit(grid):
            raise NotFound(
                f"grid {data.grid_code} not found in your jurisdiction",
                code=ErrorCode.UNKNOWN_REFERENCE,
                field="grid_code",
            )
        officer_ids = self._check_officers(data.officer_ids, grid.station_id)
        fields: dict[str, Any] = {
            "title": data.title,
            "grid_code": grid.code,
            "city_id": grid.city_id,
            "county_id": grid.county_id,
            "station_id": grid.station_id,
            "venue_kind": data.venue_kind.value,
            "audience": data.audience.value,
            "window_start": data.window_start,
            "window_end": data.window_end,
            "status": PublicityStatus.PLANNED.value,
            "notes": data.notes,
            "created_by": principal.user_id,
        }
        task = self.store.create_publicity_task(fields, officer_ids, _actor(principal))
        log.info("publicity_created", task_id=task.id, station_id=task.station_id)
        return to_out(task, self._today())

    def update(
        self, principal: Principal, task_id: int, data: PublicityTaskPatch
    ) -> PublicityTaskOut:
        task = self._visible(principal, task_id)
        changes: dict[str, Any] = {}
        for name, value, current in (
            ("title", data.title, task.title),
            ("venue_kind", data.venue_kind, task.venue_kind),
            ("audience", data.audience, task.audience),
            ("window_start", data.window_start, task.window_start),
            ("window_end", data.window_end, task.window_end),
            ("notes", data.notes, task.notes),
        ):
            if value is not UNSET and value != current:
                changes[name] = value.value if isinstance(value, StrEnum) else value
        officer_ids: list[int] | None = None
        if data.officer_ids is not UNSET and set(data.officer_ids) != set(task.officer_ids):
            officer_ids = data.officer_ids

        if changes or officer_ids is not None:
            check_editable(task.status)
        if data.status is not UNSET and data.status != task.status:
            changes["status"] = next_status(task.status, data.status).value
        _check_window(
            changes.get("window_start", task.window_start),
            changes.get("window_end", task.window_end),
            "window_end" if data.window_end is not UNSET else "window_start",
        )
        if officer_ids is not None:
            officer_ids = self._check_officers(officer_ids, task.station_id)

        expected = task.version if data.expected_version is None else data.expected_version
        if not changes and officer_ids is None:
            # Nothing to write, but a stale version still means the caller's view is old.
            if expected != task.version:
                raise ConflictError(
                    f"publicity task {task_id} changed meanwhile (version {task.version},"
                    f" expected {expected}); reload and retry"
                )
            return to_out(task, self._today())
        updated = self.store.update_publicity_task(
            task.id, expected, changes, officer_ids, "publicity.update", _actor(principal)
        )
        log.info(
            "publicity_updated",
            task_id=updated.id,
            status=updated.status.value,
            fields=sorted(changes) + (["officer_ids"] if officer_ids is not None else []),
        )
        return to_out(updated, self._today())

    def _check_officers(self, officer_ids: Sequence[int], station_id: str) -> list[int]:
        """The distinct ids, if each is an active officer of the station; else 422."""
        unique = list(dict.fromkeys(officer_ids))
        bad = []
        for officer_id in unique:
            user = self.store.get_user(officer_id)
            if (
                user is None
                or user.role != Role.OFFICER
                or not user.active
                or user.station_id != station_id
            ):
                bad.append(officer_id)
        if bad:
            raise NotFound(
                f"not active officers of station {station_id}: {', '.join(map(str, bad))}",
                code=ErrorCode.UNKNOWN_REFERENCE,
                field="officer_ids",
            )
        return unique


def _actor(principal: Principal) -> Actor:
    return Actor(user_id=principal.user_id, device_id=principal.device_id)


def to_out(t: PublicityTask, today: date) -> PublicityTaskOut:
    return PublicityTaskOut(
        id=t.id,
        title=t.title,
        grid_code=t.grid_code,
        venue_kind=VenueKind(t.venue_kind),
        audience=Audience(t.audience),
        window_start=t.window_start,
        window_end=t.window_end,
        status=t.status,
        overdue=is_overdue(t, today),
        officer_ids=t.officer_ids,
        notes=t.notes,
        city_id=t.city_id,
        county_id=t.county_id,
        station_id=t.station_id,
        created_by=t.created_by,
        version=t.version,
        created_at=t.created_at,
        updated_at=t.updated_at,
    )

"""Routing a warning down: city -> county -> station -> the grid's responsible officer.

Rules, in order:
1. The grid code is known and its responsible officer is an active officer:
   the warning goes to that officer (queue `officer`, state `dispatched`).
2. The grid is known but has no active responsible officer: it waits in the grid's
   station queue (state `new`) for the station supervisor to assign it.
3. The grid code is unknown: it waits in a county queue, the county named by the
   warning's `county_code`, or else the county whose code is the first six digits of
   the grid code (Chinese village and community codes begin with their county's
   administrative code).
4. No county matches either: it waits in the city queue.
A warning is never dropped for an unknown place; its `routing_reason` says why it waits.
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from server.store.records import Grid, Level, Queue, Unit, User, WarningState


class Route(msgspec.Struct, frozen=True, kw_only=True):
    queue: Queue
    state: WarningState
    city_id: str
    county_id: str | None
    station_id: str | None
    officer_id: int | None
    reason: str | None


def route(
    *,
    city_id: str,
    grid_code: str,
    county_code: str | None,
    get_grid: Callable[[str], Grid | None],
    get_unit: Callable[[str], Unit | None],
    get_user: Callable[[int], User | None],
) -> Route:
    grid = get_grid(grid_code)
    if grid is not None and grid.city_id == city_id:
        officer = get_user(grid.officer_id) if grid.officer_id is not None else None
        if officer is not None and officer.active and officer.station_id == grid.station_id:
            return Route(
                queue=Queue.OFFICER,
                state=WarningState.DISPATCHED,
                city_id=city_id,
                county_id=grid.county_id,
                station_id=grid.station_id,
                officer_id=officer.id,
                reason=None,
            )
        return Route(
            queue=Queue.STATION,
            state=WarningState.NEW,
            city_id=city_id,
            county_id=grid.county_id,
            station_id=grid.station_id,
            officer_id=None,
            reason=f"grid {grid_code} has no active responsible officer",
        )
    for candidate in (county_code, grid_code[:6]):
        county = get_unit(candidate) if candidate else None
        if county is not None and county.level == Level.COUNTY and county.city_id == city_id:
            return Route(
                queue=Queue.COUNTY,
                state=WarningState.NEW,
                city_id=city_id,
                county_id=county.id,
                station_id=None,
                officer_id=None,
                reason=f"unknown grid code {grid_code}",
            )
    return Route(
        queue=Queue.CITY,
        state=WarningState.NEW,
        city_id=city_id,
        county_id=None,
        station_id=None,
        officer_id=None,
        reason=f"unknown grid code {grid_code} and no county matches it",
    )

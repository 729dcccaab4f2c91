"""The authenticated caller and the jurisdiction it may see and touch."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from server.errors import NotFound
from server.store.records import Jurisdiction, Role, User

SUPERVISOR_ROLES = frozenset({Role.STATION_SUPERVISOR, Role.COUNTY_SUPERVISOR, Role.CITY_ADMIN})


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    user_id: int
    login: str
    name: str
    role: Role
    unit_id: str
    city_id: str
    county_id: str | None
    station_id: str | None
    device_pk: int
    device_id: str
    session_id: str
    # Set only for a hand-in push (server/auth/handin.py): when the session was cut off.
    handin_revoked_at: datetime | None = None

    @classmethod
    def of(cls, user: User, device_pk: int, device_id: str, session_id: str) -> Principal:
        return cls(
            user_id=user.id,
            login=user.login,
            name=user.name,
            role=user.role,
            unit_id=user.unit_id,
            city_id=user.city_id,
            county_id=user.county_id,
            station_id=user.station_id,
            device_pk=device_pk,
            device_id=device_id,
            session_id=session_id,
        )

    @property
    def jurisdiction(self) -> Jurisdiction:
        """Officers see their own work; supervisors their unit and all below it."""
        if self.role == Role.OFFICER:
            return Jurisdiction(column="officer_id", value=self.user_id)
        if self.role == Role.STATION_SUPERVISOR and self.station_id:
            return Jurisdiction(column="station_id", value=self.station_id)
        if self.role == Role.COUNTY_SUPERVISOR and self.county_id:
            return Jurisdiction(column="county_id", value=self.county_id)
        return Jurisdiction(column="city_id", value=self.city_id)

    @property
    def is_supervisor(self) -> bool:
        return self.role in SUPERVISOR_ROLES

    def covers(self, row: Any) -> bool:
        """Whether a record with city/county/station(/officer) ids is in this jurisdiction."""
        scope = self.jurisdiction
        return bool(getattr(row, scope.column, None) == scope.value)

    def check_covers(self, row: Any, what: str) -> None:
        # Out-of-jurisdiction records answer exactly like missing ones: their existence
        # is itself information that a phone or another county should not get.
        if row is None or not self.covers(row):
            raise NotFound(f"{what} not found")

    def covers_unit(self, unit: Any) -> bool:
        """Whether a unit (or a user, grid: anything with unit ancestry ids) lies within."""
        scope = self.jurisdiction
        if scope.column == "officer_id":
            return False
        return bool(getattr(unit, scope.column, None) == scope.value)

"""Role guards for controllers; jurisdiction is checked by the services on each record."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from server.auth.principal import Principal
from server.errors import PermissionDenied
from server.store.records import Role

Guard = Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], None]


def allow(*roles: Role) -> Guard:
    allowed = frozenset(roles)

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        user = connection.user
        if not isinstance(user, Principal) or user.role not in allowed:
            raise PermissionDenied("allowed for: " + ", ".join(sorted(r.value for r in allowed)))

    return guard


SUPERVISORS = (Role.STATION_SUPERVISOR, Role.COUNTY_SUPERVISOR, Role.CITY_ADMIN)
STAFF = (Role.OFFICER, *SUPERVISORS)
supervisors_only = allow(*SUPERVISORS)
admin_only = allow(Role.CITY_ADMIN)
platform_only = allow(Role.PLATFORM)
staff_only = allow(*STAFF)

"""Wire types of the organisation: units, grids, people, and the report of a file import.

Inputs refuse unknown fields, so that a misspelt field is an error rather than a change
silently not made. Outputs follow msgspec's evolution rules: new fields are added at the
end, enum values are never renamed. No output carries a password hash.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from server.org.csv_import import LOGIN, MAX_NAME_LENGTH, PASSWORD_LENGTH
from server.store.records import Datum, GridKind, Level, Role

# Platform clients are provisioned with the platform, never by hand: the role is absent.
PersonRole = Literal["officer", "station_supervisor", "county_supervisor", "city_admin"]

Login = Annotated[
    str,
    Meta(
        pattern=f"^{LOGIN.pattern.pattern}$",
        description="Badge number or other login: " + LOGIN.rule,
    ),
]
Name = Annotated[str, Meta(min_length=1, max_length=MAX_NAME_LENGTH)]
Password = Annotated[str, Meta(min_length=PASSWORD_LENGTH[0], max_length=PASSWORD_LENGTH[1])]
UnitId = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=32,
        description="The unit's code; its level must suit the role",
    ),
]


class ImportKind(StrEnum):
    UNITS = "units"
    GRIDS = "grids"
    USERS = "users"


class UnitOut(msgspec.Struct, kw_only=True):
    id: str
    name: str
    level: Level
    parent_id: str | None
    city_id: str
    county_id: str | None
    station_id: str | None


class GridOut(msgspec.Struct, kw_only=True):
    code: str
    name: str
    kind: GridKind
    station_id: str
    county_id: str
    city_id: str
    officer_id: int | None
    lat: float | None = None  # the centroid as the grids sheet gave it, in `datum`
    lon: float | None = None
    datum: Datum = Datum.WGS84


class UserOut(msgspec.Struct, kw_only=True):
    id: int
    login: str
    name: str
    role: Role
    unit_id: str
    city_id: str
    county_id: str | None
    station_id: str | None
    active: bool
    has_password: Annotated[
        bool, Meta(description="False until an administrator sets one: the user cannot log in")
    ]
    created_at: datetime
    updated_at: datetime


class UserIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A person to add. `password`, if given, is an initial one: it only lets the person
    choose their own (POST /api/v1/auth/password). Left out, the person has none until an
    administrator issues one (POST /api/v1/users/{user_id}/initial-password)."""

    login: Login
    name: Name
    role: PersonRole
    unit_id: UnitId
    password: Password | None = None


class InitialPasswordOut(msgspec.Struct, kw_only=True):
    """Shown once, to hand to the person: it opens nothing but the change to their own."""

    user_id: int
    login: str
    initial_password: str


class UserPatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Fields to change; a field left out stays as it is.

    A new unit_id moves the person, with everything that follows from the unit.
    `active: false` ends every session of the person at once.
    """

    name: Name | UnsetType = UNSET
    role: PersonRole | UnsetType = UNSET
    unit_id: UnitId | UnsetType = UNSET
    active: bool | UnsetType = UNSET
    password: Password | UnsetType = UNSET


class ImportReport(msgspec.Struct, kw_only=True):
    kind: ImportKind
    rows: Annotated[int, Meta(description="Rows in the file, the header not counted")]
    created: int
    updated: int
    dry_run: Annotated[bool, Meta(description="True: checked and counted, nothing written")]
    without_password: Annotated[
        int,
        Meta(description="Users of the file who have no password yet and so cannot log in"),
    ] = 0

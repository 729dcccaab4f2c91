"""What the store hands back: plain, frozen records. API types live in each domain."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from enum import StrEnum
from typing import Any

import msgspec


class Level(StrEnum):
    CITY = "city"
    COUNTY = "county"
    STATION = "station"


# A unit as the audit log and the supervisors' streams name it: (level, unit id).
UnitKey = tuple[str, str]


class Role(StrEnum):
    OFFICER = "officer"
    STATION_SUPERVISOR = "station_supervisor"
    COUNTY_SUPERVISOR = "county_supervisor"
    CITY_ADMIN = "city_admin"
    PLATFORM = "platform"


# Which unit level each role must belong to.
ROLE_LEVEL: dict[Role, Level] = {
    Role.OFFICER: Level.STATION,
    Role.STATION_SUPERVISOR: Level.STATION,
    Role.COUNTY_SUPERVISOR: Level.COUNTY,
    Role.CITY_ADMIN: Level.CITY,
    Role.PLATFORM: Level.CITY,
}


class GridKind(StrEnum):
    VILLAGE = "village"
    COMMUNITY = "community"


# Phones report WGS-84, but sheets copy grid positions from Chinese map services, whose
# datums lie hundreds of metres off it.
class Datum(StrEnum):
    """A position's datum: WGS-84 (phones, GPS), GCJ-02 (Amap, Tencent) or BD-09 (Baidu)."""

    WGS84 = "wgs84"
    GCJ02 = "gcj02"
    BD09 = "bd09"


class Unit(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    name: str
    level: Level
    parent_id: str | None
    city_id: str
    county_id: str | None
    station_id: str | None


class Grid(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    name: str
    kind: GridKind
    station_id: str
    county_id: str
    city_id: str
    officer_id: int | None
    # The centroid as the sheet gave it, in its own datum; converted only when measured,
    # so what staff typed is what they read back.
    lat: float | None = None
    lon: float | None = None
    datum: Datum = Datum.WGS84


class User(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    login: str
    name: str
    role: Role
    unit_id: str
    city_id: str
    county_id: str | None
    station_id: str | None
    active: bool
    password_hash: str
    demo_password: bool
    created_at: datetime
    updated_at: datetime
    # Set by an administrator (or the CLI): good only to choose a password of one's own.
    must_change_password: bool = False


class Device(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    user_id: int
    device_id: str
    name: str
    first_seen: datetime
    last_seen: datetime
    revoked_at: datetime | None
    revoked_by: int | None


class AuthState(msgspec.Struct, frozen=True, kw_only=True):
    """What every authenticated request checks: is this user, device, session still good?"""

    session_id: str
    user: User
    device: Device
    session_revoked: bool
    # When and why the session ended, and when it first handed in what its phone held
    # after being cut off (sync/PROTOCOL.md, Being cut off).
    session_revoked_at: datetime | None = None
    session_revoke_reason: str | None = None
    handin_at: datetime | None = None

    @property
    def device_revoked(self) -> bool:
        return self.device.revoked_at is not None


class RefreshOutcome(StrEnum):
    ROTATED = "rotated"
    # The same token again, within the retry window, while its successor is unused: a
    # retry after a lost answer. The successor already stored is answered again.
    RETRIED = "retried"
    REUSED = "reused"
    REVOKED = "revoked"
    UNKNOWN = "unknown"
    EXPIRED = "expired"


class RefreshResult(msgspec.Struct, frozen=True, kw_only=True):
    """What spending a refresh token did. `expires_at` is the successor's expiry (ROTATED,
    RETRIED); session and user are known for every outcome but UNKNOWN."""

    outcome: RefreshOutcome
    session_id: str | None = None
    user_id: int | None = None
    expires_at: datetime | None = None


class WarningState(StrEnum):
    NEW = "new"
    DISPATCHED = "dispatched"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    UNREACHABLE = "unreachable"
    CANCELLED = "cancelled"


class Queue(StrEnum):
    """Where a warning waits: with an officer, or in a unit's queue for a person to route."""

    OFFICER = "officer"
    STATION = "station"
    COUNTY = "county"
    CITY = "city"


class NewWarning(msgspec.Struct, frozen=True, kw_only=True):
    """A routed warning ready to insert; the service has validated and routed it."""

    client_id: int
    platform_id: str
    payload_hash: str
    resident_name: str
    resident_phone: str
    resident_address: str
    resident_id_number: str | None
    grid_code: str
    county_code: str | None
    source: str
    fraud_type: str
    risk_level: str
    summary: str | None
    issued_at: datetime
    deadline_at: datetime
    state: WarningState
    city_id: str
    county_id: str | None
    station_id: str | None
    officer_id: int | None
    queue: Queue
    routing_reason: str | None


class WarningRecord(NewWarning, frozen=True, kw_only=True):
    """A stored warning: what was routed in, and what happened to it since."""

    id: int
    outcome: str | None
    cancel_reason: str | None
    dispatched_at: datetime | None
    first_contact_at: datetime | None = None
    version: int
    seq: int
    created_at: datetime
    updated_at: datetime


class PublicityStatus(StrEnum):
    PLANNED = "planned"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    CANCELLED = "cancelled"


class PublicityTask(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    title: str
    grid_code: str
    city_id: str
    county_id: str
    station_id: str
    venue_kind: str
    audience: str
    window_start: date
    window_end: date
    status: PublicityStatus
    officer_ids: list[int]
    notes: str | None
    created_by: int
    version: int
    seq: int
    created_at: datetime
    updated_at: datetime


class Actor(msgspec.Struct, frozen=True, kw_only=True):
    """Who made a change, for the audit log; user None means the system itself."""

    user_id: int | None
    device_id: str | None = None

    @classmethod
    def system(cls) -> Actor:
        return cls(user_id=None, device_id=None)


class AuditEntry(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    at: datetime
    actor_user_id: int | None
    actor_device_id: str | None
    action: str
    entity: str
    entity_id: str
    city_id: str | None
    county_id: str | None
    station_id: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    prev_hash: str
    hash: str


# One audit entry to append: (action, entity, entity_id, before, after, scope ids).
AuditItem = tuple[
    str, str, str, Mapping[str, Any] | None, Mapping[str, Any] | None, Mapping[str, str | None]
]
# The states in which a task is closed: it leaves the open lists, and its first move into
# one stamps closed_at.
WARNING_FINAL = ("completed", "unreachable", "cancelled")
PUBLICITY_FINAL = ("done", "cancelled")


class AuditVerdict(msgspec.Struct, frozen=True, kw_only=True):
    ok: bool
    checked: int
    first_bad_id: int | None = None
    reason: str | None = None
    # The last entry of an intact chain: kept outside the database, it is an anchor that
    # a later check can name, so that cutting entries off the end shows.
    head_id: int | None = None
    head_hash: str | None = None


class Jurisdiction(msgspec.Struct, frozen=True, kw_only=True):
    """The rows a principal may see: those whose `column` equals `value`.

    column is one of city_id, county_id, station_id, officer_id.
    """

    column: str
    value: str | int

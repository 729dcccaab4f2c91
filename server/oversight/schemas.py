from __future__ import annotations

from datetime import datetime

import msgspec


class OfficerDeviceOut(msgspec.Struct, kw_only=True):
    device_pk: int
    device_id: str
    name: str
    first_seen: datetime
    last_seen: datetime
    revoked_at: datetime | None


class OfficerOversight(msgspec.Struct, kw_only=True):
    """What tells a lazy officer from a broken phone: work waiting against signs of life.

    last_push_at: the newest mutation the officer's phones sent; rejected: mutations kept
    for review (`GET /api/v1/rejected-mutations`), with the newest one's code; pending
    uploads: photos their visit logs name that have not arrived (null before m004)."""

    officer_id: int
    login: str
    name: str
    station_id: str | None
    active: bool
    devices: list[OfficerDeviceOut]
    last_seen_at: datetime | None
    last_push_at: datetime | None
    open_warnings: int
    overdue_warnings: int
    rejected: int
    last_rejected_code: str | None
    last_rejected_at: datetime | None
    pending_uploads: int | None


class OversightPage(msgspec.Struct, kw_only=True):
    items: list[OfficerOversight]

"""Records of the sync part of the store: push context, pull rows, conflicts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec


class PushContext(msgspec.Struct, frozen=True, kw_only=True):
    """Who pushes, from which device, when, and how far its clock is off."""

    user_id: int
    device_pk: int
    device_id: str
    city_id: str
    county_id: str | None
    station_id: str | None
    received_at: str
    now_ms: int
    clock_offset_ms: int
    skew_flagged: bool
    # Set for a hand-in (PROTOCOL.md, Being cut off): when the device was revoked or its
    # user disabled, in ms. What the phone made before is flagged; what after, refused.
    revoked_at_ms: int | None = None


class PullItem(msgspec.Struct, kw_only=True):
    op: str
    kind: str
    id: int
    seq: int
    reason: str | None = None
    row: dict[str, Any] | None = None
    visits: list[dict[str, Any]] = []
    fields: dict[str, dict[str, Any]] = {}


class PullRows(msgspec.Struct, kw_only=True):
    items: list[PullItem]
    last_key: str
    last_seq: int
    head: int
    more: bool
    checksum: str | None


class ConflictRecord(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    rule: str
    task_kind: str
    task_id: int
    city_id: str | None
    county_id: str | None
    station_id: str | None
    officer_ids: list[int]
    entry_id: str | None
    # JSON objects of three shapes, by rule: a visit's claim on the outcome (sync.merge.
    # OutcomeClaim's fields), the task's state and assignees where no claim won, or a
    # field's value with the hlc, user and mutation that set it (concurrent_edit). They
    # go out on the wire as they were stored, so they stay objects, not records.
    winner: dict[str, Any] | None
    loser: dict[str, Any] | None
    created_at: datetime
    status: str
    resolved_at: datetime | None
    resolved_by: int | None
    resolution: str | None
    note: str | None


class RejectedMutation(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    user_id: int
    device_pk: int
    mutation_id: str
    code: str
    detail: str
    body: str
    received_at: datetime
    city_id: str | None
    county_id: str | None
    station_id: str | None

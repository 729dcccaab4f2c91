from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

import msgspec
from msgspec import Meta


class Decision(StrEnum):
    UPHOLD = "uphold"  # the written rule's result stands
    PREFER_OTHER = "prefer_other"  # the side the rule overrode is applied instead


class ConflictOut(msgspec.Struct, kw_only=True):
    id: int
    rule: str
    task_kind: str
    task_id: int
    station_id: str | None
    officer_ids: list[int]
    entry_id: str | None
    winner: Any
    loser: Any
    created_at: datetime
    status: str
    resolved_at: datetime | None
    resolved_by: int | None
    resolution: str | None
    note: str | None


class ConflictPage(msgspec.Struct, kw_only=True):
    items: list[ConflictOut]
    next_after_id: int | None


class ResolveIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    decision: Decision
    note: Annotated[str, Meta(max_length=2000)] | None = None


class RejectedMutationOut(msgspec.Struct, kw_only=True):
    id: int
    user_id: int
    device_pk: int
    mutation_id: str
    code: str
    detail: str
    body: Any
    received_at: datetime


class RejectedPage(msgspec.Struct, kw_only=True):
    items: list[RejectedMutationOut]
    next_after_id: int | None

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

import msgspec
from msgspec import Meta

from sync.protocol import Position


class Reason(StrEnum):
    """Why a visit needs a supervisor's eye."""

    NO_PHOTO = "no_photo"  # face to face claimed, no photo
    FAR_FROM_ADDRESS = "far_from_address"  # position far from the grid's centroid
    CLOCK_SKEW = "clock_skew"  # the phone's clock was far off
    # Its times fall before the task arrived or after the server received it, beyond the
    # clock tolerance: the reports count its contact at the server's receipt instead.
    IMPOSSIBLE_TIME = "impossible_time"
    VISIT_AFTER_REASSIGN = "visit_after_reassign"
    VISIT_AFTER_CANCEL = "visit_after_cancel"
    SYNC_CONFLICT = "sync_conflict"  # a sync conflict record names this entry
    RESUBMITTED = "resubmitted"  # it supersedes an entry a supervisor returned
    # Handed in by a phone as it was cut off (device revoked, user disabled): only the
    # phone says it was recorded before (sync/PROTOCOL.md, Being cut off).
    HANDED_IN_AT_REVOCATION = "handed_in_at_revocation"


class ReviewItem(msgspec.Struct, kw_only=True):
    entry_id: str
    task_kind: str
    task_id: int
    officer_id: int
    station_id: str | None
    seq: int
    recorded_at: datetime
    received_at: datetime
    contact: str | None
    outcome: str | None
    photos: int
    position: Position | None
    distance_m: float | None
    supersedes: str | None
    reasons: list[Reason]


class ReviewPage(msgspec.Struct, kw_only=True):
    items: list[ReviewItem]
    next_after: int | None


class ApproveIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    note: Annotated[str, Meta(max_length=2000)] | None = None


class ReturnIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reason: Annotated[str, Meta(min_length=1, max_length=2000)]


class ReviewOut(msgspec.Struct, kw_only=True):
    entry_id: str
    task_kind: str
    task_id: int
    decision: str
    note: str | None
    reviewed_at: datetime

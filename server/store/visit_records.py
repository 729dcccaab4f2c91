"""Records of the visit log as the store hands it back: entries, with their review where
the reader joins it, and the review queue's candidates."""

from __future__ import annotations

from datetime import datetime

import msgspec

from server.store.records import Datum


class MaterialRecord(msgspec.Struct, frozen=True, kw_only=True):
    kind: str
    count: int


class VisitRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One visit log entry: evidence, never changed, only superseded. A publicity task's
    entries report what was held (held_at, attendance, materials); the review fields are
    filled where the reader asked for them (a publicity task's sessions, get_visit)."""

    entry_id: str
    task_kind: str
    task_id: int
    officer_id: int
    device_pk: int
    mutation_id: str
    supersedes: str | None
    recorded_at: datetime
    received_at: datetime
    arrived_at: datetime | None
    contact: str | None
    outcome: str | None
    amount_prevented: int | None
    notes: str | None
    lat: float | None
    lon: float | None
    accuracy_m: float | None
    photos: list[str]
    flags: list[str]
    completed: bool
    hlc: str
    device_clock_offset_ms: int
    seq: int
    city_id: str | None
    county_id: str | None
    station_id: str | None
    held_at: datetime | None = None
    attendance: int | None = None
    materials: list[MaterialRecord] = []
    review_decision: str | None = None
    review_note: str | None = None
    review_at: datetime | None = None


class ReviewCandidate(VisitRecord, frozen=True, kw_only=True):
    """An entry neither superseded nor reviewed, with what deciding its reasons needs: its
    task's grid centroid in the datum the sheet gave (None without one), how many
    conflicts name it, and the decision on the entry it supersedes."""

    grid_lat: float | None
    grid_lon: float | None
    grid_datum: Datum | None
    conflicts: int
    supersedes_review: str | None
